"""The self-contained report.html of an export: a working copy for reading, never evidence itself.

No script, no external resource: a Content-Security-Policy allows only its own hashed style sheet
and data: images. Every scraped string is escaped; identifiers become keyed-hash pseudonyms, the
same person's number giving the same pseudonym throughout a case; links to the sites are shown as
text, never made clickable.
"""
from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter
from datetime import date, timedelta
from html import escape
from pathlib import Path

from nigran.storage.utc import parse_utc

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_SCREENSHOT = 4 * 1024 * 1024
MAX_TEXT = 4000
COLOURS = {"cnic": "#b2182b", "sim": "#2166ac", "call_logs": "#1b7837", "travel": "#762a83"}
OTHER_COLOUR = "#777777"
_UNSAFE_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2rem}
dl.meta{display:grid;grid-template-columns:12rem 1fr;gap:.2rem 1rem}dt{font-weight:600}dd{margin:0}
article.offer{border:1px solid #ccc;border-radius:6px;padding:.8rem 1rem;margin:1rem 0;break-inside:avoid}
article.offer h3{margin:.1rem 0 .6rem;font-size:1.05rem}
blockquote{white-space:pre-wrap;background:#f6f6f6;margin:.6rem 0;padding:.6rem;border-left:3px solid #bbb;
overflow-wrap:anywhere}
code{overflow-wrap:anywhere;font-size:.9em}.pseudonym{background:#fff3c4;padding:0 .2rem;border-radius:3px}
figure{margin:.6rem 0}figure img{max-width:100%;border:1px solid #ccc}
.legend span{display:inline-block;margin-right:1rem}.swatch{margin-right:.3rem;vertical-align:middle}pre{background:#f6f6f6;padding:.8rem;overflow-x:auto}
"""


def clean(text: object) -> str:
    """Escaped for HTML, with control and bidirectional-override characters dropped."""
    return escape(_UNSAFE_CHARS.sub("", str(text)), quote=True)


def _field(name: str, value_html: str) -> str:
    return f"<dt>{clean(name)}</dt><dd>{value_html or '-'}</dd>"


def offer_card(offer: dict, text: str, title: str | None, author: str | None, screenshot: bytes | None) -> str:
    """One offer as an <article>; `offer` is the export's offers.jsonl object, `text` already redacted."""
    prices = ", ".join(f"{p['amount']:g} {p['currency']}" for p in offer["prices"])
    contacts = ", ".join(f"{c['type']}: {c['value']}" for c in offer["contacts"])
    idents = " ".join(f"<span class=\"pseudonym\">{clean(i['pseudonym'])}</span>" for i in offer["identifiers"])
    rows = "".join([
        _field("Source", clean(offer["source"])), _field("Kind", clean(offer["kind"])),
        _field("Categories", clean(", ".join(offer["categories"]))),
        _field("First seen (UTC)", clean(offer["first_seen"])), _field("Last seen (UTC)", clean(offer["last_seen"])),
        _field("Sightings", clean(offer["sightings"])), _field("Price", clean(prices)),
        _field("Volume", clean(offer["volume"] if offer["volume"] is not None else "")),
        _field("Contacts", clean(contacts)), _field("Identifiers", idents),
        _field("Author", clean(author or "")),
        _field("Permalink (not a link: open it only through the proper route)", f"<code>{clean(offer['url'])}</code>"),
        _field("Capture SHA-256", f"<code>{clean(offer['capture_sha256'])}</code>"),
        _field("Captures", clean(", ".join(map(str, offer["capture_ids"])))),
    ])
    heading = f"Offer {clean(offer['id'])}" + (f" · {clean(title)}" if title else "")
    shot = ""
    if screenshot and screenshot.startswith(PNG_MAGIC) and len(screenshot) <= MAX_SCREENSHOT:
        shot = (f"<figure><img alt=\"Screenshot of the page\" src=\"data:image/png;base64,"
                f"{base64.b64encode(screenshot).decode()}\"><figcaption>Screenshot taken at capture</figcaption></figure>")
    body = text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + " …"
    return (f"<article class=\"offer\" id=\"offer-{clean(offer['id'])}\"><h3>{heading}</h3>"
            f"<dl class=\"meta\">{rows}</dl><blockquote dir=\"auto\">{clean(body)}</blockquote>{shot}</article>\n")


def timeline_svg(per_day: Counter) -> str:
    """Offers per day (by first sighting), stacked by category, as inline SVG."""
    if not per_day:
        return "<p>No offers in this selection.</p>"
    days = sorted({d for d, _ in per_day})
    first, last = days[0], days[-1]
    span = (last - first).days + 1
    totals = Counter()
    for (d, _), n in per_day.items():
        totals[d] += n
    top = max(totals.values())
    width, height, left, bottom = 720, 220, 40, 30
    bar = (width - left) / span
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + bottom}" '
             f'role="img" aria-label="Offers per day by category">',
             f'<text x="0" y="12" font-size="11">{top}</text>'
             f'<line x1="{left}" y1="{height}" x2="{width}" y2="{height}" stroke="#999"/>']
    categories = sorted({c for _, c in per_day})
    for i in range(span):
        day = first + timedelta(days=i)
        y = height
        for cat in categories:
            n = per_day.get((day, cat), 0)
            if n:
                h = n / top * (height - 20)
                y -= h
                parts.append(f'<rect x="{left + i * bar:.2f}" y="{y:.2f}" width="{max(bar - 1, 1):.2f}" '
                             f'height="{h:.2f}" fill="{COLOURS.get(cat, OTHER_COLOUR)}">'
                             f'<title>{clean(day.isoformat())} {clean(cat)}: {n}</title></rect>')
    parts.append(f'<text x="{left}" y="{height + 18}" font-size="11">{clean(first.isoformat())}</text>'
                 f'<text x="{width}" y="{height + 18}" font-size="11" text-anchor="end">'
                 f'{clean(last.isoformat())}</text></svg>')
    legend = "".join(f'<span><svg class="swatch" width="12" height="12"><rect width="12" height="12" '
                     f'fill="{COLOURS.get(c, OTHER_COLOUR)}"/></svg>{clean(c)}</span>' for c in categories)
    return "".join(parts) + f'<p class="legend">{legend}</p>'


def day_of(iso: str) -> date:
    return parse_utc(iso).date()


def write_report(out: Path, cards_file: Path, *, case: str, selection: dict, created: str, operator: str,
                 profile: str, key_id: str, public_key: str, offers: int, captures: int, per_day: Counter) -> None:
    """Assemble report.html from the summary and the cards already written to `cards_file`."""
    style_hash = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    csp = (f"default-src 'none'; img-src data:; style-src 'sha256-{style_hash}'; "
           "base-uri 'none'; form-action 'none'")
    chosen = "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
                       for k, v in selection.items() if v) or "everything"
    meta = "".join([_field("Case", clean(case)), _field("Selection", clean(chosen)), _field("Profile", clean(profile)),
                    _field("Exported (UTC)", clean(created)), _field("Exported by", clean(operator)),
                    _field("Offers", clean(offers)), _field("Captures", clean(captures)),
                    _field("Signing key", f"<code>{clean(key_id)}</code> (<code>{clean(public_key)}</code>)")])
    verify = clean(
        "nigran verify BUNDLE --key signer.pub          # everything, offline\n"
        "minisign -Vm SHA256SUMS -p keys/signer.pub      # stock tools: signature over the checksums\n"
        "sha256sum -c SHA256SUMS                         # every file\n"
        "minisign -Vm manifest.json -p keys/signer.pub   # the manifest\n"
        "openssl ts -verify -data manifest.json -in timestamps/tsa-1.tsr \\\n"
        "    -CAfile TSA-ROOT.pem -untrusted timestamps/tsa-1.chain.pem")
    with open(out, "x", encoding="utf-8") as fh:
        fh.write(f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
                 f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
                 f'<meta name="referrer" content="no-referrer">'
                 f'<title>nigran evidence report: {clean(case)}</title><style>{STYLE}</style></head><body>'
                 f'<header><h1>Evidence report: {clean(case)}</h1><dl class="meta">{meta}</dl>'
                 f'<p>Identifiers are shown as pseudonyms (keyed hashes): the same identifier has the same '
                 f'pseudonym throughout this case. This report is a derived working copy; the evidence is the '
                 f'WARC records in <code>captures.wacz</code> and their hashes in <code>manifest.json</code>.</p>'
                 f'</header><section id="timeline"><h2>Offers per day, by category</h2>{timeline_svg(per_day)}'
                 f'</section><section id="offers"><h2>Offers</h2>\n')
        with open(cards_file, encoding="utf-8") as cards:
            for chunk in iter(lambda: cards.read(1 << 20), ""):
                fh.write(chunk)
        fh.write(f'</section><section id="verify"><h2>How to verify this bundle</h2><pre>{verify}</pre>'
                 f'</section></body></html>\n')
