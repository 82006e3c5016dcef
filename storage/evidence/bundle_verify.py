"""Offline verification of an evidence bundle (a zip or a folder), safe on hostile input.

Checks every listed file's size and SHA-256, flags unlisted files, verifies the minisign signatures
(against a pinned key when given), each RFC 3161 token's imprint and chain, the WACZ package and
its WARC digests, each capture against its record, and the custody events with their inclusion
proofs against the signed checkpoint named in the manifest.

A zip is opened only after its end-of-central-directory record shows a sane member count; names
with traversal, absolute paths, symlinks, encryption, unusual compression, excessive sizes or
compression ratios are refused, and members are extracted (by this code, never by zipfile's
extract) into a fresh temporary folder that is removed afterwards.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import struct
import tempfile
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from typing import Iterator

from cryptography import x509

from storage.evidence import custody, minisign, timestamp
from storage.evidence.merkle import verify_inclusion
from storage.evidence.warc import iter_records

MAX_MEMBERS = 250_000
MAX_TOTAL = 64 << 30
MAX_RATIO = 200  # uncompressed / compressed, for members over RATIO_FLOOR
RATIO_FLOOR = 1 << 20
MAX_JSON = 256 << 20
MAX_LINE = 16 << 20
TIMESTAMP_FILE = re.compile(r"^timestamps/(tsa-\d{1,3}\.(tsr|chain\.pem)|roots\.pem)$")
SEALS = {"manifest.json", "manifest.json.minisig", "SHA256SUMS.minisig"}
TIMESTAMP_SLACK = timedelta(hours=1)


class Unreadable(Exception):
    """The bundle cannot be read, or its structure is refused as hostile."""


@dataclass
class Report:
    ok: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems


# --- safe containers ------------------------------------------------------------------------------

def safe_name(name: str) -> str:
    """A relative POSIX path with no traversal, or Unreadable."""
    parts = PurePosixPath(name).parts
    if (not name or "\x00" in name or "\\" in name or name.startswith("/") or len(name) > 1024
            or any(p in ("..", ".") or len(p.encode()) > 255 for p in parts) or ":" in parts[0]):
        raise Unreadable(f"refused: unsafe path {name[:200]!r}")
    return "/".join(parts)


def _eocd_entries(path: Path) -> int:
    """The member count declared by the end-of-central-directory record (zip64 aware)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - 65557))
        tail = fh.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            raise Unreadable(f"{path.name}: not a zip file")
        count = struct.unpack_from("<H", tail, at + 10)[0]
        locator = at - 20
        if count == 0xFFFF and locator >= 0 and tail[locator:locator + 4] == b"PK\x06\x07":
            fh.seek(struct.unpack_from("<Q", tail, locator + 8)[0])
            record = fh.read(56)
            if record[:4] != b"PK\x06\x06" or len(record) < 56:
                raise Unreadable(f"{path.name}: damaged zip64 directory")
            count = struct.unpack_from("<Q", record, 32)[0]
    return count


