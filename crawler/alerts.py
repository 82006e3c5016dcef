"""Alerts: new offers matching a rule, and sightings of watched identifiers, queued and then delivered.

After every run, each ended run not yet checked is scanned once (the `alert_scans` row is the claim,
so two processes never scan the same run). Alerts are queued in `alerts` with one `alert_deliveries`
row per channel; a delivery stays queued until a channel accepts it, and is retried at every later
run. An alert never carries a raw identifier: only the offer, its permalink and capture hash, and a
watched identifier's label and masked form.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, Callable

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nigran.config.alerts import AlertsFile, Email, Rule, Webhook
from nigran.pipelines.extraction import find_identifiers
from nigran.storage.db import Database
from nigran.storage.models import (Alert, AlertDelivery, AlertScan, Capture, GuardStop, Offer, OfferIdentifier, Post,
                                   Run, Watch, utcnow)
from nigran.storage.privacy import identifier_hmac, mask
from nigran.storage.utc import iso

log = logging.getLogger("nigran.alerts")


# --- watchlist ------------------------------------------------------------------------------------

class WatchError(Exception):
    """An identifier that cannot be watched: malformed."""


class AlreadyWatched(WatchError):
    """The identifier is on the watchlist already."""


# The cue the extraction engine needs before a bare value of each kind (a 13-digit run is a CNIC only when named).
_CUES = {"cnic": "CNIC ", "pk_mobile": "", "passport": "passport "}
_SHAPES = {"cnic": "CNIC (13 digits, e.g. 35202-1234567-1)",
           "pk_mobile": "Pakistani mobile number (e.g. 0300-1234567; landlines are not watched)",
           "passport": "Pakistani passport number (two letters and seven digits, e.g. AB1234567)"}


def canonical(kind: str, value: str) -> str:
    """The identifier as the extraction engine stores it (CNIC DDDDD-DDDDDDD-D, mobile E.164, passport AA1234567):
    the engine must read all of `value` as one identifier of that kind."""
    written = _CUES[kind] + ("".join(value.split()) if kind == "passport" else value.strip())
    found = find_identifiers(written)
    if len(found) == 1 and found[0].type == kind and (found[0].start, found[0].end) == (len(_CUES[kind]), len(written)):
        return found[0].value
    raise WatchError(f"not a valid {_SHAPES[kind]}")


def add_watch(db: Database, kind: str, value: str, label: str) -> Watch:
    """Watch an identifier: only its keyed HMAC, its masked form and the label are stored."""
    value = canonical(kind, value)
    digest = identifier_hmac(kind, value)
    with db.session() as s:
        known = s.scalar(select(Watch).where(Watch.type == kind, Watch.hmac == digest))
        if known is not None:
            raise AlreadyWatched(f"already watched as #{known.id} ({known.label})")
        watch = Watch(type=kind, hmac=digest, masked=mask(kind, value), label=label)
        s.add(watch)
    return watch


def remove_watch(db: Database, watch_id: int) -> Watch | None:
    with db.session() as s:
        watch = s.get(Watch, watch_id)
        if watch is not None:
            s.delete(watch)
        return watch


def list_watches(db: Database) -> list[Watch]:
    with db.session() as s:
        return list(s.scalars(select(Watch).order_by(Watch.id)))


# --- queueing -------------------------------------------------------------------------------------

def matches(rule: Rule, offer: Offer, post: Post) -> bool:
    """Every condition the rule gives holds for this offer."""
    text = f"{post.title or ''}\n{post.text}".casefold()
    return (offer.kind in rule.kinds
            and (not rule.categories or bool(set(rule.categories) & set(offer.categories)))
            and (not rule.sources or offer.source in rule.sources)
            and (rule.min_volume is None or (offer.volume or 0) >= rule.min_volume)
            and (not rule.keywords or any(k.casefold() in text for k in rule.keywords)))


def _payload(run_id: int, offer: Offer, post: Post, capture: Capture, rule: Rule | None, watch: Watch | None) -> dict:
    return {
        "reason": "rule" if rule else "watch", "rule": rule.name if rule else None,
        "watch": {"id": watch.id, "label": watch.label, "type": watch.type, "masked": watch.masked} if watch else None,
        "run_id": run_id,
        "offer": {"id": offer.id, "source": offer.source, "kind": offer.kind, "categories": offer.categories,
                  "volume": offer.volume, "first_seen": iso(offer.first_seen), "permalink": post.url,
                  "captured_at": iso(capture.fetched_at), "capture_sha256": capture.body_sha256},
    }


def _queue_run(s: Session, run: Run, config: AlertsFile) -> list[Alert]:
    """The alerts of one run: offers first seen during it that match a rule, and offers of its sources seen
    since it started that carry a watched identifier (an offer alerts once per rule and per watch)."""
    sources = select(Capture.source).where(Capture.run_id == run.id).distinct()
    seen = and_(Offer.source.in_(sources), Offer.last_seen >= run.started_at)
    rows = {o.id: (o, p, c) for o, p, c in s.execute(
        select(Offer, Post, Capture).join(Post, Offer.post_id == Post.id)
        .join(Capture, Post.latest_capture_id == Capture.id).where(seen).order_by(Offer.id))}
    done = {tuple(r) for r in s.execute(select(Alert.reason, Alert.offer_id)
                                          .where(Alert.offer_id.in_(select(Offer.id).where(seen))))}
    alerts: list[Alert] = []

    def queue(offer_id: int, rule: Rule | None = None, watch: Watch | None = None) -> None:
        reason = f"rule:{rule.name}" if rule else f"watch:{watch.id}"
        if (reason, offer_id) in done:
            return
        done.add((reason, offer_id))
        channels = config.channels_for(rule.channels if rule else config.watchlist_channels)
        alert = Alert(run_id=run.id, offer_id=offer_id, reason=reason,
                      payload=_payload(run.id, *rows[offer_id], rule, watch),
                      deliveries=[AlertDelivery(channel=name) for name in channels])
        s.add(alert)
        alerts.append(alert)

    for offer_id, (offer, post, _capture) in rows.items():
        if run.started_at <= offer.first_seen <= run.ended_at:
            for rule in config.rules:
                if matches(rule, offer, post):
                    queue(offer_id, rule=rule)
    sightings = s.execute(select(OfferIdentifier.offer_id, Watch)
                          .join(Watch, and_(Watch.type == OfferIdentifier.type, Watch.hmac == OfferIdentifier.hmac))
                          .where(OfferIdentifier.offer_id.in_(select(Offer.id).where(seen)))
                          .order_by(OfferIdentifier.offer_id))
    for offer_id, watch in sightings:
        queue(offer_id, watch=watch)
    alerts += _queue_stops(s, run, config)
    s.flush()
    return alerts


def _queue_stops(s: Session, run: Run, config: AlertsFile) -> list[Alert]:
    """One alert, to every channel, per source the run stopped at a wall or guard: it needs a human."""
    alerts = []
    stops = s.execute(select(GuardStop, Capture.body_sha256).outerjoin(Capture, GuardStop.capture_id == Capture.id)
                      .where(GuardStop.run_id == run.id).order_by(GuardStop.id))
    for stop, sha256 in stops:
        payload = {"reason": "guard", "rule": None, "watch": None, "run_id": run.id, "source": stop.source,
                   "status": stop.status, "summary": f"source {stop.source} needs a human: {stop.status}",
                   "detail": stop.reason, "next": stop.next_step, "url": stop.url, "at": iso(stop.at),
                   "capture_sha256": sha256}
        alert = Alert(run_id=run.id, offer_id=None, reason=f"guard:{stop.source}", payload=payload,
                      deliveries=[AlertDelivery(channel=name) for name in config.channels_for([])])
        s.add(alert)
        alerts.append(alert)
    return alerts


def scan(db: Database, config: AlertsFile) -> list[dict]:
    """Queue the alerts of every ended run not scanned yet; return the new alerts, briefly."""
    with db.session() as s:
        run_ids = s.scalars(select(Run.id).where(Run.ended_at.is_not(None),
                                                 ~select(AlertScan.run_id).where(AlertScan.run_id == Run.id).exists())
                            .order_by(Run.id)).all()
    new: list[dict] = []
    for run_id in run_ids:
        try:
            with db.session() as s:
                s.add(AlertScan(run_id=run_id))
                s.flush()
                queued = [brief(a) for a in _queue_run(s, s.get(Run, run_id), config)]
        except IntegrityError:
            log.info("run %d: alerts already checked by another process", run_id)
            continue
        new += queued
        for a in queued:
            log.info("alert %d queued: %s", a["alert_id"], a["summary"])
    return new


def brief(alert: Alert) -> dict:
    """One line's worth of an alert, for summaries."""
    p = alert.payload
    if p["reason"] == "guard":
        return {"alert_id": alert.id, "reason": alert.reason, "offer_id": None, "source": p["source"],
                "permalink": p["url"], "summary": f"{p['summary']} ({p['detail']}); next: {p['next']}"}
    o = p["offer"]
    what = f"rule {p['rule']}" if p["rule"] else f"watched {p['watch']['type']} {p['watch']['masked']} ({p['watch']['label']})"
    return {"alert_id": alert.id, "reason": alert.reason, "offer_id": o["id"], "source": o["source"],
            "permalink": o["permalink"], "summary": f"{what}: offer {o['id']} on {o['source']} {o['permalink']}"}


