"""What the throughput work must not change: WARC offsets and gzip members, batched post and offer
writes, bodies synced before their captures commit, segmentation results."""
import ctypes
import errno
import gzip
import os
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from nigran.spiders import segment as seg
from nigran.spiders.text import parse_html
from nigran.storage import bodies as bodies_module
from nigran.storage.bodies import BodyStore
from nigran.storage.db import Database
from nigran.storage.evidence.warc import WarcWriter, read_record, verify_warc
from nigran.storage.models import Capture, Offer, OfferIdentifier, Post
from nigran.storage.privacy import identifier_hmac
from nigran.storage.recorder import OfferData, Recorder

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


def _offer(*identifiers):
    return OfferData(kind="offer", categories=["cnic"], prices=[], volume=None,
                     contacts=[{"type": "whatsapp", "value": "+923001234567"}], identifiers=list(identifiers))


def test_sightings_batched_in_one_commit_count_like_sightings_one_by_one(home, db_url):
    recorder = Recorder(Database(db_url), home / "bodies")
    run = recorder.start_run("manual")
    capture = [recorder.capture(body=b"page %d" % i, run_id=run, source="s", kind="http", url=f"http://x/{i}",
                                final_url=f"http://x/{i}", status=200, headers=[], fetched_at=AT,
                                transport="direct")[0] for i in range(3)]
    later = AT.replace(hour=10)
    cnic, phone = ("cnic", "3520212345671"), ("pk_mobile", "+923001234567")
    # one batch: post a seen twice (the second time with a new identifier), post b once without an offer
    first = recorder.post(source="s", post_key="a", capture_id=capture[0], seen_at=AT, url="http://x/0",
                          text="old text", offer=_offer(cnic))
    second = recorder.post(source="s", post_key="a", capture_id=capture[1], seen_at=later, url="http://x/1",
                           text="new text", offer=_offer(cnic, phone))
    plain = recorder.post(source="s", post_key="b", capture_id=capture[1], seen_at=later, url="http://x/1",
                          text="just news")
    assert first.post is None  # known at commit
    recorder.flush()
    assert (first.post.new, second.post.new, plain.post.new) == (True, False, True)
    assert (first.offer.new, second.offer.new, plain.offer) == (True, False, None)
    assert first.post.id == second.post.id != plain.post.id
    # a later batch re-sights post a: one more sighting, identifiers already held are not added again
    third = recorder.post(source="s", post_key="a", capture_id=capture[2], seen_at=later, url="http://x/2",
                          text="newest text", offer=_offer(phone, ("passport", "AB1234567")))
    recorder.close()
    assert (third.post.new, third.offer.new, third.offer.id) == (False, False, first.offer.id)
    with recorder.db.session() as s:
        post = s.scalars(select(Post).where(Post.post_key == "a")).one()
        assert (post.sightings, post.text, post.first_seen.replace(tzinfo=timezone.utc), post.first_capture_id,
                post.latest_capture_id) == (3, "newest text", AT, capture[0], capture[2])
        offer = s.scalars(select(Offer)).one()
        assert (offer.post_id, offer.sightings, offer.first_seen.replace(tzinfo=timezone.utc)) == (post.id, 3, AT)
        assert offer.contacts[0]["value"] != "+923001234567"  # masked
        idents = s.scalars(select(OfferIdentifier).order_by(OfferIdentifier.position)).all()
        assert [(i.type, i.position, i.hmac) for i in idents] == [
            (kind, n, identifier_hmac(kind, value)) for n, (kind, value) in
            enumerate([cnic, phone, ("passport", "AB1234567")])]
        assert s.scalars(select(Post.sightings).where(Post.post_key == "b")).one() == 1


def test_a_body_file_a_crash_left_short_is_written_again(tmp_path):
    store = BodyStore(tmp_path)
    digest = store.put(b"<html>offer</html>")
    os.truncate(store.path(digest), 0)  # as a power cut can leave a renamed file that was never synced
    assert store.put(b"<html>offer</html>") == digest
    store.sync()
    assert store.get(digest) == b"<html>offer</html>"
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [digest]  # no temp files left


def test_nothing_is_committed_while_the_bodies_cannot_be_synced(home, monkeypatch):
    """A failing disk cannot be arranged here, so syncfs is made to fail (EIO): the batch holding the
    captures is not committed until their bodies are durable, and nothing is lost meanwhile."""
    recorder = Recorder(Database(f"sqlite:///{home / 'n.db'}"), home / "bodies")
    run = recorder.start_run("manual")

    def capture(body: bytes) -> str:
        return recorder.capture(body=body, run_id=run, source="s", kind="http", url="http://x/", final_url="http://x/",
                                status=200, headers=[], fetched_at=AT, transport="direct")[1]

    def committed() -> list[str]:
        with recorder.db.session() as s:
            return list(s.scalars(select(Capture.body_sha256).order_by(Capture.id)))

    first = capture(b"first page")
    recorder.flush()

    def failing_syncfs(fd):
        ctypes.set_errno(errno.EIO)
        return -1

    monkeypatch.setattr(bodies_module, "_syncfs", failing_syncfs)
    second = capture(b"second page")
    with pytest.raises(OSError, match="syncing bodies"):
        recorder.flush()
    assert committed() == [first]
    monkeypatch.undo()  # the disk recovers
    recorder.close()
    assert committed() == [first, second]
    assert recorder.bodies.get(second) == b"second page"


def test_bodies_are_made_durable_file_by_file_where_syncfs_is_missing(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(bodies_module, "_syncfs", None)
    monkeypatch.setattr(bodies_module.os, "fsync", lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}")))
    store = BodyStore(tmp_path)
    digests = [store.put(b"a"), store.put(b"b"), store.put(b"a")]
    store.sync()
    assert sorted(synced) == sorted(str(store.path(d)) for d in set(digests))
    store.sync()
    assert len(synced) == 2  # nothing new to sync


def test_warc_records_are_gzip_members_at_their_offsets(tmp_path):
    with WarcWriter(tmp_path) as writer:
        writer.write_warcinfo({"operator": "me"})
        pointers = [writer.write_exchange(f"http://x/{i}", "GET", [("User-Agent", "t")], 200, "OK",
                                          [("Content-Type", "text/html")], b"<p>%d</p>" % i, AT)
                    for i in range(5)]
        path, written = writer.path, writer.written
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
