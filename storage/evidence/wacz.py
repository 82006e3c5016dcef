"""WACZ 1.1.1 packages of exported captures: archive/, indexes/index.cdx (CDXJ lines), pages/pages.jsonl,
datapackage.json (sha256 of every file) and datapackage-digest.json.

Records are copied byte for byte from the capture-time WARC files (each record is its own gzip
member), so WARC-Record-IDs and digests are those written when the page was fetched. nigran packs the
WACZ itself: py-wacz's `create` takes whole WARC files (every record of a run, not the selected
captures) and cdxj-indexer would parse the copied records again for the index lines their headers give.
"""
from __future__ import annotations

import hashlib
import html
import json
import re
import zipfile
import zlib
from datetime import datetime
from pathlib import Path

import surt

from nigran.storage.evidence.warcstore import RawRecord, copy_bytes
from nigran.storage.utc import utc_text

WACZ_VERSION = "1.1.1"
WARC_NAME = "data.warc.gz"
INDEX_PATH = "indexes/index.cdx"  # pywb's `wb-manager add --unpack-wacz` imports .cdx and .cdx.gz
INDEXED_TYPES = {"response", "resource"}
TITLE_HEAD = 64 << 10  # a page's <title> is looked for in the first 64 KiB of its body
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)


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


class _RecordHash:
    """Passes writes on to `out` and hashes them: the SHA-256 of one record as stored."""

    def __init__(self, out: _HashingFile):
        self.out = out
        self.sha256 = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.out.write(data)
        self.sha256.update(data)


def _timestamp14(warc_date: str) -> str:
    return "".join(c for c in warc_date if c.isdigit())[:14]


def page_title(body: Path, content_encoding: str = "") -> str | None:
    """The <title> of a stored HTML body (as received: identity, gzip or deflate), from its first bytes only;
    None when it has none there or is encoded otherwise."""
    coding = content_encoding.strip().lower()
    try:
        with open(body, "rb") as fh:
            head = fh.read(TITLE_HEAD)
        if coding in ("gzip", "x-gzip", "deflate"):
            head = zlib.decompressobj(zlib.MAX_WBITS | 32).decompress(head, TITLE_HEAD)
        elif coding not in ("", "identity"):
            return None
    except (OSError, zlib.error):
        return None
    found = _TITLE.search(head)
    title = " ".join(html.unescape(found.group(1).decode("utf-8", "replace")).split()) if found else ""
    return title[:300] or None


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
        """Copy `records` (in file order) from `source`, each byte for byte; index its response or resource.

        Returns {record id: offset in the package's WARC}.
        """
        if not records or (str(source), records[0].offset) in self._copied:
            return {}
        self._copied.add((str(source), records[0].offset))
        offsets = {}
        for record in records:
            h = record.headers
            offsets[h.get("WARC-Record-ID", "")] = offset = self.warc.size
            stored = _RecordHash(self.warc)
            copy_bytes(source, record.offset, record.length, stored)
            if h.get("WARC-Type") not in INDEXED_TYPES:
                continue
            url = h.get("WARC-Target-URI", "")
            # recordDigest as cdxj-indexer writes it: the SHA-256 of the record as stored (its gzip member)
            fields = {"url": url, "mime": mime or h.get("Content-Type", ""), "digest": h.get("WARC-Payload-Digest", ""),
                      "length": str(record.length), "offset": str(offset), "filename": WARC_NAME,
                      "recordDigest": f"sha256:{stored.sha256.hexdigest()}"}
            if status is not None and h.get("WARC-Type") == "response":
                fields["status"] = str(status)
            self.index.append((surt.surt(url), _timestamp14(h.get("WARC-Date", "")), json.dumps(fields)))
        return offsets

    def add_page(self, url: str, fetched_at: datetime, record_id: str, title: str | None = None) -> None:
        """List a page; its id is its response's WARC-Record-ID (a UUID), its title the URL when none is known."""
        page = {"id": record_id.removeprefix("<urn:uuid:").removesuffix(">"), "url": url, "ts": utc_text(fetched_at),
                "title": title or url}
        self.pages.write(json.dumps(page, ensure_ascii=False).encode() + b"\n")

    def finish(self, out: Path, *, title: str, software: str, created: datetime) -> None:
        """Write the index and datapackage files and pack everything into `out`."""
        self.warc.close()
        self.pages.close()
        index = _HashingFile(self.workdir / Path(INDEX_PATH).name)
        for key, ts, fields in sorted(self.index):
            index.write(f"{key} {ts} {fields}\n".encode())
        index.close()
        members = [(f"archive/{WARC_NAME}", self.warc), (INDEX_PATH, index), ("pages/pages.jsonl", self.pages)]
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
