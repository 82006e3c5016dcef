"""The evidence store's tables (SQLAlchemy 2.0 typed models); every change goes through Alembic."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (JSON, BigInteger, Column, DateTime, Float, ForeignKey, Integer, LargeBinary, MetaData, String,
                        Table, Text, TypeDecorator, Unicode, UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC in and out, on SQLite (which keeps no zone) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

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


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Run(Base):
    """One crawl run: manual, scheduled or sweep, with the process that runs it (storage/runs.py)."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    trigger: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="running")
    exit_code: Mapped[int | None]
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None]
    # The boot and start time of that process ("<boot id>:<start ticks>"), which tells a reused pid apart.
    process_key: Mapped[str | None] = mapped_column(String(64))


class Capture(Base):
    """One HTTP response (or browser artefact) exactly as received. Rows are never updated or deleted."""

    __tablename__ = "captures"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), index=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="http")
    url: Mapped[str] = mapped_column(Text)
    final_url: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(8), default="GET")
    status: Mapped[int]
    headers: Mapped[list[Any]] = mapped_column(default=list)
    body_sha256: Mapped[str] = mapped_column(String(64), index=True)
    body_size: Mapped[int] = mapped_column(BigInteger)
    fetched_at: Mapped[datetime] = mapped_column(index=True)
    transport: Mapped[str] = mapped_column(String(16))
    circuit_id: Mapped[str | None] = mapped_column(String(32))
    exit_fingerprint: Mapped[str | None] = mapped_column(String(40))
    warc_file: Mapped[str | None] = mapped_column(String(255))
    warc_record_id: Mapped[str | None] = mapped_column(String(64))
    warc_offset: Mapped[int | None] = mapped_column(BigInteger)


class Post(Base):
    """A post, listing, reply, paste or message, keyed stably within its source."""

    __tablename__ = "posts"
    __table_args__ = (UniqueConstraint("source", "post_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    post_key: Mapped[str] = mapped_column(String(512))
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(256))
    posted_at: Mapped[datetime | None]
    text: Mapped[str] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    first_seen: Mapped[datetime] = mapped_column(index=True)
    last_seen: Mapped[datetime]
    sightings: Mapped[int] = mapped_column(Integer, default=1)
    first_capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id"))
    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id"))
    capture: Mapped[Capture] = relationship(foreign_keys=[capture_id])


class Offer(Base):
    """What a post offers or asks for; identifiers live only as keyed hashes beside it."""

    __tablename__ = "offers"
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), unique=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    categories: Mapped[list[Any]] = mapped_column(default=list)
    prices: Mapped[list[Any]] = mapped_column(default=list)
    contacts: Mapped[list[Any]] = mapped_column(default=list)
    volume: Mapped[int | None] = mapped_column(BigInteger)
    first_seen: Mapped[datetime] = mapped_column(index=True)
    last_seen: Mapped[datetime]
    sightings: Mapped[int] = mapped_column(Integer, default=1)
    post: Mapped[Post] = relationship()
    identifiers: Mapped[list[OfferIdentifier]] = relationship(
        back_populates="offer", cascade="all, delete-orphan", order_by="OfferIdentifier.position"
    )


class OfferIdentifier(Base):
    """A personal identifier seen in an offer: keyed HMAC and masked form, never the raw value."""

    __tablename__ = "offer_identifiers"
    __table_args__ = (UniqueConstraint("offer_id", "type", "hmac"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    type: Mapped[str] = mapped_column(String(16))
    hmac: Mapped[str] = mapped_column(String(64), index=True)
    masked: Mapped[str] = mapped_column(String(32))
    offer: Mapped[Offer] = relationship(back_populates="identifiers")


class Reveal(Base):
    """Audit: somebody asked to see raw identifiers."""

    __tablename__ = "reveals"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    operator: Mapped[str] = mapped_column(String(128))  # as typed: free text
    os_user: Mapped[str | None] = mapped_column(String(128))  # who was logged in (None before migration 0005)
    host: Mapped[str | None] = mapped_column(String(255))
    offer_ids: Mapped[list[Any]] = mapped_column(default=list)


# --- operations: watchlist, alerts, sweep lock ---


class Watch(Base):
    """A watched identifier: keyed HMAC, masked form and a label; never the raw value."""

    __tablename__ = "watchlist"
    __table_args__ = (UniqueConstraint("type", "hmac"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    hmac: Mapped[str] = mapped_column(String(64))
    masked: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertScan(Base):
    """An ended run whose offers have been checked against the alert rules and the watchlist."""

    __tablename__ = "alert_scans"
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    scanned_at: Mapped[datetime] = mapped_column(default=utcnow)


class GuardStop(Base):
    """A source a run stopped at a page it could not pass (crawler/guard.py): `status` login_wall,
    session_expired, login_failed, no_session, captcha, queue, challenge or seized; the page is a capture."""

    __tablename__ = "guard_stops"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), index=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    capture_id: Mapped[int | None] = mapped_column(ForeignKey("captures.id"))
    next_step: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Alert(Base):
    """A new offer matching a rule (`reason` "rule:NAME"), a watched identifier's sighting ("watch:ID"), or
    a source that needs a human (`reason` "guard:SOURCE", no offer)."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("reason", "offer_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("offers.id"))
    reason: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    deliveries: Mapped[list[AlertDelivery]] = relationship(back_populates="alert", cascade="all, delete-orphan")


class AlertDelivery(Base):
    """One alert over one channel: queued until `delivered_at` is set."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (UniqueConstraint("alert_id", "channel"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(index=True)
    alert: Mapped[Alert] = relationship(back_populates="deliveries")


class OperationLock(Base):
    """Who holds an operation lock (sweep, scheduler) and since when; the lock itself is held elsewhere."""

    __tablename__ = "operation_locks"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    acquired_at: Mapped[datetime]


# APScheduler's SQLAlchemyJobStore table, declared here so that Alembic creates it and keeps it.
apscheduler_jobs = Table(
    "apscheduler_jobs", Base.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)


# --- evidence: WARC pointers, custody log ---


class CustodyEvent(Base):
    """One entry of the append-only, hash-chained custody log (see storage.evidence.custody)."""

    __tablename__ = "custody_events"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32), index=True)
    operator: Mapped[str] = mapped_column(String(128))
    capture_id: Mapped[int | None] = mapped_column(ForeignKey("captures.id"), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class CustodyHead(Base):
    """The log's newest entry (one row, id 1): appenders lock it, so the chain stays linear."""

    __tablename__ = "custody_head"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class CustodyCheckpoint(Base):
    """A signed RFC 6962 tree head over the first `tree_size` custody events."""

    __tablename__ = "custody_checkpoints"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    tree_size: Mapped[int] = mapped_column(BigInteger, index=True)
    root: Mapped[str] = mapped_column(String(64))
    head_hash: Mapped[str] = mapped_column(String(64))
    peaks: Mapped[list[Any]] = mapped_column(default=list)  # Merkle state to resume from: [[height, hex], ...]
    public_key: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)


class CaptureArtifact(Base):
    """A browser artefact (screenshot, rendered DOM), itself a capture, tied to the page capture it shows."""

    __tablename__ = "capture_artifacts"
    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id"), primary_key=True)
    page_capture_id: Mapped[int | None] = mapped_column(ForeignKey("captures.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))


class Installation(Base):
    """The data home this database's bodies, WARCs and signing key live in (one row, id 1), recorded when
    that home first writes to the database (storage/installation.py)."""

    __tablename__ = "installation"
    id: Mapped[int] = mapped_column(primary_key=True)
    home: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(16))
    public_key: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
