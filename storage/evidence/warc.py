"""WARC/1.1 evidence files with SHA-256 digests: writing, verifying, reading back.

Records are serialised here, each as its own gzip member, with block and payload digests as
``sha256:<64 hex>`` (the form ``sha256sum`` prints, accepted by ``warcio check``); reading and
verifying use warcio's parser.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit
from uuid import uuid4

from warcio.archiveiterator import ArchiveIterator

from nigran.storage.home import private_file
from nigran.storage.utc import utc_text

FIDELITY_NOTE = (
    "HTTP status line and headers are re-serialised from the crawler's parsed view "
    "(HTTP/1.1 framing); the body is byte-exact as received after transfer decoding, "
    "with any Content-Encoding kept; a Transfer-Encoding header is stored as "
    "X-Nigran-Orig-Transfer-Encoding because the stored body is no longer transfer-encoded")
_ORIG_TE = "X-Nigran-Orig-Transfer-Encoding"
_BUF = 64 * 1024
_MAX_HTTP_HEAD = 1024 * 1024
_GZIP_LEVEL = 6  # level 9 costs half as much CPU again on real pages, for files under 1% smaller
_HTTP_TYPES = {"response": "application/http; msgtype=response", "request": "application/http; msgtype=request"}
_NO_PAYLOAD_DIGEST = {"warcinfo"}
_COMPUTED = {"WARC-Payload-Digest", "WARC-Block-Digest", "Content-Type", "Content-Length"}


class WarcError(ValueError):
    """A WARC record is unreadable or fails its digest."""


def _sha256(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return "sha256:" + digest.hexdigest()


def _header_bytes(value: str | bytes) -> bytes:
    """A header line's text as bytes: bytes as given, text as ISO-8859-1 (the bytes it was decoded
    from), or UTF-8 for text no HTTP parser could have produced."""
    if isinstance(value, bytes):
        return value
    try:
        return value.encode("iso-8859-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def _http_head(start_line: str, headers) -> bytes:
    """An HTTP message's start line and header block, as it goes into a request or response record."""
    lines = [_header_bytes(start_line)]
    lines += [_header_bytes(name) + b": " + _header_bytes(value) for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _gzip_member(*parts: bytes) -> bytes:
    zipper = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)
    return b"".join([*(zipper.compress(part) for part in parts), zipper.flush()])


def _one_line(text: str) -> str:
    if "\r" in text or "\n" in text:
        raise ValueError(f"WARC field must be a single line: {text[:60]!r}")
    return text


def _warc_fields(fields: Mapping[str, object]) -> bytes:
    """application/warc-fields: one ``name: value`` line each; list values repeat the name."""
    lines = []
    for name, value in fields.items():
        for item in (value if isinstance(value, (list, tuple)) else [value]):
            lines.append(f"{_one_line(name)}: {_one_line(str(item))}\r\n")
    return "".join(lines).encode("utf-8")


