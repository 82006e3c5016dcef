"""The evidence store's tables (SQLAlchemy 2.0 typed models); every change goes through Alembic."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (JSON, BigInteger, Column, DateTime, Float, ForeignKey, Integer, LargeBinary, MetaData, String,
                        Table, Text, TypeDecorator, Unicode, UniqueConstraint)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# How SQLite, which has no time type, keeps a time: fixed-width ISO 8601 that says it is UTC and sorts as
# the time does (`2026-12-04T10:00:00.000000+00:00`).
SQLITE_TIME = "%(year)04d-%(month)02d-%(day)02dT%(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d+00:00"


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC in and out: timestamptz on PostgreSQL, SQLITE_TIME text on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sqlite.DATETIME(storage_format=SQLITE_TIME))
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: nigran stores timezone-aware UTC only")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


JSON_DOC = JSON().with_variant(postgresql.JSONB(), "postgresql")  # jsonb: indexable, queryable with -> and @>


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON_DOC, list[Any]: JSON_DOC}


class Run(Base):
    """One crawl run: manual, scheduled or sweep, with the process that runs it (storage/runs.py)."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    trigger: Mapped[str] = mapped_column(String(16), comment="What started it: manual, scheduled, sweep, demo...")
    started_at: Mapped[datetime] = mapped_column(default=utcnow, comment="When it started (UTC)")
    ended_at: Mapped[datetime | None] = mapped_column(comment="When it ended (UTC); empty while running")
    status: Mapped[str] = mapped_column(String(16), default="running",
                                        comment="running, finished, failed or interrupted")
    exit_code: Mapped[int | None] = mapped_column(comment="The crawl process's exit code")
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict, comment="Totals and a report per source (JSON)")
    host: Mapped[str | None] = mapped_column(String(255), comment="The host that ran it")
    pid: Mapped[int | None] = mapped_column(comment="The process id that ran it on that host")
    process_key: Mapped[str | None] = mapped_column(
        String(64), comment="That process's boot and start time (<boot id>:<start ticks>): tells a reused pid apart")


class Capture(Base):
    """One HTTP response (or browser artefact) exactly as received. Rows are never updated or deleted."""

    __tablename__ = "captures"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), index=True, comment="The run that fetched it")
    source: Mapped[str] = mapped_column(String(64), index=True, comment="The source's name in the sources file")
    kind: Mapped[str] = mapped_column(String(16), default="http",
                                      comment="http, or a browser artefact: dom, screenshot")
    url: Mapped[str] = mapped_column(Text, comment="The URL asked for")
    final_url: Mapped[str] = mapped_column(Text, comment="The URL that answered, after redirects")
    method: Mapped[str] = mapped_column(String(8), default="GET", comment="The HTTP method")
    status: Mapped[int] = mapped_column(comment="The HTTP status")
    headers: Mapped[list[Any]] = mapped_column(default=list,
                                               comment="Response headers as [name, value] pairs, secrets removed")
    body_sha256: Mapped[str] = mapped_column(String(64), index=True,
                                             comment="SHA-256 of the body (hex); the body store's key")
    body_size: Mapped[int] = mapped_column(BigInteger, comment="The body's size in bytes")
    fetched_at: Mapped[datetime] = mapped_column(index=True, comment="When the response arrived (UTC)")
    transport: Mapped[str] = mapped_column(String(16), comment="How it came: tor or direct")
    circuit_id: Mapped[str | None] = mapped_column(String(32), comment="The Tor circuit it came over")
    exit_fingerprint: Mapped[str | None] = mapped_column(String(40), comment="That circuit's exit relay")
    warc_file: Mapped[str | None] = mapped_column(String(255), comment="The WARC file holding the record")
    warc_record_id: Mapped[str | None] = mapped_column(String(64), comment="The WARC-Record-ID of the response")
    warc_offset: Mapped[int | None] = mapped_column(BigInteger, comment="The record's byte offset in that file")


