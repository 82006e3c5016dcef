"""What the throughput work must not change: WARC offsets and gzip members, segmentation
results."""
import gzip
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from spiders import segment as seg
from spiders.text import parse_html
from storage.db import Database
from storage.evidence.warc import WarcWriter, read_record, verify_warc
from storage.models import Capture
from storage.recorder import Recorder

AT = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)


def test_recorder_rows_point_at_their_warc_records_and_bodies(home):
    recorder = Recorder(Database(f"sqlite:///{home / 'n.db'}"), home / "bodies")
    run = recorder.start_run("manual")
    digests = [recorder.capture(body=b"page %d" % i, run_id=run, source="s", kind="http", url=f"http://x/{i}",
                                final_url=f"http://x/{i}", status=200, headers=[], fetched_at=AT,
                                transport="direct")[1]
               for i in range(3)]
    recorder.close()
    with recorder.db.session() as s:
        rows = s.scalars(select(Capture).order_by(Capture.id)).all()
    for row, digest in zip(rows, digests):
        assert row.body_sha256 == digest
        headers, payload = read_record(home / "warc" / row.warc_file, row.warc_offset)
        assert headers["WARC-Record-ID"] == row.warc_record_id and payload == recorder.bodies.get(digest)


def test_warc_records_are_gzip_members_at_their_offsets(tmp_path):
    with WarcWriter(tmp_path) as writer:
        writer.write_warcinfo({"operator": "me"})
        pointers = [writer.write_exchange(f"http://x/{i}", "GET", [("User-Agent", "t")], 200, "OK",
                                          [("Content-Type", "text/html")], b"<p>%d</p>" % i, AT)
                    for i in range(5)]
        path, written = writer.path, writer._writer.written
    data = path.read_bytes()
    assert written == len(data)
    assert verify_warc(path) == []
    for i, (_, response_id, name, offset) in enumerate(pointers):
        assert name == path.name and data[offset:offset + 2] == b"\x1f\x8b"
        headers, payload = read_record(path, offset)
        assert (headers["WARC-Record-ID"], payload) == (response_id, b"<p>%d</p>" % i)
    assert gzip.decompress(data).count(b"WARC/1.1\r\n") == 11  # warcinfo + 5 x (response, request)


def _content_elements_naive(root):
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag not in seg.SKIP and \
                not any(isinstance(a.tag, str) and a.tag in seg.SKIP for a in el.iterancestors()):
            yield el


@pytest.mark.parametrize("markup", [
    "<html><body><!-- c --><nav><div><p>x</p></div></nav><div><header><a>q</a></header><p>t</p></div></body></html>",
    "<div><div><div>" * 100 + "deep",
    "<svg><nav><g/></nav></svg><aside><p>a</p></aside><main><div class=c>1</div><div class=c>2</div></main>",
])
def test_content_elements_are_the_elements_outside_chrome_in_document_order(markup):
    root = parse_html(markup)
    for sub in [root, *root.iter()]:
        assert list(seg._content_elements(sub)) == list(_content_elements_naive(sub))
