"""Evidence bundles: the selected offers' captures as WACZ, capture.json per capture, offers.jsonl/csv,
custody events with inclusion proofs, report.html, SHA256SUMS, and a signed (and optionally
time-stamped) manifest.json.

The bundle is assembled in a staging folder beside the output and streamed from disk into the
zip; records and bodies are copied in chunks, so memory grows with the number of captures (ids,
index lines), never with their size.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import tempfile
import uuid
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from nigran.storage import queries
from nigran.storage.bodies import BodyStore
from nigran.storage.db import Database
from nigran.storage.evidence import custody, keys, minisign, timestamp
from nigran.storage.evidence.provenance import host, tool_info
from nigran.storage.evidence.report import day_of, offer_card, write_report
from nigran.storage.evidence.wacz import WaczBuilder, page_title
from nigran.storage.evidence.warc import read_record
from nigran.storage.evidence.warcstore import scan_records
from nigran.storage.installation import claim
from nigran.storage.models import Capture, CaptureArtifact, Offer, Post
from nigran.storage.privacy import Finder, Pseudonyms
from nigran.storage.utc import utc_text

PROFILES = ("full", "redacted")
CHUNK = 500
STORED_SUFFIXES = (".wacz", ".gz", ".png")
SEALS = ("manifest.json", "manifest.json.minisig", "SHA256SUMS.minisig")
TELEGRAM_HOSTS = {"t.me", "telegram.me"}
_CSV_FORMULA = re.compile(r"^[=+\-@\t\r]")


class ExportError(Exception):
    """The export cannot be made (damaged evidence, nothing selected, a required time-stamp not taken)."""


class OutputError(ExportError):
    """The output path is unusable: it exists, or its folder does not (a usage error)."""


@dataclass(frozen=True)
class Selection:
    since: datetime | None = None
    until: datetime | None = None
    sources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    offer_ids: tuple[int, ...] = ()

    def as_dict(self) -> dict:
        return {"since": self.since and utc_text(self.since), "until": self.until and utc_text(self.until),
                "sources": list(self.sources), "categories": list(self.categories), "offers": list(self.offer_ids)}


@dataclass
class ExportResult:
    path: Path
    bundle_id: str
    manifest_sha256: str
    offers: int
    captures: int
    key_id: str
    timestamps: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def role_of(path: str) -> str:
    """evidentiary (raw captures), derived (made from them), custody, or metadata."""
    if path == "captures.wacz" or path.endswith("/body.bin"):
        return "evidentiary"
    if path in ("offers.jsonl", "offers.csv", "report.html"):
        return "derived"
    if path.startswith("custody/"):
        return "custody"
    return "metadata"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _csv_cell(value: object) -> str:
    """A spreadsheet-safe cell: scraped text starting like a formula is quoted with an apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if _CSV_FORMULA.match(text) else text


def _one_line(text: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f]", " ", text)