class Post(Base):
    """A post, listing, reply, paste or message, keyed stably within its source; identifiers in its text are
    masked."""

    __tablename__ = "posts"
    __table_args__ = (UniqueConstraint("source", "post_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(64), index=True, comment="The source's name")
    post_key: Mapped[str] = mapped_column(String(512), comment="Its stable key within the source")
    url: Mapped[str] = mapped_column(Text, comment="Its permalink, as last seen")
    title: Mapped[str | None] = mapped_column(Text, comment="Its title, identifiers masked")
    author: Mapped[str | None] = mapped_column(String(256), comment="Its author's name, identifiers masked")
    posted_at: Mapped[datetime | None] = mapped_column(comment="When the page says it was posted (UTC)")
    text: Mapped[str] = mapped_column(Text, comment="Its text as last seen, identifiers masked")
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict,
                                                  comment="Other fields the spider read (JSON), identifiers masked")
    first_seen: Mapped[datetime] = mapped_column(index=True, comment="When nigran first saw it (UTC)")
    last_seen: Mapped[datetime] = mapped_column(comment="When nigran last saw it (UTC)")
    sightings: Mapped[int] = mapped_column(Integer, default=1, comment="How many times it was seen")
    first_capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id"),
                                                  comment="The capture it was first seen in")
    latest_capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id"),
                                                   comment="The capture it was last seen in")
    latest_capture: Mapped[Capture] = relationship(foreign_keys=[latest_capture_id])


class Offer(Base):
    """What a post offers or asks for; identifiers live only as keyed hashes beside it."""

    __tablename__ = "offers"
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), unique=True, comment="The post it is in")
    source: Mapped[str] = mapped_column(String(64), index=True, comment="The source's name")
    kind: Mapped[str] = mapped_column(String(16), comment="offer (sells data) or request (asks for it)")
    categories: Mapped[list[Any]] = mapped_column(default=list,
                                                  comment="Data categories found (JSON list): cnic, sim...")
    prices: Mapped[list[Any]] = mapped_column(default=list, comment="Prices found (JSON list of amount and currency)")
    contacts: Mapped[list[Any]] = mapped_column(
        default=list, comment="The seller's contacts (JSON list); phone numbers masked and keyed-hashed")
    volume: Mapped[int | None] = mapped_column(BigInteger, comment="How many records it claims")
    first_seen: Mapped[datetime] = mapped_column(index=True, comment="When nigran first saw it (UTC)")
    last_seen: Mapped[datetime] = mapped_column(comment="When nigran last saw it (UTC)")
    sightings: Mapped[int] = mapped_column(Integer, default=1, comment="How many times it was seen")
    post: Mapped[Post] = relationship()
    identifiers: Mapped[list[OfferIdentifier]] = relationship(
        back_populates="offer", cascade="all, delete-orphan", order_by="OfferIdentifier.position"
    )


class OfferIdentifier(Base):
    """A personal identifier seen in an offer: keyed HMAC and masked form, never the raw value."""

    __tablename__ = "offer_identifiers"
    __table_args__ = (UniqueConstraint("offer_id", "type", "hmac"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id", ondelete="CASCADE"), index=True,
                                          comment="The offer it was seen in")
    position: Mapped[int] = mapped_column(Integer, default=0, comment="Its order of appearance in the offer")
    type: Mapped[str] = mapped_column(String(16), comment="cnic, pk_mobile, passport...")
    hmac: Mapped[str] = mapped_column(String(64), index=True,
                                      comment="Keyed HMAC-SHA256 of the value: equal values match across offers")
    masked: Mapped[str] = mapped_column(String(32), comment="The value masked (a CNIC's locality digits stay)")
    offer: Mapped[Offer] = relationship(back_populates="identifiers")


class Reveal(Base):
    """Audit: somebody asked to see raw identifiers."""

    __tablename__ = "reveals"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, comment="When (UTC)")
    operator: Mapped[str] = mapped_column(String(128), comment="Who, as they typed it (free text)")
    os_user: Mapped[str | None] = mapped_column(String(128), comment="Who was logged in (empty before migration 0005)")
    host: Mapped[str | None] = mapped_column(String(255), comment="On which host")
    offer_ids: Mapped[list[Any]] = mapped_column(default=list, comment="The offers revealed (JSON list of ids)")