def _request_target(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class WarcWriter:
    """Append-only writer of gzipped WARC/1.1 files in ``directory``.

    A new file (``<prefix>-<UTC timestamp>-<serial>.warc.gz``) is started once the
    current one has reached ``max_size`` bytes; the warcinfo fields are repeated
    at the start of every file. Existing files are never overwritten.
    """

    def __init__(self, directory: str | os.PathLike, prefix: str = "nigran",
                 max_size: int = 1_000_000_000):
        self.directory = Path(directory)
        self.prefix = prefix
        self.max_size = max_size
        self.path: Path | None = None  # the file being written
        self.written = 0  # bytes in that file: offsets are counted, never asked of the file
        self.last_offset = 0  # where the last record written starts
        self._fh = None
        self._serial = 0
        self._info_fields: dict | None = None
        self._warcinfo_id: str | None = None

    def __enter__(self) -> WarcWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def sync(self) -> None:
        """Make every record written so far durable, keeping the file open."""
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self.sync()
            self._fh.close()
            self._fh = None

    def _ready(self) -> bool:
        """Open the first file, or the next one when the current is full; True if opened."""
        if self._fh is not None and self.written < self.max_size:
            return False
        self.close()
        self._serial += 1
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S%f")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / f"{self.prefix}-{stamp}-{self._serial:05d}.warc.gz"
        self._fh = os.fdopen(private_file(self.path, new=True), "ab")
        self.written = 0
        self._warcinfo_id = None
        if self._info_fields is not None:
            self._write_warcinfo()
        return True

    def _write(self, rec_type: str, uri: str, headers: dict, payload: bytes = b"",
               content_type: str | None = None, http_head: bytes = b"",
               extra: Mapping[str, object] | None = None) -> tuple[str, int]:
        """Write one record (``http_head`` + ``payload`` is its block); return its WARC-Record-ID and
        offset in the file.

        ``extra`` WARC headers may add fields but not replace the writer's own.
        """
        record_id = f"<urn:uuid:{uuid4()}>"
        warc_headers = {"WARC-Type": rec_type, "WARC-Record-ID": record_id}
        if uri:
            warc_headers["WARC-Target-URI"] = uri
        if self._warcinfo_id and rec_type != "warcinfo":
            warc_headers["WARC-Warcinfo-ID"] = self._warcinfo_id
        warc_headers.update(headers)
        for name, value in (extra or {}).items():
            if name in warc_headers or name in _COMPUTED:
                raise ValueError(f"{name} is set by the writer")
            warc_headers[name] = value
        payload_digest = _sha256(payload)
        if rec_type not in _NO_PAYLOAD_DIGEST:
            warc_headers["WARC-Payload-Digest"] = payload_digest
        warc_headers["WARC-Block-Digest"] = _sha256(http_head, payload) if http_head else payload_digest
        warc_headers["Content-Type"] = _HTTP_TYPES.get(rec_type, content_type)
        warc_headers["Content-Length"] = len(http_head) + len(payload)
        head = "WARC/1.1\r\n" + "".join(f"{_one_line(k)}: {_one_line(str(v))}\r\n"
                                         for k, v in warc_headers.items() if v is not None) + "\r\n"
        member = _gzip_member(head.encode("utf-8"), http_head, payload, b"\r\n\r\n")
        self._fh.write(member)
        self.last_offset, self.written = self.written, self.written + len(member)
        return record_id, self.last_offset

    def _write_warcinfo(self) -> str:
        self._warcinfo_id, _ = self._write(
            "warcinfo", "", {"WARC-Date": utc_text(datetime.now(timezone.utc)),
                             "WARC-Filename": self.path.name},
            _warc_fields(self._info_fields), "application/warc-fields")
        return self._warcinfo_id

    def write_warcinfo(self, fields: Mapping[str, object]) -> str:
        """Describe the capture run (tool, version, operator, route...).

        A ``fidelity`` field explaining what is byte-exact is added unless given.
        """
        self._info_fields = {"format": "WARC File Format 1.1", "fidelity": FIDELITY_NOTE,
                             **fields}
        return self._warcinfo_id if self._ready() else self._write_warcinfo()

    def write_exchange(self, url: str, request_method: str, request_headers: list[tuple],
                       status: int, reason: str, response_headers: list[tuple], body: bytes,
                       fetched_at: datetime, ip: str | None = None,
                       extra_headers: Mapping[str, object] | None = None,
                       ) -> tuple[str, str, str, int]:
        """Write a response record and its request record, linked by WARC-Concurrent-To.

        ``body`` is the message body as received, still content-encoded if the
        response says so. Header names and values may be str or bytes.
        ``extra_headers`` are added to the response record's WARC headers.
        Returns (request id, response id, WARC file name, response record offset).
        """
        date = utc_text(fetched_at)
        self._ready()
        resp_headers = [(_ORIG_TE if _header_bytes(k).lower() == b"transfer-encoding" else k, v)
                        for k, v in response_headers]
        response_id, offset = self._write(
            "response", url, {"WARC-Date": date, "WARC-IP-Address": ip}, body,
            http_head=_http_head(f"HTTP/1.1 {status} {reason or ''}".rstrip(), resp_headers),
            extra=extra_headers)
        request_id, _ = self._write(
            "request", url, {"WARC-Date": date, "WARC-Concurrent-To": response_id},
            http_head=_http_head(f"{request_method} {_request_target(url)} HTTP/1.1", request_headers))
        return request_id, response_id, self.path.name, offset

    def write_resource(self, uri: str, content_type: str, data: bytes, fetched_at: datetime,
                       concurrent_to: str | None = None) -> str:
        """Store a derived capture (screenshot, rendered DOM) of ``uri``."""
        date = utc_text(fetched_at)
        self._ready()
        record_id, _ = self._write(
            "resource", uri, {"WARC-Date": date, "WARC-Concurrent-To": concurrent_to},
            data, content_type)
        return record_id

    def write_metadata(self, uri: str, fields: Mapping[str, object],
                       refers_to: str | None = None) -> str:
        """Store facts about a capture (source, post keys, circuit) as warc-fields."""
        self._ready()
        record_id, _ = self._write(
            "metadata", uri, {"WARC-Date": utc_text(datetime.now(timezone.utc)),
                              "WARC-Refers-To": refers_to},
            _warc_fields(fields), "application/warc-fields")
        return record_id


# --- reading and verifying -------------------------------------------------

@dataclass(frozen=True)
class RecordCheck:
    """One record as found in a file: where it is, its WARC headers, what is wrong with it."""

    offset: int
    length: int
    headers: dict[str, str]
    problems: list[str]


def _decode_digest(value: str) -> bytes | None:
    """Digest bytes from hex or base32 text, None when neither fits SHA-256."""
    try:
        raw = bytes.fromhex(value) if len(value) == 64 else base64.b32decode(value.upper())
    except (ValueError, binascii.Error):
        return None
    return raw if len(raw) == 32 else None


def _digest_problem(headers: Mapping[str, str], name: str, actual: bytes) -> str | None:
    value = headers.get(name)
    if not value:
        return f"{name} missing"
    algo, _, encoded = value.partition(":")
    if algo.lower() != "sha256":
        return f"{name} uses {algo}, not sha256"
    if _decode_digest(encoded.strip()) != actual:
        return f"{name} mismatch: header {value}, content sha256:{actual.hex()}"
    return None


def _scan_block(record, sink: list[bytes] | None = None) -> list[str]:
    """Hash a record's block and payload; return the problems found.

    For application/http records the payload is what follows the HTTP header
    block; otherwise it is the whole block. Payload chunks go to ``sink`` if given.
    """
    headers = dict(record.rec_headers.headers)
    block, payload = hashlib.sha256(), hashlib.sha256()
    in_head = headers.get("Content-Type", "").startswith("application/http")
    head, size = b"", 0
    for chunk in iter(lambda: record.raw_stream.read(_BUF), b""):
        block.update(chunk)
        size += len(chunk)
        if in_head:
            head += chunk
            end = head.find(b"\r\n\r\n")
            if end < 0:
                if len(head) > _MAX_HTTP_HEAD:
                    return ["HTTP header block not terminated"]
                continue
            chunk, in_head = head[end + 4:], False
        payload.update(chunk)
        if sink is not None:
            sink.append(chunk)
    problems = []
    if size != int(headers.get("Content-Length", -1)):
        problems.append(f"block is {size} bytes, Content-Length says {headers.get('Content-Length')}")
    if in_head:
        problems.append("HTTP header block not terminated")
    checks = [("WARC-Block-Digest", block)]
    if record.rec_type not in ("warcinfo", "revisit"):
        checks.append(("WARC-Payload-Digest", payload))
    for name, digest in checks:
        problem = _digest_problem(headers, name, digest.digest())
        if problem:
            problems.append(problem)
    return problems


def iter_records(path: str | os.PathLike) -> Iterator[RecordCheck]:
    """Walk a WARC (gzipped or not), re-computing the SHA-256 digests of every record.

    An unreadable stretch ends the walk with a RecordCheck carrying the error.
    """
    with open(path, "rb") as fh:
        it = ArchiveIterator(fh, no_record_parse=True)
        try:
            for record in it:
                problems = _scan_block(record)
                yield RecordCheck(it.get_record_offset(), it.get_record_length(),
                                  dict(record.rec_headers.headers), problems)
        except Exception as exc:  # hostile or damaged input: report, never crash
            yield RecordCheck(it.offset, 0, {}, [f"unreadable: {type(exc).__name__}: {exc}"])


def _printable(text: str, limit: int = 300) -> str:
    """Escape control characters (the text may come from a hostile file) and clip."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[:limit] + "..."


def verify_warc(path: str | os.PathLike) -> list[str]:
    """Problems found in a WARC file, in file order (empty when every digest holds).

    Each problem names the file, the record offset and id; a file without
    records is a problem too.
    """
    problems, seen = [], False
    for check in iter_records(path):
        seen = True
        where = " ".join(filter(None, [Path(path).name, f"@{check.offset}",
                                       check.headers.get("WARC-Record-ID")]))
        problems.extend(_printable(f"{where}: {problem}") for problem in check.problems)
    return problems if seen else [f"{Path(path).name}: no WARC records"]


def read_record(path: str | os.PathLike, offset: int) -> tuple[dict[str, str], bytes]:
    """Read the record at ``offset``: its WARC headers and payload (an HTTP body as stored).

    Raises WarcError when the record is unreadable or fails a digest.
    """
    with open(path, "rb") as fh:
        fh.seek(offset)
        try:
            record = next(iter(ArchiveIterator(fh, no_record_parse=True)))
            chunks: list[bytes] = []
            problems = _scan_block(record, chunks)
        except Exception as exc:  # hostile or damaged input
            raise WarcError(f"{Path(path).name} @{offset}: unreadable: {exc}") from exc
    if problems:
        raise WarcError(f"{Path(path).name} @{offset}: " + "; ".join(problems))
    return dict(record.rec_headers.headers), b"".join(chunks)
