"""The one writer of crawl results: captures, posts and offers, idempotent on re-sighting."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.bodies import BodyStore
from storage.db import Database
from storage.models import Capture, Offer, OfferIdentifier, Post, Run, utcnow
from storage.secrets import identifier_hmac, mask

MASKED_CONTACTS = {"whatsapp"}  # phone numbers are personal data even when they are the seller's


@dataclass(frozen=True)
class Upsert:
    id: int
    new: bool


def _insert(db: Database, model):
    """An INSERT that supports ON CONFLICT on this database's dialect."""
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"upserts need PostgreSQL or SQLite, not {dialect}")


def protect_contacts(contacts: list[dict[str, str]]) -> list[dict[str, str]]:
    """Contacts as stored: phone-like ones masked and keyed-hashed."""
    out = []
    for c in contacts:
        if c["type"] in MASKED_CONTACTS:
            out.append({"type": c["type"], "value": mask(c["type"], c["value"]), "hmac": identifier_hmac(c["type"], c["value"])})
        else:
            out.append({"type": c["type"], "value": c["value"]})
    return out


class Recorder:
    """Writes through one connection and one BodyStore.

    Crawl writes (captures, posts, offers) share a transaction that is committed every
    COMMIT_EVERY operations or COMMIT_SECONDS, and by `flush()`; a crash loses at most that last
    uncommitted batch, and the body files it referenced stay on disk. Runs commit at once.
    """

    COMMIT_EVERY = 500
    COMMIT_SECONDS = 0.5

    def __init__(self, db: Database, bodies_root: Path):
        self.db = db
        self.bodies = BodyStore(bodies_root)
        self._stmts = _Statements(db)
        self._conn = None
        self._tx = None
        self._pending = 0
        self._since = 0.0

    def _write(self, stmt, params: dict[str, Any]):
        """Execute in the current batch transaction (committed by _maybe_commit when big or old enough)."""
        if self._tx is None:
            self._conn = self._conn or self.db.engine.connect()
            self._tx = self._conn.begin()
            self._since = time.monotonic()
        result = self._conn.execute(stmt, params)
        self._pending += 1
        return result

    def _maybe_commit(self) -> None:
        if self._tx is not None and (self._pending >= self.COMMIT_EVERY
                                     or time.monotonic() - self._since >= self.COMMIT_SECONDS):
            self.flush()

    def flush(self) -> None:
        """Commit the pending batch."""
        if self._tx is not None:
            self._tx.commit()
            self._tx, self._pending = None, 0

    def close(self) -> None:
        self.flush()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def start_run(self, trigger: str) -> int:
        with self.db.session() as s:
            run = Run(trigger=trigger)
            s.add(run)
            s.flush()
            return run.id

    def finish_run(self, run_id: int, status: str, exit_code: int, stats: dict[str, Any]) -> None:
        self.flush()
        with self.db.session() as s:
            s.execute(update(Run).where(Run.id == run_id).values(
                status=status, exit_code=exit_code, stats=stats, ended_at=utcnow()))

    def capture(self, *, body: bytes, **fields: Any) -> tuple[int, str]:
        """Store the body (atomically, by hash) then its capture row; return (id, sha256)."""
        digest = self.bodies.put(body)
        capture_id = self._write(self._stmts.capture, {"body_sha256": digest, "body_size": len(body), **fields}).scalar_one()
        self._maybe_commit()
        return capture_id, digest

    def post(self, *, source: str, post_key: str, capture_id: int, seen_at: datetime, **fields: Any) -> Upsert:
        """Insert a post or, when its key is known, count one more sighting and keep the newest text."""
        post_id, sightings = self._write(self._stmts.post, {
            "source": source, "post_key": post_key, "first_seen": seen_at, "last_seen": seen_at, "sightings": 1,
            "first_capture_id": capture_id, "capture_id": capture_id, **fields}).one()
        self._maybe_commit()
        return Upsert(post_id, sightings == 1)

    def offer(self, *, post_id: int, source: str, seen_at: datetime, kind: str, categories: list[str],
              prices: list[dict], contacts: list[dict], volume: int | None,
              identifiers: list[tuple[str, str]]) -> Upsert:
        """Insert or re-sight the offer of a post; identifiers are stored keyed-hashed and masked only."""
        offer_id, sightings = self._write(self._stmts.offer, {
            "post_id": post_id, "source": source, "kind": kind, "categories": categories, "prices": prices,
            "contacts": protect_contacts(contacts), "volume": volume, "first_seen": seen_at, "last_seen": seen_at,
            "sightings": 1}).one()
        if identifiers:
            known = self._write(self._stmts.identifier_count, {"offer_id": offer_id}).scalar_one()
            for i, (kind_, value) in enumerate(identifiers):
                self._write(self._stmts.identifier, {
                    "offer_id": offer_id, "position": known + i, "type": kind_, "masked": mask(kind_, value),
                    "hmac": identifier_hmac(kind_, value)})
        self._maybe_commit()
        return Upsert(offer_id, sightings == 1)


class _Statements:
    """The recorder's statements, built once per dialect (building them is costlier than running them)."""

    def __init__(self, db: Database):
        self.capture = insert(Capture).returning(Capture.id)
        post = _insert(db, Post)
        self.post = post.on_conflict_do_update(
            index_elements=["source", "post_key"],
            set_={"last_seen": post.excluded.last_seen, "sightings": Post.sightings + 1,
                  "capture_id": post.excluded.capture_id, "text": post.excluded.text, "title": post.excluded.title,
                  "author": post.excluded.author, "posted_at": post.excluded.posted_at, "url": post.excluded.url,
                  "extra": post.excluded.extra},
        ).returning(Post.id, Post.sightings)
        offer = _insert(db, Offer)
        self.offer = offer.on_conflict_do_update(
            index_elements=["post_id"],
            set_={"last_seen": offer.excluded.last_seen, "sightings": Offer.sightings + 1, "kind": offer.excluded.kind,
                  "categories": offer.excluded.categories, "prices": offer.excluded.prices,
                  "contacts": offer.excluded.contacts, "volume": offer.excluded.volume},
        ).returning(Offer.id, Offer.sightings)
        self.identifier_count = (select(func.count()).select_from(OfferIdentifier)
                                 .where(OfferIdentifier.offer_id == bindparam("offer_id")))
        self.identifier = _insert(db, OfferIdentifier).on_conflict_do_nothing()
