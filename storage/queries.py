"""Read side: offers and posts as the CLI and exports show them."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterator

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session, selectinload

from nigran.storage.models import Capture, GuardStop, Offer, Post, Reveal
from nigran.storage.utc import iso


def offers(session: Session, *, since: datetime | None = None, category: str | None = None,
           sources: tuple[str, ...] = (), ids: tuple[int, ...] = ()) -> Iterator[Offer]:
    """Offers (and requests) newest first, with their post and capture loaded."""
    stmt = (select(Offer).options(selectinload(Offer.identifiers),
                                  selectinload(Offer.post).selectinload(Post.latest_capture))
            .order_by(Offer.first_seen.desc(), Offer.id.desc()))
    if since:
        stmt = stmt.where(Offer.last_seen >= since)
    if sources:
        stmt = stmt.where(Offer.source.in_(sources))
    if ids:
        stmt = stmt.where(Offer.id.in_(ids))
    for offer in session.scalars(stmt):
        if category is None or category in offer.categories:
            yield offer


def offer_dict(offer: Offer, revealed: dict[str, str] | None = None) -> dict[str, Any]:
    """The `nigran offers --json` object; identifiers masked unless revealed (hmac -> raw)."""
    revealed = revealed or {}
    return {
        "id": offer.id, "source": offer.source, "url": offer.post.url, "post_key": offer.post.post_key,
        "kind": offer.kind, "categories": offer.categories,
        "identifiers": [{"type": i.type, "value": revealed.get(i.hmac, i.masked)} for i in offer.identifiers],
        "prices": offer.prices,
        "contacts": [{"type": c["type"], "value": revealed.get(c.get("hmac", ""), c["value"])} for c in offer.contacts],
        "volume": offer.volume, "first_seen": iso(offer.first_seen), "last_seen": iso(offer.last_seen),
        "sightings": offer.sightings, "capture_sha256": offer.post.latest_capture.body_sha256,
    }


def posts(session: Session, *, since: datetime | None = None, sources: tuple[str, ...] = ()) -> Iterator[Post]:
    stmt = select(Post).options(selectinload(Post.latest_capture)).order_by(Post.first_seen.desc(), Post.id.desc())
    if since:
        stmt = stmt.where(Post.last_seen >= since)
    if sources:
        stmt = stmt.where(Post.source.in_(sources))
    yield from session.scalars(stmt)


def post_dict(post: Post) -> dict[str, Any]:
    return {
        "id": post.id, "source": post.source, "url": post.url, "post_key": post.post_key, "author": post.author,
        "posted_at": iso(post.posted_at), "text": post.text, "first_seen": iso(post.first_seen),
        "last_seen": iso(post.last_seen), "capture_sha256": post.latest_capture.body_sha256,
    }


def newest_message(session: Session, source: str, channel: str) -> int:
    """The highest message id stored for a channel of a source (post_key `channel/id`), 0 when none."""
    prefix = f"{channel.lower()}/"
    message_id = cast(func.substr(Post.post_key, len(prefix) + 1), Integer)
    stmt = select(func.max(message_id)).where(
        Post.source == source, func.lower(func.substr(Post.post_key, 1, len(prefix))) == prefix)
    return session.scalar(stmt) or 0


def reveals(session: Session) -> Iterator[Reveal]:
    """The reveal audit, newest first."""
    yield from session.scalars(select(Reveal).order_by(Reveal.at.desc(), Reveal.id.desc()))


def reveal_dict(reveal: Reveal) -> dict[str, Any]:
    return {"id": reveal.id, "at": iso(reveal.at), "operator": reveal.operator, "os_user": reveal.os_user,
            "host": reveal.host, "offer_ids": reveal.offer_ids}


def last_answers(session: Session) -> dict[str, tuple[str, datetime]]:
    """Per source, the URL and time of the newest response it got (any HTTP status below 500): which mirror
    answered last, and when."""
    newest = select(func.max(Capture.id)).where(Capture.kind == "http", Capture.status < 500).group_by(Capture.source)
    rows = session.execute(select(Capture.source, Capture.url, Capture.fetched_at).where(Capture.id.in_(newest)))
    return {source: (url, at) for source, url, at in rows}


def last_stops(session: Session) -> dict[str, GuardStop]:
    """Per source, the newest stop at a wall or guard page."""
    newest = select(func.max(GuardStop.id)).group_by(GuardStop.source)
    return {stop.source: stop for stop in session.scalars(select(GuardStop).where(GuardStop.id.in_(newest)))}
