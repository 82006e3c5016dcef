"""The one writer of crawl results: captures, posts and offers, idempotent on re-sighting."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
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


def _insert(session, model):
    dialect = session.bind.dialect.name
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
    """Writes through one Database and one BodyStore; every method commits its own transaction."""

    def __init__(self, db: Database, bodies_root: Path):
        self.db = db
        self.bodies = BodyStore(bodies_root)

    def start_run(self, trigger: str) -> int:
        with self.db.session() as s:
            run = Run(trigger=trigger)
            s.add(run)
            s.flush()
            return run.id

    def finish_run(self, run_id: int, status: str, exit_code: int, stats: dict[str, Any]) -> None:
        with self.db.session() as s:
            s.execute(update(Run).where(Run.id == run_id).values(
                status=status, exit_code=exit_code, stats=stats, ended_at=utcnow()))

    def capture(self, *, body: bytes, **fields: Any) -> tuple[int, str]:
        """Store the body (atomically, by hash) then its capture row; return (id, sha256)."""
        digest = self.bodies.put(body)
        with self.db.session() as s:
            row = Capture(body_sha256=digest, body_size=len(body), **fields)
            s.add(row)
            s.flush()
            return row.id, digest

    def post(self, *, source: str, post_key: str, capture_id: int, seen_at: datetime, **fields: Any) -> Upsert:
        """Insert a post or, when its key is known, count one more sighting and keep the newest text."""
        with self.db.session() as s:
            stmt = _insert(s, Post).values(
                source=source, post_key=post_key, first_seen=seen_at, last_seen=seen_at, sightings=1,
                first_capture_id=capture_id, capture_id=capture_id, **fields)
            stmt = stmt.on_conflict_do_update(
                index_elements=["source", "post_key"],
                set_={"last_seen": stmt.excluded.last_seen, "sightings": Post.sightings + 1,
                      "capture_id": stmt.excluded.capture_id, "text": stmt.excluded.text,
                      "title": stmt.excluded.title, "author": stmt.excluded.author,
                      "posted_at": stmt.excluded.posted_at, "url": stmt.excluded.url, "extra": stmt.excluded.extra},
            ).returning(Post.id, Post.sightings)
            post_id, sightings = s.execute(stmt).one()
            return Upsert(post_id, sightings == 1)

    def offer(self, *, post_id: int, source: str, seen_at: datetime, kind: str, categories: list[str],
              prices: list[dict], contacts: list[dict], volume: int | None,
              identifiers: list[tuple[str, str]]) -> Upsert:
        """Insert or re-sight the offer of a post; identifiers are stored keyed-hashed and masked only."""
        with self.db.session() as s:
            stmt = _insert(s, Offer).values(
                post_id=post_id, source=source, kind=kind, categories=categories, prices=prices,
                contacts=protect_contacts(contacts), volume=volume, first_seen=seen_at, last_seen=seen_at, sightings=1)
            stmt = stmt.on_conflict_do_update(
                index_elements=["post_id"],
                set_={"last_seen": stmt.excluded.last_seen, "sightings": Offer.sightings + 1,
                      "kind": stmt.excluded.kind, "categories": stmt.excluded.categories,
                      "prices": stmt.excluded.prices, "contacts": stmt.excluded.contacts,
                      "volume": stmt.excluded.volume},
            ).returning(Offer.id, Offer.sightings)
            offer_id, sightings = s.execute(stmt).one()
            if identifiers:
                known = s.scalar(select(OfferIdentifier.position).where(OfferIdentifier.offer_id == offer_id)
                                 .order_by(OfferIdentifier.position.desc()).limit(1))
                start = 0 if known is None else known + 1
                rows = [{"offer_id": offer_id, "position": start + i, "type": kind_, "masked": mask(kind_, value),
                         "hmac": identifier_hmac(kind_, value)} for i, (kind_, value) in enumerate(identifiers)]
                s.execute(_insert(s, OfferIdentifier).values(rows).on_conflict_do_nothing())
            return Upsert(offer_id, sightings == 1)