def _warc_fields(payload: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in payload.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            fields.setdefault(name.strip(), value.strip())
    return fields


def _selected_offers(session, sel: Selection):
    stmt = (select(Offer).options(selectinload(Offer.identifiers),
                                  selectinload(Offer.post).selectinload(Post.latest_capture))
            .order_by(Offer.first_seen, Offer.id).execution_options(yield_per=CHUNK))
    if sel.since:
        stmt = stmt.where(Offer.last_seen >= sel.since)
    if sel.until:
        stmt = stmt.where(Offer.first_seen <= sel.until)
    if sel.sources:
        stmt = stmt.where(Offer.source.in_(sel.sources))
    if sel.offer_ids:
        stmt = stmt.where(Offer.id.in_(sel.offer_ids))
    chunk = []
    for offer in session.scalars(stmt):
        if not sel.categories or set(sel.categories) & set(offer.categories):
            chunk.append(offer)
            if len(chunk) == CHUNK:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


class _Bundle:
    """One export in progress: the staging folder and what has been written into it."""

    def __init__(self, db: Database, home: Path, staging: Path, *, case: str, profile: str, operator: str,
                 selection: Selection, find: Finder):
        self.db, self.home, self.dir = db, home, staging
        self.case, self.profile, self.operator, self.selection = case, profile, operator, selection
        self.bodies = BodyStore(home / "bodies")
        self.warc_root = home / "warc"
        self.pseudonyms = Pseudonyms(case)
        self.find = find
        self.capture_ids: set[int] = set()
        self.per_day: Counter = Counter()
        self.offers = 0
        self.manifest_captures: list[dict] = []
        self.events: list[tuple[int, str]] = []
        self.warcinfo: dict[str, dict[str, str]] = {}
        self.work = staging / ".work"
        self.work.mkdir()

    def path(self, rel: str) -> Path:
        target = self.dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    # --- offers ---------------------------------------------------------------------------------

    def write_offers(self, session) -> None:
        cards = open(self.work / "cards.html", "x", encoding="utf-8")
        with open(self.path("offers.jsonl"), "x", encoding="utf-8") as jsonl, \
                open(self.path("offers.csv"), "x", encoding="utf-8", newline="") as csv_fh, cards:
            table = csv.writer(csv_fh)
            table.writerow(["id", "source", "kind", "categories", "first_seen", "last_seen", "sightings", "prices",
                            "contacts", "identifiers", "volume", "url", "post_key", "capture_sha256", "capture_ids"])
            for chunk in _selected_offers(session, self.selection):
                shots = self._screenshots(session, [o.post.latest_capture_id for o in chunk])
                for offer in chunk:
                    row = self._offer_row(offer)
                    jsonl.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
                    table.writerow([_csv_cell(v) for v in (
                        row["id"], row["source"], row["kind"], " ".join(row["categories"]), row["first_seen"],
                        row["last_seen"], row["sightings"],
                        " ".join(f"{p['amount']:g} {p['currency']}" for p in row["prices"]),
                        " ".join(f"{c['type']}:{c['value']}" for c in row["contacts"]),
                        " ".join(i["pseudonym"] for i in row["identifiers"]), row["volume"], row["url"],
                        row["post_key"], row["capture_sha256"], " ".join(map(str, row["capture_ids"])))])
                    post = offer.post
                    shot = shots.get(post.latest_capture_id)
                    cards.write(offer_card(row, self.pseudonyms.redact(post.text, self.find), post.title, post.author,
                                           self.bodies.get(shot) if shot else None))
                    for cat in row["categories"] or ["uncategorised"]:
                        self.per_day[(day_of(row["first_seen"]), cat)] += 1
                    self.offers += 1

    def _offer_row(self, offer: Offer) -> dict:
        row = queries.offer_dict(offer)
        row["identifiers"] = [{"type": i.type, "masked": i.masked, "pseudonym": self.pseudonyms.of(i.type, i.hmac)}
                              for i in offer.identifiers]
        row["capture_ids"] = sorted({offer.post.first_capture_id, offer.post.latest_capture_id})
        self.capture_ids.update(row["capture_ids"])
        return row

    def _screenshots(self, session, capture_ids: list[int]) -> dict[int, str]:
        """The latest screenshot of the page behind each capture (the page itself, or the page a rendered
        DOM was taken of), by body sha256; the page and its artefacts join the bundle."""
        pages = {c: c for c in capture_ids}
        for artifact in session.scalars(select(CaptureArtifact).where(CaptureArtifact.capture_id.in_(capture_ids))):
            if artifact.page_capture_id is not None:
                pages[artifact.capture_id] = artifact.page_capture_id
        self.capture_ids.update(pages.values())
        shots: dict[int, str] = {}
        rows = session.execute(select(CaptureArtifact, Capture.body_sha256).join(
            Capture, Capture.id == CaptureArtifact.capture_id)
            .where(CaptureArtifact.page_capture_id.in_(set(pages.values()))).order_by(CaptureArtifact.capture_id))
        for artifact, sha in rows:
            self.capture_ids.add(artifact.capture_id)
            if artifact.role == "screenshot":
                shots[artifact.page_capture_id] = sha
        return {c: shots[p] for c, p in pages.items() if p in shots}

    # --- captures -------------------------------------------------------------------------------

    def write_captures(self, session) -> None:
        ids = sorted(self.capture_ids)
        wacz = WaczBuilder(self.work) if self.profile == "full" else None
        with open(self.path("custody/events.jsonl"), "x", encoding="utf-8") as events_fh:
            for i in range(0, len(ids), CHUNK):
                chunk = ids[i:i + CHUNK]
                captures = session.scalars(select(Capture).where(Capture.id.in_(chunk)).order_by(Capture.id)).all()
                events = {e["capture_id"]: e for e in custody.events_of_captures(session, chunk)}
                keys_of = self._post_keys(session, chunk)
                artefacts = {a.capture_id: a for a in session.scalars(
                    select(CaptureArtifact).where(or_(CaptureArtifact.capture_id.in_(chunk),
                                                      CaptureArtifact.page_capture_id.in_(chunk))))}
                for capture in captures:
                    event = events.get(capture.id)
                    if event is not None:
                        events_fh.write(json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n")
                        self.events.append((event["seq"], event["hash"]))
                    warc = self._copy_records(capture, wacz)
                    info = self._capture_json(capture, event, warc, keys_of.get(capture.id, []), artefacts)
                    rel = f"captures/{capture.id}/capture.json"
                    self.path(rel).write_text(json.dumps(info, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
                    self.manifest_captures.append({
                        "capture_id": capture.id, "url": capture.url, "body_sha256": capture.body_sha256,
                        "warc_record_id": capture.warc_record_id, "custody_seq": event and event["seq"]})
        if wacz is not None:
            tool = tool_info()
            wacz.finish(self.dir / "captures.wacz", title=self.case, software=f"nigran {tool['version']}",
                        created=datetime.now(timezone.utc))

    @staticmethod
    def _post_keys(session, chunk: list[int]) -> dict[int, list[str]]:
        out: dict[int, set[str]] = {}
        rows = session.execute(select(Post.post_key, Post.latest_capture_id, Post.first_capture_id).where(
            or_(Post.latest_capture_id.in_(chunk), Post.first_capture_id.in_(chunk))))
        for key, latest, first in rows:
            for cid in {latest, first}:
                out.setdefault(cid, set()).add(key)
        return {cid: sorted(keys_) for cid, keys_ in out.items()}

    def _copy_records(self, capture: Capture, wacz: WaczBuilder | None) -> dict:
        """Copy the capture's records into the WACZ (full profile); return its WARC facts."""
        if not capture.warc_file:
            if wacz is not None:
                target = self.path(f"captures/{capture.id}/body.bin")
                shutil.copyfile(self.bodies.path(capture.body_sha256), target)
                if sha256_file(target) != capture.body_sha256:
                    raise ExportError(f"capture {capture.id}: stored body no longer matches its sha256")
            return {}
        path = self.warc_root / capture.warc_file
        try:
            if capture.warc_file not in self.warcinfo:
                self.warcinfo[capture.warc_file] = _warc_fields(read_record(path, 0)[1])
                if wacz is not None:
                    wacz.add(path, scan_records(path, 0, 1))
            records = scan_records(path, capture.warc_offset, 2)
        except (OSError, ValueError) as exc:
            raise ExportError(f"capture {capture.id}: cannot read {capture.warc_file}: {exc}") from None
        head = records[0].headers if records else {}
        if head.get("WARC-Record-ID") != capture.warc_record_id or \
                head.get("WARC-Payload-Digest") != f"sha256:{capture.body_sha256}":
            raise ExportError(f"capture {capture.id}: its WARC record in {capture.warc_file} does not match "
                              "(run `nigran verify --db`)")
        if len(records) > 1 and records[1].headers.get("WARC-Concurrent-To") != capture.warc_record_id:
            records = records[:1]
        if wacz is not None:
            mime = next((v for k, v in capture.headers if k.lower() == "content-type"), "")
            wacz.add(path, records, mime=mime, status=capture.status if capture.kind == "http" else None)
            if capture.kind == "http" and capture.status == 200 and "html" in mime:
                coding = next((v for k, v in capture.headers if k.lower() == "content-encoding"), "")
                wacz.add_page(capture.url, capture.fetched_at, capture.warc_record_id,
                              page_title(self.bodies.path(capture.body_sha256), coding))
        return {"file": capture.warc_file, "record_id": capture.warc_record_id,
                "request_record_id": records[1].headers["WARC-Record-ID"] if len(records) > 1 else None,
                "block_digest": head.get("WARC-Block-Digest"), "payload_digest": head.get("WARC-Payload-Digest"),
                "record_type": head.get("WARC-Type")}

    def _capture_json(self, capture: Capture, event: dict | None, warc: dict, post_keys: list[str],
                      artefacts: dict[int, CaptureArtifact]) -> dict:
        details = event["details"] if event else {}
        info = self.warcinfo.get(capture.warc_file or "", {})
        hostname = (urlsplit(capture.url).hostname or "").lower()
        out = {
            "capture_id": capture.id, "kind": capture.kind, "source": capture.source, "url": capture.url,
            "final_url": capture.final_url, "method": capture.method, "status": capture.status,
            "onion_address": hostname if hostname.endswith(".onion") else None,
            "started_utc": details.get("started_at"), "fetched_utc": utc_text(capture.fetched_at),
            "collector": event["operator"] if event else None, "collector_host": info.get("host"),
            "route": {"transport": capture.transport, "circuit_id": capture.circuit_id,
                      "exit_fingerprint": capture.exit_fingerprint, "note": info.get("route")},
            "tools": {k: info[k] for k in ("software", "git-commit", "python", "scrapy", "warcio", "httpx2",
                                           "platform") if k in info},
            "fidelity": info.get("fidelity"), "warc": warc or None,
            "body": {"sha256": capture.body_sha256, "bytes": capture.body_size,
                     "file": f"captures/{capture.id}/body.bin" if not warc and self.profile == "full" else None},
            "post_keys": post_keys, "custody_seq": event and event["seq"],
            "artefacts": sorted(({"capture_id": a.capture_id, "role": a.role} for a in artefacts.values()
                                 if a.page_capture_id == capture.id), key=lambda a: a["capture_id"]),
            "page_capture_id": artefacts[capture.id].page_capture_id if capture.id in artefacts else None,
        }
        if hostname in TELEGRAM_HOSTS:
            out["telegram"] = {"channel": urlsplit(capture.url).path.strip("/").split("/")[-1] or None,
                               "messages": post_keys}
        return out

    # --- custody --------------------------------------------------------------------------------

    def write_custody(self, checkpoint) -> dict:
        with self.db.session() as session:
            tree = custody.tree(session, checkpoint.tree_size)
        with open(self.path("custody/proofs.jsonl"), "x", encoding="utf-8") as fh:
            for seq, digest in sorted(self.events):
                proof = tree.inclusion_proof(seq - 1)
                fh.write(json.dumps({"seq": seq, "hash": digest, "leaf_index": seq - 1,
                                     "tree_size": checkpoint.tree_size, "proof": [p.hex() for p in proof]}) + "\n")
        head = {"tree_size": checkpoint.tree_size, "root": checkpoint.root, "head_hash": checkpoint.head_hash,
                "at": utc_text(checkpoint.at)}
        self.path("custody/checkpoint.json").write_text(json.dumps(
            {**head, "public_key": checkpoint.public_key, "signature": checkpoint.signature}, indent=2) + "\n")
        return head


def _readme(case: str, key: minisign.PublicKey, bundle_id: str) -> str:
    return f"""nigran evidence bundle {bundle_id}
Case: {_one_line(case)}
Signing key id: {minisign.fingerprint(key)}
Signing public key: {key.base64}
(compare the full public key with the one you were given separately)

Verify everything, offline:
    nigran verify THIS-BUNDLE --key signer.pub

With stock tools only:
    minisign -Vm SHA256SUMS -p keys/signer.pub
    sha256sum -c SHA256SUMS
    minisign -Vm manifest.json -p keys/signer.pub
    minisign -Vm timestamps/timestamps.json -p keys/signer.pub   (lists the tokens taken)
    openssl ts -verify -data manifest.json -in timestamps/tsa-1.tsr \\
        -CAfile YOUR-TRUSTED-TSA-ROOT.pem -untrusted timestamps/tsa-1.chain.pem

captures.wacz holds the raw WARC records exactly as written at capture time (open it in
ReplayWeb.page or pywb); captures/*/capture.json describe each capture; report.html is a
redacted working copy; custody/ holds the custody events of these captures, their inclusion
proofs and the signed checkpoint they are proved against.
"""


def _file_entries(root: Path) -> list[dict]:
    entries = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel in SEALS or rel.startswith("timestamps/"):
            continue
        entries.append({"path": rel, "sha256": sha256_file(path), "bytes": path.stat().st_size, "role": role_of(rel),
                        "present": True})
    return entries


def _timestamps(staging: Path, manifest: bytes, urls: list[str], secret: minisign.SecretKey,
                result: ExportResult) -> None:
    """Ask each TSA for a token over manifest.json, then seal the list of what was taken.

    A token is taken over the manifest's bytes, so the manifest cannot list it. Instead the manifest
    names the TSAs asked (`timestamps.requested`), and timestamps/timestamps.json, written after the
    tokens are in and signed with the bundle key like the manifest, binds itself to the manifest by its
    SHA-256 and lists every token taken, every TSA that failed, and each file under timestamps/ with
    its size and SHA-256: a token removed, added or altered breaks the list or its signature.
    """
    if not urls:
        return
    folder = staging / "timestamps"
    folder.mkdir()
    tokens, failed = _take_tokens(folder, manifest, urls, result)
    files = [{"path": f"timestamps/{p.name}", "sha256": sha256_file(p), "bytes": p.stat().st_size}
             for p in sorted(folder.iterdir())]
    listing = custody.canonical_json({"manifest_sha256": hashlib.sha256(manifest).hexdigest(), "tokens": tokens,
                                      "failed": failed, "files": files})
    (folder / "timestamps.json").write_bytes(listing)
    (folder / "timestamps.json.minisig").write_text(minisign.sign(listing, secret, "nigran bundle timestamps"))


def _take_tokens(folder: Path, manifest: bytes, urls: list[str], result: ExportResult) -> tuple[list, list]:
    """A token over the manifest from each TSA, written into `folder`: (tokens taken, TSAs that failed)."""
    try:
        roots = timestamp.load_roots()
    except timestamp.TimestampError as exc:
        result.warnings.append(str(exc))
        return [], [{"tsa": url, "error": str(exc)} for url in urls]
    tokens, failed = [], []
    for n, url in enumerate(urls, 1):
        try:
            reply, at = timestamp.request(url, manifest, roots)
        except timestamp.TimestampError as exc:
            result.warnings.append(f"timestamp not taken: {exc}")
            failed.append({"tsa": url, "error": str(exc)})
            continue
        (folder / f"tsa-{n}.tsr").write_bytes(reply)
        (folder / f"tsa-{n}.chain.pem").write_bytes(timestamp.pem(timestamp.embedded_certificates(reply)))
        (folder / "roots.pem").write_bytes(timestamp.pem(roots))
        tokens.append({"tsa": url, "token": f"timestamps/tsa-{n}.tsr", "chain": f"timestamps/tsa-{n}.chain.pem",
                       "at": utc_text(at)})
        result.timestamps.append(f"{url} at {utc_text(at)}")
    return tokens, failed


def _check_timestamping(urls: list[str]) -> None:
    """Refuse at once a required time-stamp that cannot be taken: no TSA, or no roots to verify its token by."""
    if not urls:
        raise ExportError(f"a time-stamp is required but no TSA is configured ({timestamp.URLS_ENV}); "
                          "no bundle written")
    try:
        roots = timestamp.load_roots()
    except timestamp.TimestampError as exc:
        raise ExportError(f"a time-stamp is required: {exc}; no bundle written") from None
    if not roots:
        raise ExportError(f"a time-stamp is required but no trusted TSA roots are configured ({timestamp.ROOTS_ENV}); "
                          "no bundle written")


def _zip_folder(folder: Path, out: Path) -> None:
    with zipfile.ZipFile(out, "x", allowZip64=True) as zf:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            rel = path.relative_to(folder).as_posix()
            zf.write(path, rel, compress_type=zipfile.ZIP_STORED if rel.endswith(STORED_SUFFIXES)
                     else zipfile.ZIP_DEFLATED)


def export_bundle(db: Database, home: Path, out: Path, *, operator: str, case: str, selection: Selection,
                  find: Finder, profile: str = "full", as_dir: bool = False,
                  require_timestamp: bool = False) -> ExportResult:
    """Write the bundle to `out` (a zip, or a folder with `as_dir`), signed with the key of `home` (never made
    here); append an "export made" event. `find` is the extraction engine's identifier finder: what the report
    replaces by pseudonyms. With `require_timestamp`, a bundle no TSA time-stamped is not written at all."""
    if profile not in PROFILES:
        raise ExportError(f"unknown profile {profile!r} (choose {', '.join(PROFILES)})")
    out = Path(out)
    if out.exists():
        raise OutputError(f"{out} already exists; bundles are never overwritten")
    if not out.parent.is_dir():
        raise OutputError(f"{out.parent} is not a folder")
    tsa_urls = timestamp.configured_urls()
    if require_timestamp:
        _check_timestamping(tsa_urls)
    secret = keys.existing_signing_key(home)
    if secret is None:
        raise ExportError(f"{home} holds no signing key: export from the data home that crawled this database")
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    placed = False
    try:
        bundle = _Bundle(db, home, staging, case=case, profile=profile, operator=operator, selection=selection,
                         find=find)
        with db.session() as session:
            bundle.write_offers(session)
            if not bundle.offers:
                raise ExportError("no offer matches the selection; nothing exported")
            bundle.write_captures(session)
        with db.session() as session:
            checkpoint = custody.make_checkpoint(session, secret)
        head = bundle.write_custody(checkpoint)
        created = utc_text(datetime.now(timezone.utc))
        write_report(staging / "report.html", bundle.work / "cards.html", case=case,
                     selection=selection.as_dict(), created=created, operator=operator, profile=profile,
                     key_id=minisign.fingerprint(secret.public_key), public_key=secret.public_key.base64,
                     offers=bundle.offers, captures=len(bundle.manifest_captures), per_day=bundle.per_day)
        shutil.rmtree(bundle.work)
        bundle_id = str(uuid.uuid4())
        bundle.path("keys/signer.pub").write_text(secret.public_key.to_text())
        (staging / "README.txt").write_text(_readme(case, secret.public_key, bundle_id))
        files = _file_entries(staging)
        (staging / "SHA256SUMS").write_text("".join(f"{f['sha256']}  {f['path']}\n" for f in files))
        sums = staging / "SHA256SUMS"
        files.append({"path": "SHA256SUMS", "sha256": sha256_file(sums), "bytes": sums.stat().st_size,
                      "role": "metadata", "present": True})
        tool = tool_info()
        manifest = custody.canonical_json({
            "manifest_version": 1, "bundle_id": bundle_id, "case": case, "profile": profile, "created_utc": created,
            "operator": operator, "hash_alg": "sha256", "selection": selection.as_dict(),
            "tool": {"name": tool["name"], "version": tool["version"], "git_commit": tool["git_commit"],
                     "host": host()},
            "counts": {"offers": bundle.offers, "captures": len(bundle.manifest_captures)},
            "custody": head, "signer": keys.describe(secret.public_key),
            "timestamps": {"requested": tsa_urls},
            "raw_captures": "included in captures.wacz" if profile == "full"
            else "withheld (redacted profile): their SHA-256 and WARC record ids are listed under captures",
            "files": sorted(files, key=lambda f: f["path"]), "captures": bundle.manifest_captures})
        manifest_sha = hashlib.sha256(manifest).hexdigest()
        (staging / "manifest.json").write_bytes(manifest)
        comment = _one_line(f"nigran bundle {bundle_id} case={case} manifest-sha256={manifest_sha}")
        (staging / "manifest.json.minisig").write_text(minisign.sign(manifest, secret, comment))
        (staging / "SHA256SUMS.minisig").write_text(
            minisign.sign((staging / "SHA256SUMS").read_bytes(), secret, comment))
        result = ExportResult(out, bundle_id, manifest_sha, bundle.offers, len(bundle.manifest_captures),
                              minisign.fingerprint(secret.public_key))
        _timestamps(staging, manifest, tsa_urls, secret, result)
        if require_timestamp and not result.timestamps:
            raise ExportError(f"a time-stamp is required but no TSA gave one ({'; '.join(result.warnings)}); "
                              "no bundle written")
        placed = True
        if as_dir:
            os.rename(staging, out)
        else:
            _zip_folder(staging, out)
        with db.session() as session:
            claim(session, home, secret.public_key)
            custody.append(session, custody.EXPORT_MADE, operator, details={
                "bundle_id": bundle_id, "case": case, "profile": profile, "manifest_sha256": manifest_sha,
                "offers": bundle.offers, "captures": len(bundle.manifest_captures), "output": out.name,
                "selection": selection.as_dict()})
        return result
    except BaseException:
        if placed:  # a bundle without its "export made" event must not be handed out
            shutil.rmtree(out, ignore_errors=True) if as_dir else out.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
