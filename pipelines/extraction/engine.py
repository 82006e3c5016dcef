"""The extraction engine: one post's text in, an ``Extraction`` out.

Normalise; find lexicon cues, identifiers and contacts; when the post names
personal data, also prices (never read from the digits of an identifier or
contact), data rows and bulk claims, and decide; report the
volume of deals.  Spans are mapped back to the text the caller gave.
"""
from __future__ import annotations

import bisect
import re
from collections import Counter

from . import identifiers as ids
from .classify import NOT_A_DEAL, Evidence, decide, has_data, names_third_parties
from .contacts import find_contacts
from .cues import find_cues, word_set
from .lexicon import BULK_WORDS
from .model import Cue, Extraction, Found, Price
from .normalize import Normalized, normalize
from .prices import find_prices
from .volume import find_volume

_JUNK = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
_JUNK_SAMPLE, _JUNK_SHARE = 4096, 0.1
_ROW_DELIMS = ("|", ";", "\t", ",")
_SPACED_COLUMNS = re.compile(r"[^ ] {2,}(?=[^ ])")
_NEWLINE = re.compile("\n")
_ROW_REACH = 2000           # a data row is judged by its first 2000 characters
_EMPTY = Extraction()
_BULK_VOLUME = 1000
# Where a dump or a bulk claim (1000+ records) changes the reading of a post.
_BULK_KINDS = frozenset(("mention:cnic", "mention:sim", "lookup:owner", "data:other", "category:sim", "category:cnic",
                         "category:call_logs", "category:travel"))
_BULK_WORDS = word_set(BULK_WORDS)
_UNSET = object()


def _as_text(text) -> str:
    if isinstance(text, (bytes, bytearray)):
        return bytes(text).decode("utf-8", "replace")
    return text if isinstance(text, str) else ""


def _is_junk(text: str) -> bool:
    """Empty, or binary: control or replacement characters make up over a tenth of the start."""
    sample = text[:_JUNK_SAMPLE]
    if not sample.strip():
        return True
    return _JUNK.search(sample) is not None and len(_JUNK.findall(sample)) > _JUNK_SHARE * len(sample)


def _row_count(text: str, positions: list[int]) -> int:
    """Distinct lines holding identifiers that look like delimited data rows."""
    if not positions:
        return 0
    newlines = [m.start() for m in _NEWLINE.finditer(text)]
    verdict: dict[int, bool] = {}
    for pos in positions:
        i = bisect.bisect(newlines, pos)
        if i not in verdict:
            start = newlines[i - 1] + 1 if i else 0
            end = newlines[i] if i < len(newlines) else len(text)
            line = text[start:min(end, start + _ROW_REACH)]
            verdict[i] = any(line.count(d) >= 2 for d in _ROW_DELIMS) or len(_SPACED_COLUMNS.findall(line)) >= 2
    return sum(verdict.values())


def _found(norm: Normalized, kind: str, value: str, start: int, end: int) -> Found:
    return Found(kind, value, *norm.span(start, end))


def _cue(norm: Normalized, text: str, kind: str, start: int, end: int) -> Cue:
    s, e = norm.span(start, end)
    return Cue(kind, text[s:e], s, e)


def find_identifiers(text: str) -> list[Found]:
    """Every sighting of a valid identifier in ``text`` (same validation as ``extract``), in text order:
    what masking must cover."""
    text = _as_text(text)
    if _is_junk(text):
        return []
    norm = normalize(text)
    return [_found(norm, i.type, i.value, i.start, i.end) for i in ids.find_all(norm.text)]


def extract(text: str, *, explain: bool = False) -> Extraction:
    """Classify a post and pull out identifiers, prices, contacts and volume (see LABELS.md)."""
    text = _as_text(text)
    if _is_junk(text):
        return _EMPTY
    norm = normalize(text)
    t = norm.text
    found = find_cues(t, keep_hits=explain)
    weights = found.weights
    scanned = ids.scan(t)
    idents = scanned.identifiers
    contacts = find_contacts(t, [i for i in idents if i.type == "pk_mobile"], strict=names_third_parties(weights))
    vocab = frozenset(found.words)
    volume = find_volume(t, vocab) if not _BULK_KINDS.isdisjoint(weights) else _UNSET
    bulk = volume is not _UNSET and (volume is not None and volume[0] >= _BULK_VOLUME
                                     or not _BULK_WORDS.isdisjoint(vocab))
    masked = scanned.masked
    if has_data(weights, bulk) or len(idents) >= 2 or masked:
        prices = find_prices(t, vocab, [(i.start, i.end) for i in scanned.every] + [m[1:] for m in masked]
                             + [(c.start, c.end) for c in contacts])
        evidence = Evidence(
            weights=weights, contacts=len(contacts), prices=len(prices), masked=len(masked),
            id_rows=_row_count(t, [i.start for i in idents] + [m[1] for m in masked]),
            id_counts=Counter(i.type for i in idents), bulk=bulk,
            bulk_cnic=bulk and "category:cnic" not in weights and ids.mentions_cnic(t))
        decision = decide(evidence)
    else:
        prices, decision = [], NOT_A_DEAL
    deal = decision.kind != "other"
    volume = (find_volume(t, vocab) if volume is _UNSET else volume) if deal else None
    cues: tuple[Cue, ...] = ()
    if explain:
        spans = (found.spans() + masked
                 + [("price", p.start, p.end) for p in prices] + [("contact", c.start, c.end) for c in contacts]
                 + ([("volume", volume[1], volume[2])] if volume else []))
        cues = tuple(_cue(norm, text, k, s, e) for k, s, e in sorted(spans, key=lambda x: (x[1], x[2])))
        cues += (Cue("decision", decision.summary(), 0, 0),)
    return Extraction(
        kind=decision.kind,
        categories=decision.categories,
        identifiers=tuple(_found(norm, i.type, i.value, i.start, i.end) for i in idents),
        prices=tuple(Price(p.amount, p.currency) for p in prices) if deal else (),
        contacts=tuple(_found(norm, c.type, c.value, c.start, c.end) for c in contacts),
        volume=volume[0] if volume else None,
        cues=cues,
    )
