"""Stores and bundles made by hand for the evidence tests."""
from __future__ import annotations

import gzip
import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

from nigran.storage.db import Database
from nigran.storage.recorder import OfferData, Recorder

AT = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def make_store(home: Path, db_url: str, posts: list[dict]) -> Database:
    """A store holding one run; each post dict (url, text, title, categories, identifiers) is one
    captured page with one offer."""
    db = Database(db_url)
    recorder = Recorder(db, home / "bodies", operator="collector-1")
    run = recorder.start_run("manual")
    for n, p in enumerate(posts):
        html = f"<html><head><title>{p.get('title', '')}</title></head><body>{p['text']}</body></html>".encode()
        seen = AT + timedelta(days=n % 3, minutes=n)
        capture_id, _ = recorder.capture(
            body=gzip.compress(html), run_id=run, source="market-x", kind="http", url=p["url"], final_url=p["url"],
            method="GET", status=200, headers=[["Content-Type", "text/html; charset=utf-8"],
                                               ["Content-Encoding", "gzip"]],
            fetched_at=seen, transport="tor", circuit_id="17", request_headers=[["User-Agent", "nigran-test"]],
            started_at=seen - timedelta(seconds=2))
        if p.get("screenshot"):
            recorder.capture_artifact(page_capture_id=capture_id, role="screenshot", data=p["screenshot"],
                                      content_type="image/png", url=p["url"], source="market-x", run_id=run,
                                      fetched_at=seen, transport="tor", circuit_id="17")
        recorder.post(source="market-x", post_key=f"{p['url']}#1", capture_id=capture_id, seen_at=seen,
                      url=p["url"], title=p.get("title"), author=p.get("author", "seller"), text=p["text"],
                      offer=OfferData(kind="offer", categories=p.get("categories", ["cnic"]),
                                      prices=[{"amount": 500, "currency": "PKR"}],
                                      contacts=[{"type": "telegram", "value": "@seller"}], volume=None,
                                      identifiers=p.get("identifiers", [])))
    recorder.finish_run(run, "finished", 0, {})
    recorder.close()
    return db


def rehash_listed(bundle: Path, manifest: dict) -> None:
    """Re-hash every file the manifest lists into it and into SHA256SUMS, as a forger would."""
    files = sorted(manifest["files"], key=lambda f: f["path"] == "SHA256SUMS")
    for entry in files:
        if entry["path"] == "SHA256SUMS":
            (bundle / "SHA256SUMS").write_text("".join(f"{f['sha256']}  {f['path']}\n" for f in files[:-1]))
        data = (bundle / entry["path"]).read_bytes()
        entry.update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
