"""The custody log: hash chain, signed Merkle checkpoints, `nigran verify --db` finding the first break."""
import getpass
import json
import socket

from sqlalchemy import delete, select, text, update

from nigran.storage.evidence import custody, keys
from nigran.storage.evidence.merkle import MerkleTree, verify_consistency
from nigran.storage.models import CustodyEvent, CustodyHead
from tests.support.run import nigran
from tests.support.stores import make_store

POSTS = [{"url": f"http://marketxyz.onion/item/{n}", "text": f"CNIC copies batch {n}"} for n in range(6)]


def verify_db(db_url):
    done = nigran("verify", "--db", db_url, "--json")
    return done.returncode, json.loads(done.stdout.decode().splitlines()[-1])


def test_clean_store_verifies_and_later_logs_extend_earlier_ones(home, db_url):
    db = make_store(home, db_url, POSTS)
    with db.session() as s:
        first = custody.make_checkpoint(s, keys.signing_key(home))
        custody.append(s, custody.EXPORT_MADE, "alice", details={"case": "C-1"})
        second = custody.make_checkpoint(s, keys.signing_key(home))
        hashes = s.scalars(select(CustodyEvent.hash).order_by(CustodyEvent.seq)).all()
    tree = MerkleTree([custody.event_leaf(h) for h in hashes])
    assert tree.root.hex() == second.root and second.tree_size == first.tree_size + 1 == 7
    assert verify_consistency(first.tree_size, second.tree_size, bytes.fromhex(first.root),
                              bytes.fromhex(second.root), tree.consistency_proof(first.tree_size))
    acc = custody.RootAccumulator()
    for n, h in enumerate(hashes, 1):
        acc.add(custody.event_leaf(h))
        assert acc.root() == MerkleTree([custody.event_leaf(x) for x in hashes[:n]]).root

    code, report = verify_db(db_url)
    assert code == 0 and report["valid"], report
    assert report["custody_events"] == 7 and report["checkpoints"] == 3 and report["captures_checked"] == 6


def test_edited_event_is_the_first_break(home, db_url):
    db = make_store(home, db_url, POSTS)
    with db.session() as s:
        event = s.get(CustodyEvent, 3)
        s.execute(update(CustodyEvent).where(CustodyEvent.seq == 3).values(
            details={**event.details, "body_sha256": "0" * 64}))
    code, report = verify_db(db_url)
    assert code == 1
    assert report["custody_problems"] == ["custody event 3 (capture stored) was edited: its content no longer "
                                          "matches its hash"]


def test_rechained_edit_is_caught_by_the_signed_checkpoint(home, db_url):
    """An editor who recomputes every later hash still cannot re-sign the checkpoint."""
    db = make_store(home, db_url, POSTS)
    with db.session() as s:
        rows = s.scalars(select(CustodyEvent).order_by(CustodyEvent.seq)).all()
        records = [dict(custody.event_record(e.seq, e.at, e.kind, e.operator, e.capture_id, e.details, e.prev_hash))
                   for e in rows]
        records[1]["operator"] = "someone-else"
        prev = custody.GENESIS
        for record in records:
            record["prev_hash"] = prev
            prev = custody.event_hash(record)
            s.execute(update(CustodyEvent).where(CustodyEvent.seq == record["seq"]).values(
                operator=record["operator"], prev_hash=record["prev_hash"], hash=prev))
        s.execute(update(CustodyHead).values(hash=prev))
    code, report = verify_db(db_url)
    assert code == 1 and "Merkle root" in report["custody_problems"][0], report


def test_dropped_events_are_reported(home, db_url):
    db = make_store(home, db_url, POSTS)
    with db.session() as s:
        s.execute(delete(CustodyEvent).where(CustodyEvent.seq == 2))
    code, report = verify_db(db_url)
    assert code == 1 and report["custody_problems"] == ["custody event 2 is missing (the log jumps to 3)"]

    with db.session() as s:  # dropping the tail instead, head row left alone
        s.execute(text("DELETE FROM custody_events"))
        s.execute(update(CustodyHead).values(seq=0, hash=custody.GENESIS))
    code, report = verify_db(db_url)
    assert code == 1 and "checkpoint" in report["custody_problems"][0]


def test_flipped_byte_in_a_warc_file_is_reported(home, db_url):
    make_store(home, db_url, POSTS)
    warc = next((home / "warc").glob("*.warc.gz"))
    data = bytearray(warc.read_bytes())
    data[len(data) // 2] ^= 0x01
    warc.chmod(0o644)
    warc.write_bytes(bytes(data))
    code, report = verify_db(db_url)
    assert code == 1 and report["custody_problems"] == []
    assert report["warc_problems"] and warc.name in report["warc_problems"][0]


def test_reveal_and_config_changes_are_custody_events(home, db_url, tmp_path):
    db = make_store(home, db_url, [{"url": "http://m.onion/1", "text": "CNIC 35202-1234567-1 for sale",
                                    "identifiers": [("cnic", "35202-1234567-1")]}])
    done = nigran("offers", "--db", db_url, "--reveal", "--json", "--operator", "inspector-7")
    assert done.returncode == 0, done.stderr
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources: []\n")
    with db.session() as s:
        assert custody.record_config(s, "analyst", sources) is True
        assert custody.record_config(s, "analyst", sources) is False  # unchanged file: no new event
        sources.write_text("sources: [] # edited\n")
        assert custody.record_config(s, "analyst", sources) is True
        events = s.scalars(select(CustodyEvent).where(CustodyEvent.kind != custody.CAPTURE_STORED)
                           .order_by(CustodyEvent.seq)).all()
    assert [(e.kind, e.operator) for e in events] == [("identifier revealed", "inspector-7"),
                                                      ("source config changed", "analyst"),
                                                      ("source config changed", "analyst")]
    assert events[0].details == {"offer_ids": [1], "os_user": getpass.getuser(), "host": socket.gethostname()}
    assert verify_db(db_url)[0] == 0
