"""The evidentiary copy of every capture: WARC files under <home>/warc/, one series per crawl run.

Each file opens with a warcinfo record (tool, versions, git commit, host, operator, route, fidelity);
HTTP captures are response + request records, browser artefacts resource records, and the posts cut
from a page a metadata record referring to its response. Records are copied byte for byte into
exports, so their ids and digests stay those written at capture time.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from pathlib import Path
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator

from nigran.storage.evidence.provenance import host, tool_info
from nigran.storage.evidence.warc import WarcWriter

ROUTE_NOTE = ("direct, or Tor through its SOCKS5 port with one circuit-isolation username per source and "
              "names resolved inside Tor; each response's WARC-Nigran-Transport says which")
_COPY_BUF = 1 << 20


@dataclass(frozen=True)
class Pointer:
    """Where a capture's record is: file name under the WARC root, record id, offset."""

    file: str
    record_id: str
    offset: int


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class RunWarcs:
    """The WARC writers of one process: one per run, each file starting with the run's warcinfo."""

    MAX_OPEN = 4  # a run whose writer was closed continues in a new file

    def __init__(self, root: Path, operator: str, tag: str | None = None):
        self.root = Path(root)
        self.operator = operator
        self.tag = tag  # in the file names: writers sharing a WARC directory never collide
        self.tor_socks = "none: no source of this run uses Tor"  # the SOCKS address the crawl really used
        self._writers: dict[int | None, WarcWriter] = {}

    def _writer(self, run_id: int | None) -> WarcWriter:
        writer = self._writers.get(run_id)
        if writer is None:
            if len(self._writers) >= self.MAX_OPEN:
                self.close(next(iter(self._writers)))
            prefix = f"nigran-run{run_id}" if run_id is not None else "nigran"
            writer = WarcWriter(self.root, prefix=f"{prefix}-{self.tag}" if self.tag else prefix)
            tool = tool_info()
            writer.write_warcinfo({
                "software": f"{tool['name']} {tool['version']}", "git-commit": tool["git_commit"],
                "python": tool["python"], "scrapy": tool["scrapy"], "warcio": tool["warcio"],
                "httpx2": tool["httpx2"], "platform": tool["platform"], "host": host(),
                "operator": self.operator, "run": "" if run_id is None else run_id, "route": ROUTE_NOTE,
                "tor-socks": self.tor_socks})
            self._writers[run_id] = writer
        return writer

    def exchange(self, run_id: int | None, *, url: str, method: str, request_headers, status: int,
                 headers, body: bytes, fetched_at: datetime, extra: Mapping[str, object]) -> Pointer:
        """Write a response (body as received) and its request; point at the response."""
        writer = self._writer(run_id)
        _, response_id, name, offset = writer.write_exchange(
            url, method, request_headers, status, _reason(status), headers, body, fetched_at,
            extra_headers={k: v for k, v in extra.items() if v is not None})
        return Pointer(name, response_id, offset)

    def resource(self, run_id: int | None, *, url: str, content_type: str, data: bytes, fetched_at: datetime,
                 concurrent_to: str | None) -> Pointer:
        writer = self._writer(run_id)
        record_id = writer.write_resource(url, content_type, data, fetched_at, concurrent_to=concurrent_to)
        return Pointer(writer.path.name, record_id, writer.last_offset)

    def metadata(self, run_id: int | None, url: str, fields: Mapping[str, object], refers_to: str) -> None:
        self._writer(run_id).write_metadata(url, fields, refers_to=refers_to)

    def sync(self) -> None:
        """Flush and fsync every open file (before the rows pointing into them are committed)."""
        for writer in self._writers.values():
            writer.sync()

    def close(self, run_id: int | None = None, *, every: bool = False) -> None:
        for key in list(self._writers) if every else [run_id]:
            writer = self._writers.pop(key, None)
            if writer is not None:
                writer.close()
                if writer.path is not None:
                    writer.path.chmod(0o400)  # finished: read-only, and the owner's only


# --- reading back ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class RawRecord:
    offset: int
    length: int
    headers: dict[str, str]


def scan_records(path: Path, offset: int, count: int) -> list[RawRecord]:
    """The `count` records starting at `offset`: where each is and its WARC headers (bodies skipped)."""
    out: list[RawRecord] = []
    with open(path, "rb") as fh:
        fh.seek(offset)
        it = ArchiveIterator(fh, no_record_parse=True)
        for record in it:
            headers = dict(record.rec_headers.headers)
            out.append(RawRecord(it.get_record_offset(), it.get_record_length(), headers))
            if len(out) == count:
                break
    return out


def copy_bytes(path: Path, offset: int, length: int, out: BinaryIO) -> None:
    """Stream a byte range of a file (whole gzip members: records as written) into `out`."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        left = length
        while left:
            chunk = fh.read(min(left, _COPY_BUF))
            if not chunk:
                raise ValueError(f"{path.name}: ends before offset {offset + length}")
            out.write(chunk)
            left -= len(chunk)


def pointer_problem(root: Path, pointer: Pointer, body_sha256: str) -> str | None:
    """Why the record a capture row points to is not its record, or None."""
    where = f"{pointer.file} @{pointer.offset}"
    path = root / pointer.file
    if not path.is_file():
        return f"{where}: WARC file missing"
    try:
        found = scan_records(path, pointer.offset, 1)
    except Exception as exc:  # damaged file: report, never crash
        return f"{where}: unreadable: {type(exc).__name__}: {exc}"
    if not found or found[0].headers.get("WARC-Record-ID") != pointer.record_id:
        return f"{where}: record {pointer.record_id} is not there"
    digest = found[0].headers.get("WARC-Payload-Digest", "")
    if digest != f"sha256:{body_sha256}":
        return f"{where}: record payload digest {digest} does not match the capture's sha256 {body_sha256}"
    return None


def pointers(rows) -> Iterator[tuple[int, Pointer, str]]:
    """(capture id, pointer, body sha256) for capture rows that have a WARC record."""
    for row in rows:
        if row.warc_file:
            yield row.id, Pointer(row.warc_file, row.warc_record_id, row.warc_offset), row.body_sha256