# --- delivery -------------------------------------------------------------------------------------

class DeliveryError(Exception):
    """A channel refused an alert."""


def alert_body(alert: Alert) -> dict[str, Any]:
    """What every channel sends: the queued payload plus the alert's id and queueing time."""
    return {"alert_id": alert.id, "queued_at": iso(alert.created_at), **alert.payload}


def sign(key: bytes, timestamp: str, body: bytes) -> str:
    """The X-Nigran-Signature value: HMAC-SHA256 over "<timestamp>.<body>"."""
    return "sha256=" + hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def sign_standard(key: bytes, message_id: str, timestamp: str, body: bytes) -> str:
    """The Standard Webhooks `webhook-signature` value: "v1," + base64 HMAC-SHA256 over "<id>.<timestamp>.<body>"."""
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def send_webhook(channel: Webhook, body: dict[str, Any]) -> None:
    data = json.dumps(body, ensure_ascii=False, sort_keys=True).encode()
    timestamp, message_id = str(int(time.time())), f"alert_{body['alert_id']}"  # the same id on every retry
    request = urllib.request.Request(channel.url, data=data, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "nigran-alerts",
        "X-Nigran-Alert-Id": str(body["alert_id"]), "X-Nigran-Timestamp": timestamp,
        "X-Nigran-Signature": sign(channel.key, timestamp, data),
        "webhook-id": message_id, "webhook-timestamp": timestamp,
        "webhook-signature": sign_standard(channel.key, message_id, timestamp, data)})
    with urllib.request.urlopen(request, timeout=channel.timeout) as response:  # HTTP errors raise
        response.read()


