"""Privacy (issue #18, defects 8, 14 and 17): nothing raw is stored outside the evidence, masks keep the
locality or operator prefix only, the key lives apart from the data, reveals fail loudly and are audited."""
from __future__ import annotations

import getpass
import gzip
import json
import socket
import stat
from datetime import datetime, timezone
from pathlib import Path

import brotli
import yaml
from alembic import command
from backports import zstd
from sqlalchemy import select, text, update

from nigran.storage.db import Database, alembic_config
from nigran.storage.models import Offer, OfferIdentifier, Post, Reveal, Watch
from nigran.storage.recorder import OfferData, Recorder
from tests.support.run import nigran
from tests.support.telegram_site import TelegramSite

CNIC, CNIC_MASKED = "42101-5550123-9", "42101-*******-*"
PHONE, PHONE_MASKED = "0345-5550123", "0345-*******"


def raw_forms(*values: str) -> set[str]:
    """Every spelling a raw value could be stored in: as written, digits only, national and E.164 digits."""
    out = set()
    for value in values:
        digits = "".join(c for c in value if c.isdigit())
        out |= {value, digits, digits.lstrip("0"), "92" + digits.lstrip("0")}
    return out


def table_text(db_url: str, table: str) -> str:
    with Database(db_url).session() as session:
        return "\n".join(map(str, session.execute(text(f"SELECT * FROM {table}")).all()))


