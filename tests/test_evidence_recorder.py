"""Capture time: every capture also goes to the run's WARC file, with its custody event, on SQLite and PostgreSQL."""
import gzip
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from nigran.storage.evidence import custody, keys
from nigran.storage.evidence.warc import read_record, verify_warc
from nigran.storage.models import Capture, CaptureArtifact, CustodyCheckpoint, CustodyEvent
from tests.support.stores import PNG, make_store

WARCIO = Path(sys.executable).parent / "warcio"
def test_captures_are_written_to_warc_with_custody_events(home, db_url):
    db = make_store(home, db_url, [
        {"url": "http://marketxyz.onion/item/1", "text": "CNIC copy 35202-1234567-1 Rs 500", "screenshot": PNG,
         "identifiers": [("cnic", "3520212345671")]},
        {"url": "http://marketxyz.onion/item/2", "text": "SIM data all networks"}])
    with db.session() as s:
        captures = s.scalars(select(Capture).order_by(Capture.id)).all()
        events = s.scalars(select(CustodyEvent).order_by(CustodyEvent.seq)).all()
        artefact = s.scalars(select(CaptureArtifact)).one()
        assert s.scalars(select(CustodyCheckpoint)).one().tree_size == 3
        assert custody.verify_chain(s, keys.public_key(home)).problems == []

    assert [c.kind for c in captures] == ["http", "screenshot", "http"]
    assert artefact.page_capture_id == captures[0].id and artefact.capture_id == captures[1].id
    assert [e.capture_id for e in events] == [c.id for c in captures]
    assert {e.kind for e in events} == {"capture stored"} and events[0].operator == "collector-1"
    assert events[0].details["started_at"] == "2026-11-20T09:29:58.000000Z"

    warc = home / "warc" / captures[0].warc_file
    assert {c.warc_file for c in captures} == {warc.name} and warc.name.startswith("nigran-run1-")
    assert verify_warc(warc) == []
    check = subprocess.run([str(WARCIO), "check", "-v", str(warc)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and "fail" not in check.stdout, check.stdout
    # warcinfo, 2 x (response, request), resource, 2 metadata records (post keys)
    assert check.stdout.count("digest pass") == 8

    headers, body = read_record(warc, captures[0].warc_offset)
    assert headers["WARC-Record-ID"] == captures[0].warc_record_id
    assert headers["WARC-Nigran-Transport"] == "tor" and headers["WARC-Nigran-Circuit"] == "17"
    assert gzip.decompress(body).startswith(b"<html>")  # as received: still gzip-encoded
    assert body == (home / "bodies").joinpath(captures[0].body_sha256[:2], captures[0].body_sha256[2:4],
                                              captures[0].body_sha256).read_bytes()
    shot_headers, shot = read_record(warc, captures[1].warc_offset)
    assert shot == PNG and shot_headers["WARC-Type"] == "resource"
    assert shot_headers["WARC-Concurrent-To"] == captures[0].warc_record_id

    raw = gzip.decompress(warc.read_bytes())
    assert b"operator: collector-1" in raw and b"git-commit: " in raw and b"fidelity: " in raw
    assert "post-key: http://marketxyz.onion/item/1#1".encode() in raw
    assert b"GET /item/1 HTTP/1.1\r\nUser-Agent: nigran-test" in raw