def checked_members(path: Path) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """Open a zip and vet every member; refuse (Unreadable) anything hostile."""
    if _eocd_entries(path) > MAX_MEMBERS:
        raise Unreadable(f"refused: {path.name} declares more than {MAX_MEMBERS} members")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise Unreadable(f"{path.name}: not a readable zip: {exc}") from None
    try:
        infos, seen, total = [], set(), 0
        for info in zf.infolist():
            name = safe_name(info.filename.rstrip("/") if info.is_dir() else info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise Unreadable(f"refused: {name} is a symbolic link")
            if info.flag_bits & 0x1:
                raise Unreadable(f"refused: {name} is encrypted")
            if info.is_dir():
                continue
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise Unreadable(f"refused: {name} uses compression method {info.compress_type}")
            if name.lower() in seen:
                raise Unreadable(f"refused: {name} appears twice")
            seen.add(name.lower())
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise Unreadable(f"refused: {name} expands {info.file_size // max(info.compress_size, 1)}x "
                                 "(zip bomb)")
            total += info.file_size
            if total > MAX_TOTAL:
                raise Unreadable(f"refused: {path.name} expands to more than {MAX_TOTAL >> 30} GiB")
            infos.append(info)
        return zf, infos
    except BaseException:
        zf.close()
        raise


def extract_safely(path: Path, dest: Path, report: Report) -> None:
    """Extract a vetted zip into the empty folder `dest`, byte-counted; CRC failures become problems."""
    zf, infos = checked_members(path)
    with zf:
        need = sum(i.file_size for i in infos)
        if shutil.disk_usage(dest).free < need:
            raise Unreadable(f"{path.name} needs {need} bytes of temporary space")
        root = dest.resolve()
        for info in infos:
            name = safe_name(info.filename)
            target = root / name
            if root not in target.parents:
                raise Unreadable(f"refused: {name} escapes the extraction folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            try:
                with zf.open(info) as src, open(target, "xb") as dst:
                    for chunk in iter(lambda: src.read(1 << 20), b""):
                        written += len(chunk)
                        if written > info.file_size:
                            raise Unreadable(f"refused: {name} is longer than declared")
                        dst.write(chunk)
            except (zipfile.BadZipFile, EOFError, OSError) as exc:
                report.problems.append(f"{name}: damaged in the zip ({exc}): changed after it was made")


def _refuse_links(root: Path) -> None:
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            mode = os.lstat(os.path.join(folder, name)).st_mode
            if stat.S_ISLNK(mode) or not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                raise Unreadable(f"refused: {os.path.relpath(os.path.join(folder, name), root)} "
                                 "is a link or special file")


@contextmanager
def opened(path: Path, report: Report) -> Iterator[Path]:
    """The bundle as a folder: itself (after refusing links) or a temporary extraction of the zip."""
    path = Path(path)
    if path.is_dir():
        _refuse_links(path)
        yield path
        return
    if not path.is_file():
        raise Unreadable(f"{path}: no such bundle")
    with tempfile.TemporaryDirectory(prefix="nigran-verify-") as tmp:
        extract_safely(path, Path(tmp), report)
        yield Path(tmp)


# --- helpers --------------------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _load_json(path: Path, what: str):
    if path.stat().st_size > MAX_JSON:
        raise ValueError(f"{what} is larger than {MAX_JSON} bytes")
    return json.loads(path.read_bytes())


def _jsonl(path: Path) -> Iterator[dict]:
    with open(path, "rb") as fh:
        while line := fh.readline(MAX_LINE):
            if not line.endswith(b"\n") and len(line) >= MAX_LINE:
                raise ValueError(f"{path.name}: line longer than {MAX_LINE} bytes")
            if line.strip():
                yield json.loads(line)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


# --- the checks -----------------------------------------------------------------------------------

class _Checker:
    def __init__(self, root: Path, report: Report, key: minisign.PublicKey | None,
                 tsa_roots: list[x509.Certificate] | None):
        self.root, self.report, self.key, self.tsa_roots = root, report, key, tsa_roots
        self.manifest_bytes = b""
        self.manifest: dict = {}
        self.listed: dict[str, dict] = {}

    def fail(self, message: str) -> None:
        self.report.problems.append(message)

    def file(self, rel: str) -> Path | None:
        """A listed, present file of the bundle (refusing unsafe names)."""
        path = self.root / safe_name(rel)
        return path if path.is_file() else None

    def run(self) -> None:
        manifest_path = self.root / "manifest.json"
        if not manifest_path.is_file():
            raise Unreadable("no manifest.json: not a nigran evidence bundle")
        try:
            self.manifest_bytes = manifest_path.read_bytes() if manifest_path.stat().st_size <= MAX_JSON else b""
            self.manifest = json.loads(self.manifest_bytes)
            self.listed = {safe_name(f["path"]): f for f in self.manifest["files"]}
        except (ValueError, KeyError, TypeError) as exc:
            raise Unreadable(f"manifest.json is not a bundle manifest: {exc}") from None
        self.signatures()
        self.files()
        self.checksums()
        self.timestamps()
        records = self.wacz()
        self.captures(records)
        self.custody()

    def signatures(self) -> None:
        bundled = None
        signer = self.file("keys/signer.pub")
        if signer is not None:
            try:
                bundled = minisign.PublicKey.from_text(signer.read_text(errors="replace")[:4096])
            except minisign.SignatureError as exc:
                self.fail(f"keys/signer.pub: {exc}")
        key = self.key or bundled
        if key is None:
            self.fail("no public key to check the signature with (give --key)")
            return
        if self.key is None:
            self.report.notes.append(f"signature checked with the key shipped in the bundle, id "
                                     f"{minisign.fingerprint(key)} ({key.base64}); pin it with --key")
        elif bundled is not None and bundled != self.key:
            self.fail(f"keys/signer.pub is key {minisign.fingerprint(bundled)}, not the expected key "
                      f"{minisign.fingerprint(self.key)}")
        for data_name in ("manifest.json", "SHA256SUMS"):
            sig = self.file(f"{data_name}.minisig")
            data = self.file(data_name)
            if sig is None or data is None:
                self.fail(f"{data_name}.minisig: missing")
                continue
            try:
                minisign.verify(data.read_bytes(), sig.read_text(errors="replace")[:4096], key)
                self.report.ok.append(f"{data_name}: signed by key {minisign.fingerprint(key)}")
            except minisign.SignatureError as exc:
                self.fail(f"{data_name}.minisig: {exc}")

    def files(self) -> None:
        good = 0
        for rel, entry in self.listed.items():
            path = self.file(rel)
            if not entry.get("present", True):
                continue
            if path is None:
                self.fail(f"{rel}: listed in the manifest but missing")
            elif path.stat().st_size != entry.get("bytes"):
                self.fail(f"{rel}: changed: {path.stat().st_size} bytes, the manifest says {entry.get('bytes')}")
            elif _sha256(path) != entry.get("sha256"):
                self.fail(f"{rel}: changed: its SHA-256 does not match the manifest")
            else:
                good += 1
        for path in sorted(p for p in self.root.rglob("*") if p.is_file()):
            rel = path.relative_to(self.root).as_posix()
            if rel not in self.listed and rel not in SEALS and not TIMESTAMP_FILE.match(rel):
                self.fail(f"{rel}: not listed in the manifest (added)")
        self.report.ok.append(f"{good} listed files match their size and SHA-256")

    def checksums(self) -> None:
        sums = self.file("SHA256SUMS")
        if sums is None:
            return
        lines = {}
        for line in sums.read_text(errors="replace").splitlines():
            digest, _, rel = line.partition("  ")
            lines[rel] = digest
        expected = {rel: f["sha256"] for rel, f in self.listed.items() if rel != "SHA256SUMS" and f.get("present", True)}
        if lines != expected:
            self.fail("SHA256SUMS does not list exactly the manifest's files and hashes")

    def timestamps(self) -> None:
        tokens = sorted(self.root.glob("timestamps/tsa-*.tsr"))
        if not tokens:
            self.report.notes.append("no RFC 3161 timestamp in this bundle")
            return
        roots = self.tsa_roots
        if not roots:
            bundled = self.root / "timestamps/roots.pem"
            roots = timestamp.load_roots(bundled) if bundled.is_file() else []
            self.report.notes.append("timestamps checked against the TSA roots shipped in the bundle; "
                                     "pin your trusted roots with --tsa-roots")
        created = _utc(self.manifest.get("created_utc", "1970-01-01T00:00:00Z"))
        for token in tokens:
            rel = token.relative_to(self.root).as_posix()
            try:
                at = timestamp.verify(token.read_bytes()[:timestamp.MAX_REPLY], self.manifest_bytes, roots)
            except timestamp.TimestampError as exc:
                self.fail(f"{rel}: {exc}")
                continue
            if not created - timedelta(minutes=5) <= at <= created + TIMESTAMP_SLACK:
                self.fail(f"{rel}: time {custody.utc_text(at)} is far from the manifest's {self.manifest['created_utc']}")
            else:
                self.report.ok.append(f"{rel}: manifest time-stamped at {custody.utc_text(at)}")

    def wacz(self) -> dict[str, str] | None:
        """Verify captures.wacz; return {WARC-Record-ID: payload digest} of its records."""
        path = self.file("captures.wacz")
        if path is None:
            if self.manifest.get("profile") == "redacted":
                self.report.notes.append("redacted profile: raw captures withheld, their hashes are in the manifest")
            return None
        with tempfile.TemporaryDirectory(prefix="nigran-wacz-") as tmp:
            try:
                extract_safely(path, Path(tmp), self.report)
                package = _load_json(Path(tmp) / "datapackage.json", "datapackage.json")
                digest = _load_json(Path(tmp) / "datapackage-digest.json", "datapackage-digest.json")
            except (OSError, ValueError, Unreadable) as exc:
                self.fail(f"captures.wacz: {exc}")
                return {}
            if digest.get("hash") != "sha256:" + _sha256(Path(tmp) / "datapackage.json"):
                self.fail("captures.wacz: datapackage-digest.json does not match datapackage.json")
            for resource in package.get("resources", []):
                member = Path(tmp) / safe_name(resource.get("path", ""))
                if not member.is_file() or resource.get("hash") != "sha256:" + _sha256(member):
                    self.fail(f"captures.wacz: {resource.get('path')} does not match datapackage.json")
            records: dict[str, str] = {}
            warcs = sorted(Path(tmp).glob("archive/*.warc*"))
            for warc in warcs:
                for check in iter_records(warc):
                    rid = check.headers.get("WARC-Record-ID", "")
                    records[rid] = check.headers.get("WARC-Payload-Digest", "")
                    for problem in check.problems:
                        self.fail(f"captures.wacz {warc.name} @{check.offset} {rid}: {problem}")
            self.report.ok.append(f"captures.wacz: {len(records)} WARC records, digests checked")
            return records

    def captures(self, records: dict[str, str] | None) -> None:
        checked = 0
        for cap in self.manifest.get("captures", []):
            cid = cap.get("capture_id")
            path = self.file(f"captures/{int(cid)}/capture.json")
            if path is None:
                self.fail(f"capture {cid}: capture.json missing")
                continue
            try:
                info = _load_json(path, "capture.json")
            except ValueError as exc:
                self.fail(f"capture {cid}: {exc}")
                continue
            if info.get("body", {}).get("sha256") != cap.get("body_sha256"):
                self.fail(f"capture {cid}: capture.json and the manifest disagree on its SHA-256")
            rid = cap.get("warc_record_id")
            if records is not None and rid and records.get(rid) != f"sha256:{cap.get('body_sha256')}":
                self.fail(f"capture {cid}: WARC record {rid} missing from captures.wacz or its payload differs")
            checked += 1
        self.report.ok.append(f"{checked} captures match their records")

    def custody(self) -> None:
        head = self.manifest.get("custody", {})
        cp_path, events_path, proofs_path = (self.file(f"custody/{n}") for n in
                                             ("checkpoint.json", "events.jsonl", "proofs.jsonl"))
        if cp_path is None or events_path is None or proofs_path is None:
            self.fail("custody: checkpoint, events or proofs missing")
            return
        try:
            cp = _load_json(cp_path, "checkpoint.json")
            key = minisign.PublicKey.from_text(cp["public_key"])
            minisign.verify(custody.checkpoint_bytes(cp["tree_size"], cp["root"], cp["head_hash"], cp["at"]),
                            cp["signature"], key)
            events = {e["seq"]: e for e in _jsonl(events_path)}
            proofs = {p["seq"]: p for p in _jsonl(proofs_path)}
        except (ValueError, KeyError, TypeError, minisign.SignatureError) as exc:
            self.fail(f"custody: {exc}")
            return
        if any(cp.get(k) != head.get(k) for k in ("tree_size", "root", "head_hash")):
            self.fail("custody/checkpoint.json is not the checkpoint named in the manifest")
        root = bytes.fromhex(cp["root"])
        for seq, event in events.items():
            if custody.event_hash(event) != event.get("hash"):
                self.fail(f"custody event {seq}: edited (its content does not match its hash)")
                continue
            proof = proofs.get(seq)
            if proof is None or not verify_inclusion(custody.event_leaf(event["hash"]), seq - 1, cp["tree_size"],
                                                     [bytes.fromhex(p) for p in proof["proof"]], root):
                self.fail(f"custody event {seq}: not proved to be in the custody log (tree of {cp['tree_size']})")
        by_capture = {e.get("capture_id"): e for e in events.values()}
        for cap in self.manifest.get("captures", []):
            event = by_capture.get(cap.get("capture_id"))
            if event is None or event["seq"] != cap.get("custody_seq"):
                if cap.get("custody_seq") is not None or event is not None:
                    self.fail(f"capture {cap.get('capture_id')}: its custody event is missing")
                continue
            details = event.get("details", {})
            if details.get("body_sha256") != cap.get("body_sha256") or \
                    details.get("warc_record_id") != cap.get("warc_record_id"):
                self.fail(f"capture {cap.get('capture_id')}: custody event {event['seq']} records other evidence")
        self.report.ok.append(f"custody: {len(events)} events proved against checkpoint "
                              f"{cp['tree_size']}/{cp['root'][:16]}…")


def verify_bundle(path: Path, *, key: minisign.PublicKey | None = None,
                  tsa_roots: list[x509.Certificate] | None = None) -> Report:
    """Verify a bundle; Unreadable when it cannot be read or is refused as hostile."""
    report = Report()
    try:
        with opened(Path(path), report) as root:
            _Checker(root, report, key, tsa_roots).run()
    except OSError as exc:
        raise Unreadable(f"{path}: {exc}") from None
    return report
