"""Alerts: watched identifiers and rules, delivered to a real webhook receiver and SMTP server on 127.0.0.1."""
from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import ipaddress
import json
import ssl
import subprocess

import pytest
import yaml
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import inspect, select, text
from standardwebhooks import Webhook as StandardWebhook
from standardwebhooks.exceptions import WebhookVerificationError

from nigran.config.alerts import Email, Webhook, load_alerts
from nigran.config.schema import ConfigError
from nigran.crawler.alerts import DeliveryError, send_email, send_webhook
from nigran.storage.db import Database
from tests.support.ops import demo_sources_file
from tests.support.run import REPO, nigran
from tests.support.webhook import SECRET, WebhookReceiver, free_port

GUARD_BODY = {"alert_id": 7, "queued_at": "2026-01-01T00:00:00Z", "reason": "guard", "rule": None, "watch": None,
              "run_id": 1, "source": "s", "status": "captcha", "summary": "source s needs a human: captcha",
              "detail": "captcha", "next": "nigran session check s", "url": "http://s.onion/", "at": "2026-01-01T00:00:00Z",
              "capture_sha256": "0" * 64}

WATCHED = "17301-9046112-7"  # in one demo paste that offers CNIC and SIM data
WATCHED_FORMS = (WATCHED, WATCHED.replace("-", ""))


class Mailbox:
    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        implicit = server.transport.get_extra_info("ssl_object") is not None  # SMTPS: aiosmtpd leaves session.ssl None
        self.messages.append((session.ssl is not None or implicit, envelope.content))
        return "250 OK"

    def __init__(self):
        self.messages: list[tuple[bool, bytes]] = []

    def parsed(self) -> list[email.message.EmailMessage]:
        assert all(tls for tls, _ in self.messages), "a message was sent without TLS"
        return [email.message_from_bytes(raw, policy=email.policy.default) for _, raw in self.messages]


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


