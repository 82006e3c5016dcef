"""WARC/1.1 evidence writer: SHA-256 digests, warcio check, byte-exact read-back, tamper detection."""

import gzip
import hashlib
import random
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from nigran.storage.evidence.warc import FIDELITY_NOTE, WarcError, WarcWriter, iter_records, read_record, verify_warc

WARCIO = Path(sys.executable).parent / "warcio"
FETCHED = datetime(2026, 3, 1, 12, 30, 45, 123456, tzinfo=timezone.utc)
URL = "http://examplemarketxyz.onion/listing/42?page=2"
HTML = "<html><body>CNIC 35202-1234567-1 \u0627\u0631\u062f\u0648</body></html>".encode()
BODY = gzip.compress(HTML)  # as received: still Content-Encoding: gzip
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
REQUEST_HEADERS = [(b"User-Agent", b"nigran-test"), ("Accept", "*/*")]
RESPONSE_HEADERS = [(b"Content-Type", b"text/html; charset=utf-8"),
                    (b"Content-Encoding", b"gzip"), (b"Transfer-Encoding", b"chunked"),
                    (b"Set-Cookie", b"a=1"), (b"Set-Cookie", b"b=2"), (b"X-Name", b"caf\xe9")]


def warcio_check(path):
    done = subprocess.run([str(WARCIO), "check", "-v", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "digest pass" in done.stdout and "fail" not in done.stdout
    return done.stdout


def records(path):
    with open(path, "rb") as fh:
        return [(dict(r.rec_headers.headers), r.content_stream().read() if r.rec_type != "response"
                 else r.raw_stream.read()) for r in ArchiveIterator(fh)]


@pytest.fixture
def capture(tmp_path):
    with WarcWriter(tmp_path, prefix="case") as writer:
        info_id = writer.write_warcinfo({"software": "nigran 0.1.0", "operator": "analyst-1",
                                         "route": "tor socks5h://127.0.0.1:9050"})
        req_id, resp_id, name, offset = writer.write_exchange(
            URL, "GET", REQUEST_HEADERS, 200, "OK", RESPONSE_HEADERS, BODY, FETCHED,
            ip="10.0.0.7", extra_headers={"WARC-Nigran-Circuit": "7"})
        shot_id = writer.write_resource(URL, "image/png", PNG, FETCHED, concurrent_to=resp_id)
        meta_id = writer.write_metadata(URL, {"source": "market-x", "post": ["42", "43"]},
                                        refers_to=resp_id)
    return dict(path=tmp_path / name, info=info_id, req=req_id, resp=resp_id, offset=offset,
                shot=shot_id, meta=meta_id)


def test_warcio_check_passes_and_digests_are_sha256(capture):
    out = warcio_check(capture["path"])
    assert out.count("digest pass") == 5
    for headers, _ in records(capture["path"]):
        for name in ("WARC-Block-Digest", "WARC-Payload-Digest"):
            if name in headers:
                algo, value = headers[name].split(":")
                assert algo == "sha256" and len(value) == 64
    assert verify_warc(capture["path"]) == []


def test_exchange_records(capture):
    by_id = {h["WARC-Record-ID"]: (h, body) for h, body in records(capture["path"])}
    info, fields = by_id[capture["info"]]
    assert info["WARC-Type"] == "warcinfo" and info["WARC-Filename"] == capture["path"].name
    assert FIDELITY_NOTE.encode() in fields and b"operator: analyst-1" in fields

    response, body = by_id[capture["resp"]]
    assert response["WARC-Type"] == "response" and response["WARC-Target-URI"] == URL
    assert response["WARC-Date"] == "2026-03-01T12:30:45.123456Z"
    assert response["WARC-IP-Address"] == "10.0.0.7" and response["WARC-Nigran-Circuit"] == "7"
    assert response["WARC-Warcinfo-ID"] == capture["info"]
    assert response["WARC-Payload-Digest"] == "sha256:" + hashlib.sha256(BODY).hexdigest()

    request, _ = by_id[capture["req"]]
    assert request["WARC-Type"] == "request"
    assert request["WARC-Concurrent-To"] == capture["resp"]
    assert request["WARC-Date"] == response["WARC-Date"]

    shot, png = by_id[capture["shot"]]
    assert shot["Content-Type"] == "image/png" and png == PNG
    assert shot["WARC-Concurrent-To"] == capture["resp"]
    meta, text = by_id[capture["meta"]]
    assert meta["WARC-Refers-To"] == capture["resp"]
    assert text == b"source: market-x\r\npost: 42\r\npost: 43\r\n"


def test_http_blocks_as_written(capture):
    raw = gzip.decompress(capture["path"].read_bytes())
    assert b"GET /listing/42?page=2 HTTP/1.1\r\nUser-Agent: nigran-test\r\nAccept: */*\r\n\r\n" in raw
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Encoding: gzip\r\n"
            b"X-Nigran-Orig-Transfer-Encoding: chunked\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
            b"X-Name: caf\xe9\r\n\r\n")
    assert head + BODY in raw


def test_read_record_is_byte_exact(capture):
    headers, payload = read_record(capture["path"], capture["offset"])
    assert headers["WARC-Record-ID"] == capture["resp"]
    assert payload == BODY and gzip.decompress(payload) == HTML
    offsets = {c.headers["WARC-Record-ID"]: c.offset for c in iter_records(capture["path"])}
    assert offsets[capture["resp"]] == capture["offset"]
    assert read_record(capture["path"], offsets[capture["shot"]])[1] == PNG


def test_flipped_byte_in_gzip_file_is_reported(capture):
    data = bytearray(capture["path"].read_bytes())
    data[capture["offset"] + 200] ^= 0x01
    capture["path"].write_bytes(bytes(data))
    problems = verify_warc(capture["path"])
    assert problems and f"@{capture['offset']}" in problems[0]
    with pytest.raises(WarcError):
        read_record(capture["path"], capture["offset"])


def test_edited_body_is_reported_even_when_recompressed(capture, tmp_path):
    plain = bytearray(gzip.decompress(capture["path"].read_bytes()))
    at = plain.index(BODY) + len(BODY) // 2
    plain[at] ^= 0x01
    edited = tmp_path / "edited.warc"
    edited.write_bytes(bytes(plain))
    problems = verify_warc(edited)
    assert len(problems) == 2
    assert capture["resp"] in problems[0] and "WARC-Payload-Digest mismatch" in " ".join(problems)
    assert "WARC-Block-Digest mismatch" in problems[0]


def test_unreadable_and_empty_files_are_reported(tmp_path):
    junk = tmp_path / "junk.warc.gz"
    junk.write_bytes(b"\x1b[31mnot a warc\n" * 3)
    assert "unreadable" in verify_warc(junk)[0] and "\x1b" not in verify_warc(junk)[0]
    empty = tmp_path / "empty.warc.gz"
    empty.write_bytes(b"")
    assert verify_warc(empty) == ["empty.warc.gz: no WARC records"]


def test_rotation(tmp_path):
    bodies = [random.Random(i).randbytes(2000) for i in range(6)]  # incompressible
    with WarcWriter(tmp_path, max_size=5000) as writer:
        writer.write_warcinfo({"software": "nigran"})
        results = [writer.write_exchange(f"{URL}&n={i}", "GET", [], 200, "OK", [], body, FETCHED)
                   for i, body in enumerate(bodies)]
    files = sorted(tmp_path.glob("*.warc.gz"))
    assert len(files) > 1 and {r[2] for r in results} == {f.name for f in files}
    for path in files:
        warcio_check(path)
        assert verify_warc(path) == []
        first, *rest = records(path)
        assert first[0]["WARC-Type"] == "warcinfo" and first[0]["WARC-Filename"] == path.name
        # request and response of an exchange share a file
        responses = {h["WARC-Record-ID"] for h, _ in rest if h["WARC-Type"] == "response"}
        assert {h["WARC-Concurrent-To"] for h, _ in rest if h["WARC-Type"] == "request"} == responses
    for body, (_, resp_id, name, offset) in zip(bodies, results):
        headers, payload = read_record(tmp_path / name, offset)
        assert headers["WARC-Record-ID"] == resp_id and payload == body


def test_input_validation(tmp_path):
    with WarcWriter(tmp_path) as writer:
        with pytest.raises(ValueError, match="timezone"):
            writer.write_resource(URL, "text/html", b"x", datetime(2026, 1, 1))
        with pytest.raises(ValueError, match="set by the writer"):
            writer.write_exchange(URL, "GET", [], 200, "OK", [], b"", FETCHED,
                                  extra_headers={"WARC-Date": "2000-01-01T00:00:00Z"})
        with pytest.raises(ValueError, match="set by the writer"):
            writer.write_exchange(URL, "GET", [], 200, "OK", [], b"", FETCHED, extra_headers={"Content-Length": "0"})
        with pytest.raises(ValueError, match="single line"):
            writer.write_metadata(URL, {"note": "two\r\nWARC-Type: forged"})


def test_header_text_beyond_latin1_is_kept_as_utf8(tmp_path):
    """Headers off the wire are Latin-1 text of their bytes; text no parser could produce is kept as UTF-8."""
    with WarcWriter(tmp_path) as writer:
        _, resp_id, name, offset = writer.write_exchange(
            URL, "GET", [("X-Watch", "نگران")], 200, "OK", [("X-Title", "نگران"), ("X-Raw", "caf\xe9")], b"x", FETCHED)
    raw = gzip.decompress((tmp_path / name).read_bytes())
    assert "X-Title: نگران\r\n".encode() in raw and "X-Watch: نگران\r\n".encode() in raw
    assert b"X-Raw: caf\xe9\r\n" in raw
    warcio_check(tmp_path / name)
    assert verify_warc(tmp_path / name) == []
    headers, payload = read_record(tmp_path / name, offset)
    assert headers["WARC-Record-ID"] == resp_id and payload == b"x"