# --- operations: watchlist, alerts, sweep lock ---


class Watch(Base):
    """A watched identifier: keyed HMAC, masked form and a label; never the raw value."""

    __tablename__ = "watchlist"
    __table_args__ = (UniqueConstraint("type", "hmac"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(16), comment="cnic, pk_mobile, passport...")
    hmac: Mapped[str] = mapped_column(String(64), comment="Keyed HMAC-SHA256 of the value")
    masked: Mapped[str] = mapped_column(String(32), comment="The value masked")
    label: Mapped[str] = mapped_column(String(200), comment="Whose it is, as the analyst named it")
    added_at: Mapped[datetime] = mapped_column(default=utcnow, comment="When it was added (UTC)")


class AlertScan(Base):
    """An ended run whose offers have been checked against the alert rules and the watchlist."""

    __tablename__ = "alert_scans"
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), primary_key=True, comment="The run checked")
    scanned_at: Mapped[datetime] = mapped_column(default=utcnow, comment="When it was checked (UTC)")


class GuardStop(Base):
    """A source a run stopped at a page it could not pass (crawler/guard.py); the page is a capture."""

    __tablename__ = "guard_stops"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), index=True, comment="The run that stopped")
    source: Mapped[str] = mapped_column(String(64), index=True, comment="The source's name")
    status: Mapped[str] = mapped_column(String(32), comment="login_wall, session_expired, login_failed, no_session, "
                                                            "captcha, queue, challenge or seized")
    reason: Mapped[str] = mapped_column(Text, comment="What the page showed, in words")
    url: Mapped[str | None] = mapped_column(Text, comment="The page's URL")
    capture_id: Mapped[int | None] = mapped_column(ForeignKey("captures.id"), comment="The page, as captured")
    next_step: Mapped[str] = mapped_column(Text, comment="The command that gets past it")
    at: Mapped[datetime] = mapped_column(default=utcnow, comment="When (UTC)")


class Alert(Base):
    """A new offer matching a rule (`reason` "rule:NAME"), a watched identifier's sighting ("watch:ID"), or
    a source that needs a human (`reason` "guard:SOURCE", no offer)."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("reason", "offer_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True, comment="The run that raised it")
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("offers.id"),
                                                 comment="The offer; empty for a source's alert")
    reason: Mapped[str] = mapped_column(String(80), comment="rule:NAME, watch:ID or guard:SOURCE")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, comment="When it was raised (UTC)")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict, comment="What the channels are sent (JSON, masked)")
    deliveries: Mapped[list[AlertDelivery]] = relationship(back_populates="alert", cascade="all, delete-orphan")


class AlertDelivery(Base):
    """One alert over one channel: queued until `delivered_at` is set."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (UniqueConstraint("alert_id", "channel"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), comment="The alert")
    channel: Mapped[str] = mapped_column(String(64), comment="The channel's name in the alerts file")
    attempts: Mapped[int] = mapped_column(Integer, default=0, comment="How many times sending was tried")
    last_attempt_at: Mapped[datetime | None] = mapped_column(comment="When it was last tried (UTC)")
    last_error: Mapped[str | None] = mapped_column(Text, comment="Why the last try failed")
    delivered_at: Mapped[datetime | None] = mapped_column(index=True,
                                                          comment="When it was delivered (UTC); empty while queued")
    alert: Mapped[Alert] = relationship(back_populates="deliveries")


class OperationLock(Base):
    """Who holds an operation lock (sweep, scheduler) and since when; the lock itself is held elsewhere."""

    __tablename__ = "operation_locks"
    name: Mapped[str] = mapped_column(String(32), primary_key=True, comment="The operation: sweep, scheduler")
    holder: Mapped[str] = mapped_column(String(255), comment="The host and process holding it")
    acquired_at: Mapped[datetime] = mapped_column(comment="Since when (UTC)")


