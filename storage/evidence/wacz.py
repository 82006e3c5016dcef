"""WACZ 1.2 packages of exported captures: archive/, indexes/index.cdxj, pages/pages.jsonl,
datapackage.json (sha256 of every file) and datapackage-digest.json.

Records are copied byte for byte from the capture-time WARC files (each record is its own gzip
member), so WARC-Record-IDs and digests are those written when the page was fetched.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import datetime
from pathlib import Path

import surt

from nigran.storage.evidence.warcstore import RawRecord, copy_bytes
from nigran.storage.utc import utc_text

WACZ_VERSION = "1.2.0"
WARC_NAME = "data.warc.gz"
INDEXED_TYPES = {"response", "resource"}


class _HashingFile:
    """A write-only file that counts and hashes what goes through it."""

    def __init__(self, path: Path):
        self.fh = open(path, "xb")
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.fh.write(data)
        self.sha256.update(data)
        self.size += len(data)

    def close(self) -> None:
        self.fh.close()


def _timestamp14(warc_date: str) -> str:
    return "".join(c for c in warc_date if c.isdigit())[:14]


class WaczBuilder:
    """Collects records into one WARC in `workdir`, then packs the WACZ; memory grows with the
    number of index lines, never with the size of the records."""

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.warc = _HashingFile(self.workdir / WARC_NAME)
        self.index: list[tuple[str, str, str]] = []
        self.pages = _HashingFile(self.workdir / "pages.jsonl")
        self.pages.write(json.dumps({"format": "json-pages-1.0", "id": "pages", "title": "Captured pages"}).encode()
                         + b"\n")
        self._copied: set[tuple[str, int]] = set()

    def add(self, source: Path, records: list[RawRecord], *, mime: str = "", status: int | None = None) -> dict:
        """Copy `records` (adjacent, in file order) from `source`; index its response or resource.

        Returns {record id: offset in the package's WARC}.
        """
        if not records or (str(source), records[0].offset) in self._copied:
            return {}
        self._copied.add((str(source), records[0].offset))
        start = self.warc.size
        offsets = {}
        for record in records:
            offsets[record.headers.get("WARC-Record-ID", "")] = start + record.offset - records[0].offset
        copy_bytes(source, records[0].offset, records[-1].offset + records[-1].length - records[0].offset, self.warc)
        for record in records:
            h = record.headers
            if h.get("WARC-Type") not in INDEXED_TYPES:
                continue
            url = h.get("WARC-Target-URI", "")
            fields = {"url": url, "mime": mime or h.get("Content-Type", ""), "digest": h.get("WARC-Payload-Digest", ""),
                      "length": str(record.length), "offset": str(offsets[h["WARC-Record-ID"]]),
                      "filename": WARC_NAME, "recordDigest": h.get("WARC-Block-Digest", "")}
            if status is not None and h.get("WARC-Type") == "response":
                fields["status"] = str(status)
            self.index.append((surt.surt(url), _timestamp14(h.get("WARC-Date", "")), json.dumps(fields)))
        return offsets

    def add_page(self, url: str, fetched_at: datetime, title: str | None = None) -> None:
        page = {"url": url, "ts": utc_text(fetched_at)}
        if title:
            page["title"] = title
        self.pages.write(json.dumps(page, ensure_ascii=False).encode() + b"\n")

    def finish(self, out: Path, *, title: str, software: str, created: datetime) -> None:
        """Write the index and datapackage files and pack everything into `out`."""
        self.warc.close()
        self.pages.close()
        index = _HashingFile(self.workdir / "index.cdxj")
        for key, ts, fields in sorted(self.index):
            index.write(f"{key} {ts} {fields}\n".encode())
        index.close()
        members = [(f"archive/{WARC_NAME}", self.warc), ("indexes/index.cdxj", index), ("pages/pages.jsonl", self.pages)]
        stamp = utc_text(created, fraction=False)
        datapackage = json.dumps({
            "profile": "data-package", "wacz_version": WACZ_VERSION, "title": title, "software": software,
            "created": stamp, "modified": stamp,
            "resources": [{"name": Path(name).name, "path": name, "hash": f"sha256:{f.sha256.hexdigest()}",
                           "bytes": f.size} for name, f in members]}, indent=2, ensure_ascii=False).encode()
        digest = json.dumps({"path": "datapackage.json",
                             "hash": f"sha256:{hashlib.sha256(datapackage).hexdigest()}"}).encode()
        with zipfile.ZipFile(out, "x", allowZip64=True) as zf:
            for name, f in members:
                zf.write(f.fh.name, name, compress_type=zipfile.ZIP_STORED if name.endswith(".gz")
                         else zipfile.ZIP_DEFLATED)
            zf.writestr("datapackage.json", datapackage, compress_type=zipfile.ZIP_DEFLATED)
            zf.writestr("datapackage-digest.json", digest, compress_type=zipfile.ZIP_DEFLATED)
        for _, f in members:
            Path(f.fh.name).unlink()