def email_text(body: dict[str, Any]) -> tuple[str, str]:
    """Subject and plain-text body of an alert mail."""
    if body["reason"] == "guard":
        subject = f"nigran alert {body['alert_id']}: {body['summary']}"
        lines = [subject, "", f"source:         {body['source']}", f"status:         {body['status']} ({body['detail']})",
                 f"page:           {body['url']}", f"capture sha256: {body['capture_sha256']}",
                 f"next:           {body['next']}", f"run:            {body['run_id']}"]
        return subject, "\n".join(lines) + "\n"
    o = body["offer"]
    if body["watch"]:
        w = body["watch"]
        what = f"watched {w['type']} {w['masked']} ({w['label']}) seen"
    else:
        what = f"rule {body['rule']}: new {o['kind']}"
    subject = f"nigran alert {body['alert_id']}: {what} on {o['source']} (offer {o['id']})"
    lines = [subject, "", f"offer:          {o['id']} ({o['kind']}; {', '.join(o['categories']) or 'no category'})",
             f"source:         {o['source']}", f"first seen:     {o['first_seen']}", f"captured at:    {o['captured_at']}",
             f"permalink:      {o['permalink']}", f"capture sha256: {o['capture_sha256']}", f"run:            {body['run_id']}",
             "", json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True)]
    return subject, "\n".join(lines) + "\n"