def owner_only(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def test_security_telegram_extra_is_stored_masked_in_a_private_home(tmp_path, home):
    db_url = f"sqlite:///{home / 'nigran.db'}"
    home.chmod(0o755)  # as an earlier version, or a careless mkdir, left it
    with TelegramSite() as site:
        post = site.add_message("simdata_pk", "Fresh SIM data, Rs 400 per number. DM @fresh_seller")
        with site._lock:
            post.signature = f"Agent {CNIC} / {PHONE}"
            post.media, post.documents = "document", [{"title": f"cnic {CNIC} whatsapp {PHONE}.pdf", "size": "1 MB"}]
            post.link_preview = {"url": "https://forms.example.pk/order", "site": "forms.example.pk",
                                 "title": f"Order from {PHONE}", "description": f"CNIC {CNIC} verified"}
        sources = tmp_path / "sources.yaml"
        sources.write_text(yaml.safe_dump({"sources": [{"kind": "telegram", "via": "direct", "name": "tg",
                                                        "base_url": site.base_url, "channels": ["simdata_pk"]}]}))
        done = nigran("crawl", "--sources", str(sources), "--db", db_url, "--json")
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    stored = table_text(db_url, "posts")
    assert f"{post.channel}/{post.id}" in stored
    assert not [form for form in raw_forms(CNIC, PHONE) if form in stored]
    assert CNIC_MASKED in stored and PHONE_MASKED in stored
    warcs = list((home / "warc").rglob("*.warc.gz"))
    assert stat.S_IMODE(home.stat().st_mode) == 0o700 and warcs
    assert all(owner_only(f) for f in [*home.glob("nigran.db*"), *warcs, *(home / "logs").iterdir()])


ENCODERS = {"gzip": gzip.compress, "br": brotli.compress, "zstd": zstd.compress}


def store_offers(home: Path, db_url: str, pages: list[tuple[str | None, str, list[tuple[str, str]]]]) -> Database:
    """One captured page and offer per (Content-Encoding, page text, identifiers); a WhatsApp contact
    is the page's mobile number."""
    db = Database(db_url)
    recorder = Recorder(db, home / "bodies", operator="collector-1")
    run = recorder.start_run("manual")
    at = datetime(2026, 12, 1, tzinfo=timezone.utc)
    for n, (encoding, body_text, identifiers) in enumerate(pages):
        url = f"http://market.onion/{n}"
        html = f"<html><body>{body_text}</body></html>".encode()
        headers = [["Content-Type", "text/html; charset=utf-8"]]
        if encoding:
            html = ENCODERS[encoding](html)
            headers.append(["Content-Encoding", encoding])
        capture_id, _ = recorder.capture(body=html, run_id=run, source="market", kind="http", url=url, final_url=url,
                                         method="GET", status=200, headers=headers, fetched_at=at, transport="tor",
                                         circuit_id="1", request_headers=[], started_at=at)
        phones = [v for k, v in identifiers if k == "pk_mobile"]
        recorder.post(source="market", post_key=url, capture_id=capture_id, seen_at=at, url=url, title=None,
                      author=None, text="(masked)",
                      offer=OfferData(kind="offer", categories=["cnic"], prices=[], volume=None,
                                      contacts=[{"type": "whatsapp", "value": v} for v in phones],
                                      identifiers=identifiers))
    recorder.finish_run(run, "finished", 0, {})
    recorder.close()
    return db


def offers_json(done) -> list[dict]:
    return [json.loads(line) for line in done.stdout.decode().splitlines()]


def test_security_reveal_decodes_brotli_and_zstd_and_whatsapp_contacts(home):
    db_url = f"sqlite:///{home / 'nigran.db'}"
    page = f"CNIC {CNIC} for sale, whatsapp {PHONE}"
    ids = [("cnic", CNIC), ("pk_mobile", "+923455550123")]
    store_offers(home, db_url, [(encoding, page, ids) for encoding in ("br", "zstd", "gzip", None)])
    done = nigran("offers", "--db", db_url, "--json", "--reveal", "--operator", "inspector-7")
    assert done.returncode == 0, done.stderr.decode()
    for offer in offers_json(done):
        assert [i["value"] for i in offer["identifiers"]] == [CNIC, "+923455550123"], offer["id"]
        assert offer["contacts"] == [{"type": "whatsapp", "value": "+923455550123"}], offer["id"]
    masked = offers_json(nigran("offers", "--db", db_url, "--json"))
    assert {i["value"] for o in masked for i in o["identifiers"]} == {CNIC_MASKED, PHONE_MASKED}


def test_security_a_reveal_that_cannot_reveal_says_so_exits_1_and_is_audited(home):
    db_url = f"sqlite:///{home / 'nigran.db'}"
    store_offers(home, db_url, [("br", f"CNIC {CNIC}", [("cnic", CNIC)]),
                                (None, "nothing here", [("cnic", "35202-1234567-1")])])
    done = nigran("offers", "--db", db_url, "--json", "--reveal", "--operator", "inspector-7")
    errors = done.stderr.decode().splitlines()
    assert done.returncode == 1 and len(errors) == 1 and "offers 2 (" in errors[0] and "1 (" not in errors[0]
    assert {o["id"]: o["identifiers"][0]["value"] for o in offers_json(done)} == {1: CNIC, 2: "35202-*******-*"}

    listed = offers_json(nigran("reveals", "--db", db_url, "--json"))
    assert [(r["operator"], r["os_user"], r["host"], sorted(r["offer_ids"])) for r in listed] == [
        ("inspector-7", getpass.getuser(), socket.gethostname(), [1, 2])]
    table = nigran("reveals", "--db", db_url).stdout.decode()
    assert "inspector-7" in table and getpass.getuser() in table


def test_security_identifier_key_lives_apart_from_the_data(home, config_home):
    db_url = f"sqlite:///{home / 'nigran.db'}"
    added = nigran("watch", "add", "--cnic", CNIC, "--label", "A", "--db", db_url)
    assert added.returncode == 0, added.stderr.decode()
    key = config_home / "nigran" / "identifier.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert not (home / "identifier.key").exists() and CNIC_MASKED in added.stdout.decode()


def test_security_a_key_left_in_the_data_home_keeps_working_with_a_warning(home, config_home):
    db_url = f"sqlite:///{home / 'nigran.db'}"
    legacy = home / "identifier.key"
    legacy.write_text("11" * 32 + "\n")
    added = nigran("watch", "add", "--cnic", CNIC, "--label", "A", "--db", db_url)
    assert added.returncode == 0, added.stderr.decode()
    warnings = [line for line in added.stderr.decode().splitlines() if str(legacy) in line]
    assert len(warnings) == 1 and "move it" in warnings[0]
    assert not (config_home / "nigran" / "identifier.key").exists()
    from nigran.storage.privacy import identifier_hmac

    with Database(db_url).session() as session:
        assert session.scalars(select(Watch.hmac)).one() == identifier_hmac("cnic", CNIC, bytes.fromhex("11" * 32))


def test_migration_0005_remasks_stored_values_and_adds_the_audit_columns(home, db_url):
    """Masks written before 0005 (CNIC last digit, mobile and passport last two) lose their kept tail."""
    db = store_offers(home, db_url, [(None, "x", [("cnic", CNIC), ("pk_mobile", "+923455550123")])])
    old_text = "CNIC 42101-*******-9, call 0345-*****23 for Rs 500"
    with db.engine.begin() as conn:
        cfg = alembic_config(db_url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
        conn.execute(update(Post.__table__).values(
            text=old_text, title=old_text, author="AB*****67",
            extra={"signature": "0345 *** **23", "n": [7, "42101 ******* 9"]}))
        conn.execute(update(OfferIdentifier.__table__).where(OfferIdentifier.type == "cnic")
                     .values(masked="42101-*******-9"))
        conn.execute(update(OfferIdentifier.__table__).where(OfferIdentifier.type == "pk_mobile")
                     .values(masked="+92345*****23"))
        conn.execute(update(Offer.__table__).values(contacts=[
            {"type": "whatsapp", "value": "+92345*****23", "hmac": "ab"}, {"type": "telegram", "value": "@seller"}]))
    db = Database(db_url)
    assert db.current_revision() == db.head_revision()
    with db.session() as session:
        post = session.scalars(select(Post)).one()
        masks = dict(session.execute(select(OfferIdentifier.type, OfferIdentifier.masked)).all())
        contacts = session.scalars(select(Offer.contacts)).one()
        assert session.scalars(select(Reveal)).all() == []  # the audit's new columns are queryable
    new_text = "CNIC 42101-*******-*, call 0345-******* for Rs 500"
    assert (post.text, post.title, post.author) == (new_text, new_text, "AB*******")
    assert post.extra == {"signature": "0345 *** ****", "n": [7, "42101 ******* *"]}
    assert masks == {"cnic": CNIC_MASKED, "pk_mobile": PHONE_MASKED}
    assert contacts == [{"type": "whatsapp", "value": PHONE_MASKED, "hmac": "ab"},
                        {"type": "telegram", "value": "@seller"}]