@pytest.fixture
def mailbox(tls_cert):
    """An SMTP server on 127.0.0.1 that offers (and insists on) STARTTLS."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls_cert)
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port(), tls_context=context, require_starttls=True)
    controller.start()
    yield box, controller.port
    controller.stop()


def alerts_file(path, webhook_port: int, smtp_port: int, cert, rules=()) -> str:
    path.write_text(yaml.safe_dump({
        "channels": [
            {"type": "webhook", "name": "soc", "url": f"http://127.0.0.1:{webhook_port}/nigran", "secret": SECRET},
            {"type": "email", "name": "analysts", "host": "127.0.0.1", "port": smtp_port, "from": "nigran@example.org",
             "to": ["analysts@example.org"], "ca_file": str(cert)}],
        "rules": list(rules),
        "delivery": {"attempts": 2, "backoff": 0.1}}))
    return str(path)


def sweep(*args: str) -> tuple[dict, str]:
    done = nigran("sweep", "--json", *args)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout.decode().splitlines()[-1]), done.stderr.decode()


def offers(db_url: str) -> dict[int, dict]:
    return {o["id"]: o for o in map(json.loads, nigran("offers", "--json", "--db", db_url).stdout.decode().splitlines())}


def table_rows_text(db: Database, skip: tuple[str, ...] = ()) -> str:
    """Every row of every table (but `skip`) as text."""
    with db.engine.connect() as conn:
        return "\n".join(repr(tuple(row)) for table in inspect(conn).get_table_names() if table not in skip
                         for row in conn.execute(text(f'SELECT * FROM "{table}"')))


def stored_bytes(db_url: str, home) -> bytes:
    """The SQLite files as they are on disk, or a pg_dump of the PostgreSQL database."""
    if db_url.startswith("sqlite"):
        return b"".join(p.read_bytes() for p in home.glob("nigran.db*") if not p.name.endswith(".lock"))
    return subprocess.run(["pg_dump", "--data-only", db_url], capture_output=True, check=True).stdout


def test_a_watched_cnic_in_a_demo_offer_raises_exactly_one_alert_and_nothing_keeps_it_raw(
        db_url, home, demo_sites, mailbox, tls_cert, tmp_path):
    box, smtp_port = mailbox
    sources = str(demo_sources_file(tmp_path / "sources.yaml", demo_sites))
    with WebhookReceiver(free_port()) as hook:
        alerts = alerts_file(tmp_path / "alerts.yaml", hook.server.port, smtp_port, tls_cert[0])
        added = nigran("watch", "add", "--cnic", "17301 9046112 7", "--label", "Protected person A", "--db", db_url)
        assert added.returncode == 0, added.stderr.decode()
        assert "17301-*******-*" in added.stdout.decode() and "9046112" not in added.stdout.decode()

        first, _ = sweep("--sources", sources, "--alerts", alerts, "--db", db_url)
        [new] = first["alerts"]["new"]
        assert new["reason"] == "watch:1" and new["source"] == "demo-paste"
        assert (first["alerts"]["delivered"], first["alerts"]["queued"]) == (2, 0)
        second, _ = sweep("--sources", sources, "--alerts", alerts, "--db", db_url)  # the same offer, seen again
        assert second["alerts"] == {"new": [], "delivered": 0, "queued": 0}

        [body] = hook.alerts()
        [mail] = box.parsed()
    offer = offers(db_url)[new["offer_id"]]
    assert body["alert_id"] == new["alert_id"] and body["reason"] == "watch"
    assert body["watch"] == {"id": 1, "label": "Protected person A", "type": "cnic", "masked": "17301-*******-*"}
    assert body["offer"]["id"] == offer["id"] and body["offer"]["source"] == "demo-paste"
    assert body["offer"]["permalink"] == offer["url"] and offer["url"].endswith("/paste/Tq7mW2xa.html")
    assert body["offer"]["capture_sha256"] == offer["capture_sha256"]
    assert body["offer"]["captured_at"].endswith("Z") and body["queued_at"].endswith("Z")
    assert mail["X-Nigran-Alert-Id"] == str(new["alert_id"]) and "17301-*******-*" in mail["Subject"]
    assert offer["capture_sha256"] in mail.get_content() and offer["url"] in mail.get_content()

    raw_forms = [form.encode() for form in WATCHED_FORMS]
    for sent in (json.dumps(body).encode(), mail.as_bytes()):
        assert not any(form in sent for form in raw_forms)
    db = Database(db_url)
    rows = table_rows_text(db, skip=("posts",)).encode()
    assert b"17301-*******-*" in rows and not any(form in rows for form in raw_forms)
    assert not any(form in stored_bytes(db_url, home) for form in raw_forms)  # not in any table, post text included


def test_rule_alerts_reach_each_channel_once_and_wait_while_the_receiver_is_down(home, demo_sites, mailbox, tls_cert,
                                                                                  tmp_path):
    box, smtp_port = mailbox
    db_url = f"sqlite:///{home / 'nigran.db'}"
    sources = str(demo_sources_file(tmp_path / "sources.yaml", demo_sites))
    port = free_port()  # nothing listens there yet
    alerts = alerts_file(tmp_path / "alerts.yaml", port, smtp_port, tls_cert[0], rules=[
        {"name": "cnic-offers", "categories": ["cnic"]},
        {"name": "big-dumps", "min_volume": 1_000_000, "channels": ["soc"]}])

    first, stderr = sweep("--sources", sources, "--alerts", alerts)
    found = offers(db_url)
    expected = sorted([("rule:cnic-offers", o["id"]) for o in found.values() if o["kind"] == "offer" and "cnic" in o["categories"]]
                      + [("rule:big-dumps", o["id"]) for o in found.values() if o["kind"] == "offer" and (o["volume"] or 0) >= 1_000_000])
    assert len(expected) >= 2
    assert sorted((a["reason"], a["offer_id"]) for a in first["alerts"]["new"]) == expected
    by_mail = [a for a in first["alerts"]["new"] if a["reason"] == "rule:cnic-offers"]
    assert first["alerts"]["delivered"] == len(by_mail)  # the mail went out; the webhook is down
    assert first["alerts"]["queued"] == len(expected)
    assert stderr.count("stays queued") == 1  # one failed alert, then the channel is left alone this round

    with WebhookReceiver(port) as hook:
        second, _ = sweep("--sources", sources, "--alerts", alerts)
        bodies = hook.alerts()
    assert second["alerts"] == {"new": [], "delivered": len(expected), "queued": 0}
    assert sorted(b["alert_id"] for b in bodies) == sorted(a["alert_id"] for a in first["alerts"]["new"])
    mails = box.parsed()
    assert sorted(int(m["X-Nigran-Alert-Id"]) for m in mails) == sorted(a["alert_id"] for a in by_mail)
    for b in bodies:
        offer = found[b["offer"]["id"]]
        assert (b["offer"]["permalink"], b["offer"]["capture_sha256"]) == (offer["url"], offer["capture_sha256"])

    runs = [json.loads(line) for line in nigran("runs", "--json").stdout.decode().splitlines()]
    assert [r["alerts"] for r in runs] == [0, len(expected)]  # newest first


def test_watchlist_keeps_masked_identifiers_only(home):
    added = nigran("watch", "add", "--phone", "0300-1234567", "--label", "Informant B", "--json")
    assert added.returncode == 0, added.stderr.decode()
    [shown] = [json.loads(added.stdout)]
    assert (shown["type"], shown["masked"], shown["label"]) == ("pk_mobile", "0300-*******", "Informant B")
    assert nigran("watch", "add", "--passport", "-", "--label", "Traveller C", input=b"ab1234567\n").returncode == 0

    again = nigran("watch", "add", "--phone", "+92 300 1234567", "--label", "same number")
    assert (again.returncode, again.stderr.decode()) == (1, "nigran: error: already watched as #1 (Informant B)\n")
    landline = nigran("watch", "add", "--phone", "042-35761234", "--label", "x")
    assert landline.returncode == 2 and landline.stderr.decode().startswith("nigran: error: not a valid Pakistani mobile number")

    listed = [json.loads(line) for line in nigran("watch", "list", "--json").stdout.decode().splitlines()]
    assert [(w["id"], w["masked"]) for w in listed] == [(1, "0300-*******"), (2, "AB*******")]
    assert nigran("watch", "remove", "1").returncode == 0
    rows = table_rows_text(Database(f"sqlite:///{home / 'nigran.db'}"))
    assert "1234567" not in rows and "+923001234567" not in rows


def test_the_example_alerts_file_is_valid(monkeypatch):
    monkeypatch.setenv("NIGRAN_WEBHOOK_SECRET", "signing key")
    monkeypatch.setenv("NIGRAN_SMTP_PASSWORD", "password")
    config = load_alerts(REPO / "config" / "alerts.example.yaml")
    assert {c.type for c in config.channels} == {"webhook", "email"} and config.rules
    monkeypatch.delenv("NIGRAN_WEBHOOK_SECRET")
    with pytest.raises(ConfigError, match="environment variable NIGRAN_WEBHOOK_SECRET is not set"):
        load_alerts(REPO / "config" / "alerts.example.yaml")


def test_migration_0008_makes_room_for_source_alerts_and_keeps_every_queued_delivery(db_url):
    """On SQLite the migration copies `alerts` whole: its deliveries, which cascade from it, must stay."""
    from datetime import datetime, timezone

    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from nigran.storage.db import alembic_config
    from nigran.storage.models import Alert, AlertDelivery, Base, Capture, Offer, Post, Run

    db = Database(db_url)
    now = datetime.now(timezone.utc)
    with db.session() as s:
        run = Run(trigger="manual")
        capture = Capture(source="m", url="http://m.onion/1", final_url="http://m.onion/1", status=200,
                          body_sha256="0" * 64, body_size=1, fetched_at=now, transport="tor")
        s.add_all([run, capture])
        s.flush()
        post = Post(source="m", post_key="k", url=capture.url, text="t", first_seen=now, last_seen=now,
                    first_capture_id=capture.id, latest_capture_id=capture.id)
        s.add(post)
        s.flush()
        offer = Offer(post_id=post.id, source="m", kind="offer", first_seen=now, last_seen=now)
        s.add(offer)
        s.flush()
        s.add(Alert(run_id=run.id, offer_id=offer.id, reason="rule:cnic", payload={},
                    deliveries=[AlertDelivery(channel="soc"), AlertDelivery(channel="analysts")]))
    command.downgrade(alembic_config(db_url), "0007")
    assert Database(db_url, upgrade=False).upgrade() is True
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []  # models == migrations
    with db.session() as s:
        assert sorted(s.scalars(select(AlertDelivery.channel)).all()) == ["analysts", "soc"]
        s.add(Alert(run_id=run.id, offer_id=None, reason="guard:m", payload={}))  # a source's alert: no offer


def test_a_whsec_secret_from_the_environment_signs_for_the_standard_webhooks_library(monkeypatch):
    key = bytes(range(32))
    monkeypatch.setenv("HOOK_SECRET", "whsec_" + base64.b64encode(key).decode())
    port = free_port()
    channel = Webhook(type="webhook", name="w", url=f"http://127.0.0.1:{port}/", secret_env="HOOK_SECRET")
    with WebhookReceiver(port, key=key) as hook:
        send_webhook(channel, GUARD_BODY)
        [body] = hook.alerts()  # verified by standardwebhooks.Webhook(key), and X-Nigran-Signature under the same key
        [(headers, _)] = hook.received
    assert body == GUARD_BODY and headers["webhook-id"] == "alert_7"
    assert headers["webhook-signature"].startswith("v1,") and headers["webhook-timestamp"] == headers["X-Nigran-Timestamp"]
    with pytest.raises(WebhookVerificationError, match="No matching signature"):  # the signature depends on the key
        StandardWebhook(b"another key of 32 bytes, really!").verify(hook.received[0][1], dict(headers))


def test_a_whsec_secret_that_is_not_base64_is_a_config_error(tmp_path):
    path = tmp_path / "alerts.yaml"
    path.write_text(yaml.safe_dump({"channels": [{"type": "webhook", "name": "w", "url": "http://127.0.0.1/",
                                                  "secret": "whsec_not base64!"}]}))
    with pytest.raises(ConfigError, match=r"field channels\.0\.webhook: secret: a whsec_ secret must be base64"):
        load_alerts(path)


def smtp_server(tls_cert, *, starttls: bool = False, implicit: bool = False) -> tuple[Mailbox, Controller]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls_cert)
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port(), tls_context=context if starttls else None,
                            require_starttls=starttls, ssl_context=context if implicit else None)
    controller.start()
    return box, controller


def mail_channel(port: int, cert, **fields) -> Email:
    return Email.model_validate({"type": "email", "name": "m", "host": "127.0.0.1", "port": port, "from": "n@example.org",
                                 "to": ["a@example.org"], "ca_file": str(cert), "timeout": 5, **fields})


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_mail_goes_out_encrypted_by_starttls_or_implicit_tls(tls_cert, tls):
    box, server = smtp_server(tls_cert, starttls=tls == "starttls", implicit=tls == "implicit")
    try:
        send_email(mail_channel(server.port, tls_cert[0], tls=tls), GUARD_BODY)
    finally:
        server.stop()
    [mail] = box.parsed()  # asserts it came over TLS
    assert mail["X-Nigran-Alert-Id"] == "7" and "needs a human" in mail["Subject"]


def test_a_server_without_starttls_gets_no_mail_in_the_clear(tls_cert):
    box, server = smtp_server(tls_cert)
    try:
        with pytest.raises(DeliveryError, match="does not offer STARTTLS; nothing sent in the clear"):
            send_email(mail_channel(server.port, tls_cert[0]), GUARD_BODY)  # tls: starttls is the default
        with pytest.raises(ssl.SSLError):
            send_email(mail_channel(server.port, tls_cert[0], tls="implicit"), GUARD_BODY)
    finally:
        server.stop()
    assert box.messages == []


def test_plaintext_mail_needs_an_explicit_opt_in(tls_cert, tmp_path):
    path = tmp_path / "alerts.yaml"
    channel = {"type": "email", "name": "m", "host": "127.0.0.1", "from": "n@example.org", "to": ["a@example.org"],
               "tls": "none"}
    path.write_text(yaml.safe_dump({"channels": [channel]}))
    with pytest.raises(ConfigError) as refused:
        load_alerts(path)
    assert str(refused.value) == (f"{path}: field channels.0.email: tls: none sends mail in the clear; "
                                  "add allow_plaintext: true to allow it")
    path.write_text(yaml.safe_dump({"channels": [{**channel, "allow_plaintext": True, "username": "u", "password": "p"}]}))
    with pytest.raises(ConfigError, match="a login is never sent in the clear"):
        load_alerts(path)
    path.write_text(yaml.safe_dump({"channels": [{**channel, "tls": "implicit", "allow_plaintext": True}]}))
    with pytest.raises(ConfigError, match="allow_plaintext: only goes with tls: none"):
        load_alerts(path)

    path.write_text(yaml.safe_dump({"channels": [{**channel, "allow_plaintext": True}]}))
    [opted_in] = load_alerts(path).channels
    assert opted_in.port == 25
    box, server = smtp_server(tls_cert)
    try:
        send_email(opted_in.model_copy(update={"port": server.port}), GUARD_BODY)
    finally:
        server.stop()
    assert [tls for tls, _ in box.messages] == [False]
