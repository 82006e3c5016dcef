"""Offline verification of an evidence bundle (a zip or a folder), safe on hostile input.

Checks every listed file's size and SHA-256, flags unlisted files, verifies the minisign signatures
and the custody checkpoint against the pinned keys (with none pinned the verdict is at best
UNVERIFIED), the RFC 3161 tokens against the signed list of those taken and each token's imprint and
chain, the WACZ package and its WARC digests, each capture against its record, and the custody
events with their inclusion proofs against the signed checkpoint named in the manifest. Each
malformed manifest field is a problem of its own, and the other checks go on.

A zip's real central directory is walked (member count, declared sizes, overall compression ratio)
before zipfile reads it or anything is extracted; names with traversal, absolute paths, symlinks,
encryption, unusual compression or excessive compression ratios are refused, and members are
extracted (by this code, never by zipfile's extract), byte-counted against their declared sizes and
the total cap, into a fresh temporary folder that is removed afterwards.
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
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

from cryptography import x509

from nigran.storage.evidence import custody, keys, minisign, timestamp
from nigran.storage.evidence.merkle import verify_inclusion
from nigran.storage.evidence.verdict import Report
from nigran.storage.evidence.warc import iter_records
from nigran.storage.utc import parse_utc, utc_text

MAX_MEMBERS = 250_000
MAX_TOTAL = 64 << 30  # uncompressed bytes in one zip, declared and written
MAX_DIRECTORY = 256 << 20  # bytes of central directory
MAX_RATIO = 200  # uncompressed / compressed, for members and whole zips over RATIO_FLOOR
RATIO_FLOOR = 1 << 20
MAX_JSON = 256 << 20
MAX_LINE = 16 << 20
TIMESTAMP_LIST = "timestamps/timestamps.json"
SEALS = {"manifest.json", "manifest.json.minisig", "SHA256SUMS.minisig"}
TIMESTAMP_SLACK = timedelta(hours=1)
_EOCD, _LOCATOR64, _EOCD64, _CENTRAL = b"PK\x05\x06", b"PK\x06\x07", b"PK\x06\x06", b"PK\x01\x02"
_HEX64 = re.compile(r"[0-9a-f]{64}")


class Unreadable(Exception):
    """The bundle cannot be read, or its structure is refused as hostile."""


@dataclass(frozen=True)
class ZipLimits:
    """How much a zip may hold before it is refused unread."""

    members: int = MAX_MEMBERS
    total: int = MAX_TOTAL


# --- safe containers ------------------------------------------------------------------------------

def safe_name(name: str) -> str:
    """A relative POSIX path with no traversal, or Unreadable."""
    parts = PurePosixPath(name).parts
    if (not name or "\x00" in name or "\\" in name or name.startswith("/") or len(name) > 1024
            or any(p in ("..", ".") or len(p.encode()) > 255 for p in parts) or ":" in parts[0]):
        raise Unreadable(f"refused: unsafe path {name[:200]!r}")
    return "/".join(parts)


def _directory_span(fh, size: int, name: str) -> tuple[int, int]:
    """(offset, length) of the central directory, found where zipfile finds it (zip64 aware)."""
    end = max(0, size - 22)
    fh.seek(end)
    record = fh.read()
    if not (len(record) == 22 and record[:4] == _EOCD and record[-2:] == b"\0\0"):
        base = max(0, size - 22 - 65536)
        fh.seek(base)
        tail = fh.read()
        at = tail.rfind(_EOCD)
        if at < 0 or len(tail) - at < 22:
            raise Unreadable(f"{name}: not a zip file")
        end, record = base + at, tail[at:at + 22]
    length = struct.unpack_from("<I", record, 12)[0]
    if end >= 76:
        fh.seek(end - 76)
        record64 = fh.read(76)
        if record64[56:60] == _LOCATOR64 and record64[:4] == _EOCD64:
            length, end = struct.unpack_from("<Q", record64, 40)[0], end - 76
    if length > end:
        raise Unreadable(f"{name}: damaged central directory")
    return end - length, length


def _zip64_sizes(extra: bytes, size: int, packed: int) -> tuple[int, int]:
    """The sizes of a central directory entry, taken from its zip64 field where they are 0xFFFFFFFF."""
    at = 0
    while at + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, at)
        if kind == 1:
            field = extra[at + 4:at + 4 + length]
            values = iter(struct.unpack_from(f"<{len(field) // 8}Q", field))
            size = next(values, size) if size == 0xFFFFFFFF else size
            packed = next(values, packed) if packed == 0xFFFFFFFF else packed
            break
        at += 4 + length
    return size, packed


def _walk_directory(path: Path, limits: ZipLimits) -> tuple[int, int]:
    """Walk the real central directory (not the count its end record claims) and refuse a zip with
    too many members, too much declared content or too high a compression ratio.
    Returns (directory offset, member count) for comparison with what zipfile reads."""
    with open(path, "rb") as fh:
        start, length = _directory_span(fh, path.stat().st_size, path.name)
        if length > MAX_DIRECTORY:
            raise Unreadable(f"refused: {path.name} has a central directory of {length} bytes")
        fh.seek(start)
        directory = fh.read(length)
    at = members = total = packed = 0
    while at < length:
        if directory[at:at + 4] != _CENTRAL or length - at < 46:
            raise Unreadable(f"{path.name}: damaged central directory")
        packed_size, size, name_len, extra_len, comment_len = struct.unpack_from("<IIHHH", directory, at + 20)
        extra = directory[at + 46 + name_len:at + 46 + name_len + extra_len]
        size, packed_size = _zip64_sizes(extra, size, packed_size)
        members, total, packed = members + 1, total + size, packed + packed_size
        if members > limits.members:
            raise Unreadable(f"refused: {path.name} holds more than {limits.members} members")
        if total > limits.total:
            raise Unreadable(f"refused: {path.name} expands to more than {limits.total} bytes")
        at += 46 + name_len + extra_len + comment_len
    if total > RATIO_FLOOR and total > MAX_RATIO * max(packed, 1):
        raise Unreadable(f"refused: {path.name} expands {total // max(packed, 1)}x overall (zip bomb)")
    return start, members


def checked_members(path: Path, limits: ZipLimits = ZipLimits()) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """Open a zip and vet every member; refuse (Unreadable) anything hostile."""
    start, members = _walk_directory(path, limits)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise Unreadable(f"{path.name}: not a readable zip: {exc}") from None
    try:
        if (zf.start_dir, len(zf.filelist)) != (start, members):
            raise Unreadable(f"refused: {path.name} has an ambiguous central directory")
        infos, seen = [], set()
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
            infos.append(info)
        return zf, infos
    except BaseException:
        zf.close()
        raise


def extract_safely(path: Path, dest: Path, report: Report, limits: ZipLimits = ZipLimits()) -> None:
    """Extract a vetted zip into the empty folder `dest`, byte-counted against each member's declared
    size and the total cap; CRC failures become problems."""
    zf, infos = checked_members(path, limits)
    with zf:
        need = sum(i.file_size for i in infos)
        if shutil.disk_usage(dest).free < need:
            raise Unreadable(f"{path.name} needs {need} bytes of temporary space")
        root = dest.resolve()
        written_total = 0
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
                        written, written_total = written + len(chunk), written_total + len(chunk)
                        if written > info.file_size:
                            raise Unreadable(f"refused: {name} is longer than declared")
                        if written_total > limits.total:
                            raise Unreadable(f"refused: {path.name} expands to more than {limits.total} bytes")
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
def opened(path: Path, report: Report, limits: ZipLimits = ZipLimits()) -> Iterator[Path]:
    """The bundle as a folder: itself (after refusing links) or a temporary extraction of the zip."""
    path = Path(path)
    if path.is_dir():
        _refuse_links(path)
        yield path
        return
    if not path.is_file():
        raise Unreadable(f"{path}: no such bundle")
    with tempfile.TemporaryDirectory(prefix="nigran-verify-") as tmp:
        extract_safely(path, Path(tmp), report, limits)
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


# --- the shape of the manifest and the timestamp list ---------------------------------------------

def _is(kind: type) -> Callable[[object], bool]:
    return lambda v: isinstance(v, kind)


def _count(v) -> bool:
    return type(v) is int and v >= 0


def _positive(v) -> bool:
    return type(v) is int and v > 0


def _sha256_hex(v) -> bool:
    return isinstance(v, str) and _HEX64.fullmatch(v) is not None


def _optional(check: Callable[[object], bool]) -> Callable[[object], bool]:
    return lambda v: v is None or check(v)


def _relative_path(v) -> bool:
    try:
        return isinstance(v, str) and bool(safe_name(v))
    except Unreadable:
        return False


def _utc_time(v) -> bool:
    try:
        return isinstance(v, str) and bool(parse_utc(v))
    except ValueError:
        return False


def _texts(v) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


MANIFEST_FIELDS = {"created_utc": _utc_time, "profile": _is(str), "files": _is(list), "captures": _is(list),
                   "custody": _is(dict)}
FILE_FIELDS = {"path": _relative_path, "sha256": _sha256_hex, "bytes": _count, "present": _is(bool)}
CAPTURE_FIELDS = {"capture_id": _positive, "body_sha256": _sha256_hex, "warc_record_id": _optional(_is(str)),
                  "custody_seq": _optional(_positive)}
HEAD_FIELDS = {"tree_size": _count, "root": _sha256_hex, "head_hash": _sha256_hex}
REQUESTED_FIELDS = {"requested": _texts}
LIST_FIELDS = {"manifest_sha256": _sha256_hex, "tokens": _is(list), "failed": _is(list), "files": _is(list)}
LISTED_FILE_FIELDS = {"path": _relative_path, "sha256": _sha256_hex, "bytes": _count}
TOKEN_FIELDS = {"tsa": _is(str), "token": _relative_path}
FAILED_FIELDS = {"tsa": _is(str), "error": _is(str)}


def _shown(value) -> str:
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 60 else text[:57] + "..."


def malformed(entry, fields: dict[str, Callable[[object], bool]], label: str) -> list[str]:
    """One line per field of `entry` that is missing or not of its kind (label: where it is, e.g. "x.json: a[0].")."""
    if not isinstance(entry, dict):
        return [f"{label.rstrip('.: ')} is malformed: {_shown(entry)} is not an object"]
    return [f"{label}{name} is missing" if name not in entry else f"{label}{name} is malformed: {_shown(entry[name])}"
            for name, ok in fields.items() if name not in entry or not ok(entry[name])]


# --- the checks -----------------------------------------------------------------------------------

def _named_key(seal: Path | None, keys: list[minisign.PublicKey]) -> minisign.PublicKey:
    """The key among `keys` that the signature names, else the first (whose check then fails)."""
    try:
        wanted = minisign.signature_key_id(seal.read_text(errors="replace")[:4096]) if seal else None
    except minisign.SignatureError:
        wanted = None
    return next((k for k in keys if k.key_id == wanted), keys[0])


class _Checker:
    def __init__(self, root: Path, report: Report, trusted: list[minisign.PublicKey],
                 tsa_roots: list[x509.Certificate] | None, limits: ZipLimits):
        self.root, self.report, self.trusted, self.tsa_roots, self.limits = root, report, trusted, tsa_roots, limits
        self.signer: minisign.PublicKey | None = None
        self.manifest_bytes = b""
        self.manifest: dict = {}
        self.listed: dict[str, dict] = {}
        self.named: set[str] = set()
        self.captured: list[dict] = []
        self.head: dict | None = None
        self.present: list[str] = []
        self.records: dict[str, str] | None = None

    def fail(self, message: str) -> None:
        self.report.problems.append(message)

    def file(self, rel: str) -> Path | None:
        """A present file of the bundle (refusing unsafe names)."""
        path = self.root / safe_name(rel)
        return path if path.is_file() else None

    def checked(self, entry, fields: dict, label: str) -> bool:
        """Whether `entry` is well formed; each malformed field is a problem."""
        wrong = malformed(entry, fields, label)
        self.report.problems += wrong
        return not wrong

    def well_formed(self, entries: list, fields: dict, label: str) -> list[dict]:
        return [e for n, e in enumerate(entries) if self.checked(e, fields, f"{label}[{n}].")]

    def run(self) -> None:
        self.read_manifest()
        self.present = sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())
        for stage in (self.signatures, self.files, self.checksums, self.timestamps, self.wacz, self.captures,
                      self.custody):
            try:
                stage()
            except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
                # a signed file of unexpected shape: this part fails, the others are still checked
                self.fail(f"{stage.__name__}: malformed content, this check stopped ({type(exc).__name__}: {exc})")

    def read_manifest(self) -> None:
        path = self.root / "manifest.json"
        if not path.is_file():
            raise Unreadable("no manifest.json: not a nigran evidence bundle")
        if path.stat().st_size > MAX_JSON:
            raise Unreadable(f"manifest.json is larger than {MAX_JSON} bytes")
        self.manifest_bytes = path.read_bytes()
        try:
            manifest = json.loads(self.manifest_bytes)
        except ValueError as exc:
            raise Unreadable(f"manifest.json is not JSON: {exc}") from None
        if not isinstance(manifest, dict):
            raise Unreadable("manifest.json is not a bundle manifest (not a JSON object)")
        self.manifest = manifest
        self.checked(manifest, MANIFEST_FIELDS, "manifest.json: ")
        files = manifest.get("files") if isinstance(manifest.get("files"), list) else []
        self.named = {e["path"] for e in files if isinstance(e, dict) and _relative_path(e.get("path"))}
        self.listed = {safe_name(f["path"]): f for f in self.well_formed(files, FILE_FIELDS, "manifest.json: files")}
        captures = manifest.get("captures") if isinstance(manifest.get("captures"), list) else []
        self.captured = self.well_formed(captures, CAPTURE_FIELDS, "manifest.json: captures")
        head = manifest.get("custody")
        self.head = head if isinstance(head, dict) and self.checked(head, HEAD_FIELDS, "manifest.json: custody.") \
            else None

    def signatures(self) -> None:
        """Both seals, checked against the pinned keys, or (none pinned) the key the bundle ships."""
        bundled = None
        shipped = self.file("keys/signer.pub")
        if shipped is not None:
            try:
                bundled = minisign.PublicKey.from_text(shipped.read_text(errors="replace")[:4096])
            except minisign.SignatureError as exc:
                self.fail(f"keys/signer.pub: {exc}")
        candidates = self.trusted or ([bundled] if bundled else [])
        if not candidates:
            self.fail("no public key to check the signatures with (give --key)")
            return
        self.signer = _named_key(self.file("manifest.json.minisig"), candidates)
        self.report.signer, self.report.pinned = self.signer, bool(self.trusted)
        if not self.trusted:
            self.report.notes.append(f"no key pinned: checked with the key the bundle ships, id "
                                     f"{minisign.fingerprint(bundled)} ({bundled.base64}); compare it with the "
                                     "signer's key obtained separately and pin it with --key or --trusted-keys")
        elif bundled is not None and bundled != self.signer:
            self.fail(f"keys/signer.pub is key {minisign.fingerprint(bundled)}, not the expected key "
                      f"{minisign.fingerprint(self.signer)}")
        self.sealed("manifest.json")
        self.sealed("SHA256SUMS")

    def sealed(self, rel: str) -> bool:
        """Whether `rel` carries a good signature (`rel`.minisig) by the signer; a problem if not."""
        sig, data = self.file(f"{rel}.minisig"), self.file(rel)
        if sig is None or data is None:
            self.fail(f"{rel}.minisig: missing")
            return False
        if self.signer is None:
            self.fail(f"{rel}: no key to check its signature with")
            return False
        try:
            minisign.verify(data.read_bytes(), sig.read_text(errors="replace")[:4096], self.signer)
        except minisign.SignatureError as exc:
            self.fail(f"{rel}.minisig: {exc}")
            return False
        pinned = "pinned" if self.report.pinned else "not pinned"
        self.report.ok.append(f"{rel}: signed by key {minisign.fingerprint(self.signer)} ({pinned})")
        return True

    def file_problem(self, rel: str, entry: dict, listing: str) -> str | None:
        """Why a listed file is not as its listing says, or None."""
        path = self.file(rel)
        if path is None:
            return f"listed in {listing} but missing"
        if path.stat().st_size != entry["bytes"]:
            return f"changed: {path.stat().st_size} bytes, {listing} says {entry['bytes']}"
        if _sha256(path) != entry["sha256"]:
            return f"changed: its SHA-256 does not match {listing}"
        return None

    def files(self) -> None:
        good = 0
        for rel, entry in self.listed.items():
            if not entry["present"]:
                continue
            problem = self.file_problem(rel, entry, "the manifest")
            if problem:
                self.fail(f"{rel}: {problem}")
            else:
                good += 1
        for rel in self.present:
            if rel not in self.named and rel not in SEALS and not rel.startswith("timestamps/"):
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
        expected = {rel: f["sha256"] for rel, f in self.listed.items() if rel != "SHA256SUMS" and f["present"]}
        if lines != expected:
            self.fail("SHA256SUMS does not list exactly the manifest's files and hashes")

    def timestamps(self) -> None:
        """The files under timestamps/ against the signed list of tokens taken, then each token."""
        asked = self.manifest.get("timestamps", {"requested": []})
        requested = asked["requested"] if self.checked(asked, REQUESTED_FIELDS, "manifest.json: timestamps.") else []
        present = [rel for rel in self.present if rel.startswith("timestamps/")]
        if self.file(TIMESTAMP_LIST) is None:
            if requested:
                self.fail(f"{TIMESTAMP_LIST}: missing, so the timestamps taken cannot be checked")
            elif not present:
                self.report.notes.append("no RFC 3161 timestamp in this bundle")
            self.unlisted_timestamps(present, {})
            return
        listing = self.timestamp_list()
        if listing is None:
            return
        files = {f["path"]: f for f in
                 self.well_formed(listing["files"], LISTED_FILE_FIELDS, f"{TIMESTAMP_LIST}: files")}
        self.unlisted_timestamps(present, files)
        intact = set()
        for rel, entry in files.items():
            problem = self.file_problem(rel, entry, TIMESTAMP_LIST)
            if problem:
                self.fail(f"{rel}: {problem}")
            else:
                intact.add(rel)
        tokens = self.well_formed(listing["tokens"], TOKEN_FIELDS, f"{TIMESTAMP_LIST}: tokens")
        failed = self.well_formed(listing["failed"], FAILED_FIELDS, f"{TIMESTAMP_LIST}: failed")
        if sorted(t["tsa"] for t in tokens + failed) != sorted(requested):
            self.fail(f"{TIMESTAMP_LIST} does not account for exactly the TSAs the manifest names")
        for entry in failed:
            self.report.notes.append(f"no timestamp from {entry['tsa']} at export: {entry['error']}")
        roots = self.timestamp_roots(intact)
        for token in tokens:
            if token["token"] not in files:
                self.fail(f"{token['token']}: a token {TIMESTAMP_LIST} does not list among its files")
            elif token["token"] in intact:
                self.token(token["token"], roots)

    def unlisted_timestamps(self, present: list[str], listed: dict) -> None:
        for rel in present:
            if rel not in listed and rel not in (TIMESTAMP_LIST, f"{TIMESTAMP_LIST}.minisig"):
                self.fail(f"{rel}: not listed in {TIMESTAMP_LIST} (added)")

    def timestamp_list(self) -> dict | None:
        """timestamps.json, signed by the signer and made for this manifest, or None (a problem)."""
        if not self.sealed(TIMESTAMP_LIST):
            return None
        listing = _load_json(self.file(TIMESTAMP_LIST), TIMESTAMP_LIST)
        if not self.checked(listing, LIST_FIELDS, f"{TIMESTAMP_LIST}: "):
            return None
        if listing["manifest_sha256"] != hashlib.sha256(self.manifest_bytes).hexdigest():
            self.fail(f"{TIMESTAMP_LIST} lists the timestamps of another manifest")
            return None
        return listing

    def timestamp_roots(self, intact: set[str]) -> list[x509.Certificate]:
        if self.tsa_roots:
            return self.tsa_roots
        self.report.notes.append("timestamps checked against the TSA roots shipped in the bundle; "
                                 "pin your trusted roots with --tsa-roots")
        try:
            return timestamp.load_roots(self.root / "timestamps/roots.pem") if "timestamps/roots.pem" in intact else []
        except timestamp.TimestampError as exc:
            self.fail(f"timestamps/roots.pem: {exc}")
            return []

    def token(self, rel: str, roots: list[x509.Certificate]) -> None:
        """One token: imprint of the manifest, chain to a root, time close to the manifest's."""
        try:
            at = timestamp.verify(self.file(rel).read_bytes()[:timestamp.MAX_REPLY], self.manifest_bytes, roots)
        except timestamp.TimestampError as exc:
            self.fail(f"{rel}: {exc}")
            return
        created = self.manifest.get("created_utc")
        if not _utc_time(created) or not parse_utc(created) - timedelta(minutes=5) <= at <= parse_utc(created) + TIMESTAMP_SLACK:
            self.fail(f"{rel}: time {utc_text(at)} is far from the manifest's {created}")
        else:
            self.report.ok.append(f"{rel}: manifest time-stamped at {utc_text(at)}")

    def wacz(self) -> None:
        """Verify captures.wacz; keep {WARC-Record-ID: payload digest} of its records."""
        path = self.file("captures.wacz")
        if path is None:
            if self.manifest.get("profile") == "redacted":
                self.report.notes.append("redacted profile: raw captures withheld, their hashes are in the manifest")
            return
        self.records = {}
        with tempfile.TemporaryDirectory(prefix="nigran-wacz-") as tmp:
            try:
                extract_safely(path, Path(tmp), self.report, self.limits)
                package = _load_json(Path(tmp) / "datapackage.json", "datapackage.json")
                digest = _load_json(Path(tmp) / "datapackage-digest.json", "datapackage-digest.json")
            except (OSError, ValueError, Unreadable) as exc:
                self.fail(f"captures.wacz: {exc}")
                return
            if digest.get("hash") != "sha256:" + _sha256(Path(tmp) / "datapackage.json"):
                self.fail("captures.wacz: datapackage-digest.json does not match datapackage.json")
            for resource in package.get("resources", []):
                member = Path(tmp) / safe_name(resource.get("path", ""))
                if not member.is_file() or resource.get("hash") != "sha256:" + _sha256(member):
                    self.fail(f"captures.wacz: {resource.get('path')} does not match datapackage.json")
            for warc in sorted(Path(tmp).glob("archive/*.warc*")):
                for check in iter_records(warc):
                    rid = check.headers.get("WARC-Record-ID", "")
                    self.records[rid] = check.headers.get("WARC-Payload-Digest", "")
                    for problem in check.problems:
                        self.fail(f"captures.wacz {warc.name} @{check.offset} {rid}: {problem}")
            self.report.ok.append(f"captures.wacz: {len(self.records)} WARC records, digests checked")

    def captures(self) -> None:
        checked = 0
        for cap in self.captured:
            cid = cap["capture_id"]
            path = self.file(f"captures/{cid}/capture.json")
            if path is None:
                self.fail(f"capture {cid}: capture.json missing")
                continue
            try:
                info = _load_json(path, "capture.json")
            except ValueError as exc:
                self.fail(f"capture {cid}: {exc}")
                continue
            body = info.get("body") if isinstance(info, dict) else None
            if not isinstance(body, dict) or body.get("sha256") != cap["body_sha256"]:
                self.fail(f"capture {cid}: capture.json and the manifest disagree on its SHA-256")
            rid = cap["warc_record_id"]
            if self.records is not None and rid and self.records.get(rid) != f"sha256:{cap['body_sha256']}":
                self.fail(f"capture {cid}: WARC record {rid} missing from captures.wacz or its payload differs")
            checked += 1
        self.report.ok.append(f"{checked} captures match their records")

    def checkpoint(self, path: Path) -> dict | None:
        """custody/checkpoint.json, signed by the bundle's signer, or None (a problem)."""
        cp = _load_json(path, "checkpoint.json")
        if self.signer is None:
            self.fail("custody/checkpoint.json: no key to check its signature with")
            return None
        try:
            minisign.verify(custody.checkpoint_bytes(cp["tree_size"], cp["root"], cp["head_hash"], cp["at"]),
                            cp["signature"], self.signer)
        except minisign.SignatureError as exc:
            self.fail(f"custody/checkpoint.json: {exc}")
            return None
        if cp.get("public_key") != self.signer.base64:
            self.fail(f"custody/checkpoint.json names a key other than its signer {minisign.fingerprint(self.signer)}")
        return cp

    def custody(self) -> None:
        cp_path, events_path, proofs_path = (self.file(f"custody/{n}") for n in
                                             ("checkpoint.json", "events.jsonl", "proofs.jsonl"))
        if cp_path is None or events_path is None or proofs_path is None:
            self.fail("custody: checkpoint, events or proofs missing")
            return
        cp = self.checkpoint(cp_path)
        if cp is None:
            return
        events = {e["seq"]: e for e in _jsonl(events_path)}
        proofs = {p["seq"]: p for p in _jsonl(proofs_path)}
        if self.head is None or any(cp.get(k) != self.head.get(k) for k in ("tree_size", "root", "head_hash")):
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
        for cap in self.captured:
            event = by_capture.get(cap["capture_id"])
            if event is None or event["seq"] != cap["custody_seq"]:
                if cap["custody_seq"] is not None or event is not None:
                    self.fail(f"capture {cap['capture_id']}: its custody event is missing")
                continue
            details = event.get("details", {})
            if details.get("body_sha256") != cap["body_sha256"] or \
                    details.get("warc_record_id") != cap["warc_record_id"]:
                self.fail(f"capture {cap['capture_id']}: custody event {event['seq']} records other evidence")
        self.report.ok.append(f"custody: {len(events)} events proved against checkpoint "
                              f"{cp['tree_size']}/{cp['root'][:16]}…")


def verify_bundle(path: Path, *, trusted: list[minisign.PublicKey] | None = None,
                  tsa_roots: list[x509.Certificate] | None = None, limits: ZipLimits = ZipLimits()) -> Report:
    """Verify a bundle against the `trusted` signer keys (none: at best UNVERIFIED);
    Unreadable when it cannot be read or is refused as hostile."""
    report = Report()
    try:
        with opened(Path(path), report, limits) as root:
            _Checker(root, report, list(trusted or []), tsa_roots, limits).run()
    except OSError as exc:
        raise Unreadable(f"{path}: {exc}") from None
    return report


def verify_pinned(path: Path, *, keys_given: tuple[str, ...] = (), trusted_keys: Path | None = None,
                  tsa_roots: Path | None = None) -> Report:
    """`nigran verify BUNDLE`: verify against the keys given (.pub files or base64 lines) and the trusted-keys
    file, with the TSA roots of `tsa_roots` (default: the configured ones, else the bundle's own).
    OSError, SignatureError or TimestampError when a key or root file cannot be used; Unreadable as verify_bundle."""
    trusted = keys.pinned_keys(keys_given, trusted_keys)
    return verify_bundle(path, trusted=trusted, tsa_roots=timestamp.load_roots(tsa_roots) or None)