def send_email(channel: Email, body: dict[str, Any]) -> None:
    subject, text = email_text(body)
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = subject, channel.sender, ", ".join(channel.to)
    msg["Date"], msg["Message-ID"] = format_datetime(utcnow()), make_msgid(f"alert-{body['alert_id']}", "nigran")
    msg["X-Nigran-Alert-Id"] = str(body["alert_id"])
    msg.set_content(text)
    context = ssl.create_default_context(cafile=channel.ca_file)
    if channel.tls == "implicit":
        connection = smtplib.SMTP_SSL(channel.host, channel.port, timeout=channel.timeout, context=context)
    else:
        connection = smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout)
    with connection as smtp:
        smtp.ehlo()
        if channel.tls == "starttls":
            if not smtp.has_extn("starttls"):
                raise DeliveryError(f"{channel.host}:{channel.port} does not offer STARTTLS; nothing sent in the clear")
            smtp.starttls(context=context)
            smtp.ehlo()
        if channel.username:
            smtp.login(channel.username, channel.password)
        smtp.send_message(msg)


SENDERS: dict[str, Callable[[Any, dict[str, Any]], None]] = {"webhook": send_webhook, "email": send_email}


def _attempt(send: Callable[[], None], attempts: int, backoff: float) -> tuple[int, str | None]:
    """Try up to `attempts` times, waiting backoff, 2×backoff, ... between; (tries made, last error or None)."""
    error = None
    for n in range(1, attempts + 1):
        try:
            send()
            return n, None
        except (OSError, DeliveryError) as exc:
            error = str(exc) or type(exc).__name__
        if n < attempts:
            time.sleep(backoff * 2 ** (n - 1))
    return attempts, error


def deliver(db: Database, config: AlertsFile) -> int:
    """Send every queued delivery of a configured channel, oldest first; return how many were delivered.

    A channel that fails all its attempts is left alone for the rest of this round.
    """
    channels = {c.name: c for c in config.channels}
    with db.session() as s:
        pending = s.execute(select(AlertDelivery.id, AlertDelivery.channel, Alert).join(Alert)
                            .where(AlertDelivery.delivered_at.is_(None), AlertDelivery.channel.in_(channels))
                            .order_by(AlertDelivery.id)).all()
    delivered, down = 0, set()
    for delivery_id, name, alert in pending:
        if name in down:
            continue
        channel = channels[name]
        tries, error = _attempt(lambda: SENDERS[channel.type](channel, alert_body(alert)),
                                config.delivery.attempts, config.delivery.backoff)
        with db.session() as s:
            row = s.get(AlertDelivery, delivery_id)
            row.attempts += tries
            row.last_attempt_at = utcnow()
            row.last_error = error
            if error is None:
                row.delivered_at = row.last_attempt_at
        if error is None:
            delivered += 1
            log.info("alert %d delivered to %s", alert.id, name)
        else:
            down.add(name)
            log.warning("alert %d: %s did not take it after %d attempts (%s); it stays queued", alert.id, name, tries, error)
    return delivered


def queued(db: Database, config: AlertsFile) -> int:
    """Deliveries still waiting for a configured channel."""
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(AlertDelivery).where(
            AlertDelivery.delivered_at.is_(None), AlertDelivery.channel.in_([c.name for c in config.channels])))


@dataclass
class AlertSummary:
    new: list[dict] = field(default_factory=list)
    delivered: int = 0
    queued: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def process(db: Database, config: AlertsFile, *, send: bool = True) -> AlertSummary:
    """After a run: queue the alerts of every ended run, then (unless `send` is false) deliver what is queued."""
    new = scan(db, config)
    delivered = deliver(db, config) if send else 0
    return AlertSummary(new, delivered, queued(db, config))