# APScheduler's SQLAlchemyJobStore table, declared here so that Alembic creates it and keeps it.
apscheduler_jobs = Table(
    "apscheduler_jobs", Base.metadata,
    Column("id", Unicode(191), primary_key=True, comment="The schedule's job id"),
    Column("next_run_time", Float(25), index=True, comment="When it runs next (Unix time, UTC)"),
    Column("job_state", LargeBinary, nullable=False, comment="APScheduler's pickled job"),
    comment="APScheduler's stored schedules (nigran schedule)",
)


# --- evidence: WARC pointers, custody log ---


class CustodyEvent(Base):
    """One entry of the append-only, hash-chained custody log (see storage.evidence.custody)."""

    __tablename__ = "custody_events"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False,
                                     comment="Its place in the log, from 1")
    at: Mapped[datetime] = mapped_column(comment="When (UTC)")
    kind: Mapped[str] = mapped_column(String(32), index=True,
                                      comment="capture stored, export made, identifier revealed, source config changed")
    operator: Mapped[str] = mapped_column(String(128), comment="Who (user@host)")
    capture_id: Mapped[int | None] = mapped_column(ForeignKey("captures.id"), index=True,
                                                   comment="The capture it is about")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict, comment="What happened (JSON), as hashed")
    prev_hash: Mapped[str] = mapped_column(String(64), comment="The previous event's hash (zeros for the first)")
    hash: Mapped[str] = mapped_column(String(64), unique=True, comment="SHA-256 of the event's canonical JSON")


class CustodyHead(Base):
    """The log's newest entry (one row, id 1): appenders lock it, so the chain stays linear."""

    __tablename__ = "custody_head"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, comment="The newest event's seq")
    hash: Mapped[str] = mapped_column(String(64), comment="The newest event's hash")


class CustodyCheckpoint(Base):
    """A signed RFC 6962 tree head over the first `tree_size` custody events."""

    __tablename__ = "custody_checkpoints"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(comment="When it was signed (UTC)")
    tree_size: Mapped[int] = mapped_column(BigInteger, index=True, comment="How many events it covers")
    root: Mapped[str] = mapped_column(String(64), comment="The Merkle tree's root hash")
    head_hash: Mapped[str] = mapped_column(String(64), comment="The hash of the last event it covers")
    peaks: Mapped[list[Any]] = mapped_column(default=list,
                                             comment="Merkle state to resume from: [[height, hex], ...] (JSON)")
    public_key: Mapped[str] = mapped_column(String(64), comment="The minisign key that signed it")
    signature: Mapped[str] = mapped_column(Text, comment="The minisign signature")


class CaptureArtifact(Base):
    """A browser artefact (screenshot, rendered DOM), itself a capture, tied to the page capture it shows."""

    __tablename__ = "capture_artifacts"
    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id"), primary_key=True,
                                            comment="The artefact's capture")
    page_capture_id: Mapped[int | None] = mapped_column(ForeignKey("captures.id"), index=True,
                                                        comment="The page capture it shows")
    role: Mapped[str] = mapped_column(String(16), comment="screenshot or dom")


class Installation(Base):
    """The data home this database's bodies, WARCs and signing key live in (one row, id 1), recorded when
    that home first writes to the database (storage/installation.py)."""

    __tablename__ = "installation"
    id: Mapped[int] = mapped_column(primary_key=True)
    home: Mapped[str] = mapped_column(Text, comment="Absolute path of the data home (bodies, WARCs, keys)")
    key_id: Mapped[str] = mapped_column(String(16), comment="Fingerprint of the home's signing key")
    public_key: Mapped[str] = mapped_column(String(64), comment="The home's minisign public key")
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow, comment="When the home first wrote here (UTC)")


for _mapper in Base.registry.mappers:  # the table comment an analyst sees (psql \d+) is the model's docstring
    _mapper.local_table.comment = " ".join(_mapper.class_.__doc__.split())
