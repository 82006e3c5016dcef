"""The one writer of crawl results: captures, posts and offers, idempotent on re-sighting."""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.bodies import BodyStore
from storage.db import Database
from storage.evidence import custody, keys
from storage.evidence.provenance import operator as default_operator
from storage.evidence.warcstore import Pointer, RunWarcs
from storage.models import Capture, CaptureArtifact, Offer, OfferIdentifier, Post, Run, utcnow
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


@dataclass(frozen=True)
class _Recent:
    """What a later post or artefact needs to know about a capture written by this recorder."""

    run_id: int | None
    url: str
    source: str
    record_id: str
    circuit: str | None


class Recorder:
    """Writes through one connection, one BodyStore and one set of run WARC files.

    Crawl writes (captures, posts, offers) share a transaction that is committed every
    COMMIT_EVERY operations or COMMIT_SECONDS, and by `flush()`; a crash loses at most that last
    uncommitted batch, and the body files and WARC records it referenced stay on disk. At commit a
    batch fsyncs the WARC files, locks the custody log's head and chains a "capture stored" event per
    capture: the head is held for milliseconds, so many workers can write to one database at once.
    Runs commit at once.
    """

    COMMIT_EVERY = 500
    COMMIT_SECONDS = 0.5
    RECENT = 4096  # captures remembered for their posts' metadata records

    def __init__(self, db: Database, bodies_root: Path, warc_root: Path | None = None, operator: str | None = None,
                 writer: str | None = None):
        self.db = db
        self.bodies = BodyStore(bodies_root)
        self.home = Path(bodies_root).parent
        self.operator = operator or default_operator()
        self.warcs = RunWarcs(warc_root or self.home / "warc", self.operator, writer)
        self._stmts = _Statements(db)
        self._conn = None
        self._tx = None
        self._pending = 0
        self._since = 0.0
        self._events: list[dict[str, Any]] = []  # custody events of the batch, chained at commit
        self._on_commit: list[Callable[[], None]] = []
        self._recent: OrderedDict[int, _Recent] = OrderedDict()
        self._post_keys: dict[int, list[str]] = {}

    def _begin(self) -> None:
        if self._tx is None:
            self._conn = self._conn or self.db.engine.connect()
            self._tx = self._conn.begin()
            self._since = time.monotonic()

    def _write(self, stmt, params: dict[str, Any] | list[dict[str, Any]]):
        """Execute in the current batch transaction (committed by _maybe_commit when big or old enough);
        a list of parameter sets is one executemany."""
        self._begin()
        result = self._conn.execute(stmt, params)
        self._pending += len(params) if isinstance(params, list) else 1
        return result

    def _maybe_commit(self) -> None:
        if self._tx is not None and (self._pending >= self.COMMIT_EVERY
                                     or time.monotonic() - self._since >= self.COMMIT_SECONDS):
            self.flush()

    def flush(self) -> None:
        """Write the batch's post metadata, fsync the WARC files, append its custody events, commit;
        then run what waited for this commit."""
        if self._tx is not None:
            self._write_post_metadata()
            self.warcs.sync()
            if self._events:
                head = custody.lock_head(self._conn)
                self._conn.execute(custody.EVENT_INSERT, [head.next_event(**e) for e in self._events])
                custody.save_head(self._conn, head)
            self._tx.commit()
            self._tx, self._pending, self._events = None, 0, []
        waiting, self._on_commit = self._on_commit, []
        for callback in waiting:
            callback()

    def when_committed(self, callback: Callable[[], None]) -> None:
        """Call `callback` once everything written so far is committed (at once when it already is)."""
        if self._tx is None:
            callback()
        else:
            self._on_commit.append(callback)

    def close(self) -> None:
        self.flush()
        self.warcs.close(every=True)
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
        """Record the run's end, close its WARC files and sign a custody checkpoint over the log."""
        self.flush()
        self.warcs.close(run_id)
        with self.db.session() as s:
            s.execute(update(Run).where(Run.id == run_id).values(
                status=status, exit_code=exit_code, stats=stats, ended_at=utcnow()))
            custody.make_checkpoint(s, keys.signing_key(self.home))

    def capture(self, *, body: bytes, request_headers=(), started_at: datetime | None = None,
                **fields: Any) -> tuple[int, str]:
        """Store the body (atomically, by hash), its WARC response + request records, then its capture
        row and custody event; return (id, sha256).

        `fields` are Capture columns; `request_headers` ([name, value] pairs) go to the WARC request
        record and `started_at` (when the request was sent) to the response record and custody event.
        """
        digest = self.bodies.put(body)
        pointer = self.warcs.exchange(
            fields.get("run_id"), url=fields["url"], method=fields.get("method", "GET"),
            request_headers=request_headers, status=fields["status"], headers=fields.get("headers", []), body=body,
            fetched_at=fields["fetched_at"], extra={
                "WARC-Nigran-Source": fields["source"], "WARC-Nigran-Transport": fields.get("transport"),
                "WARC-Nigran-Circuit": fields.get("circuit_id"), "WARC-Nigran-Exit": fields.get("exit_fingerprint"),
                "WARC-Nigran-Started": started_at and custody.utc_text(started_at)})
        return self._store(body, digest, pointer, fields, started_at), digest

    def capture_artifact(self, *, page_capture_id: int | None, role: str, data: bytes, content_type: str,
                         url: str, source: str, run_id: int | None, fetched_at: datetime) -> tuple[int, str]:
        """Store a browser artefact — `role` "screenshot" (image/png) or "dom" (text/html) — of the page
        captured as `page_capture_id`: a WARC resource record concurrent to the page's response, a
        capture row (kind = role, transport "browser") linked to the page, a custody event.
        Returns (capture id, sha256)."""
        digest = self.bodies.put(data)
        pointer = self.warcs.resource(run_id, url=url, content_type=content_type, data=data,
                                      fetched_at=fetched_at, concurrent_to=self._record_id(page_capture_id))
        fields = {"run_id": run_id, "source": source, "kind": role, "url": url, "final_url": url, "status": 200,
                  "headers": [["Content-Type", content_type]], "fetched_at": fetched_at, "transport": "browser"}
        capture_id = self._store(data, digest, pointer, fields, None)
        self._write(self._stmts.artifact, {"capture_id": capture_id, "page_capture_id": page_capture_id, "role": role})
        return capture_id, digest

    def _store(self, body: bytes, digest: str, pointer: Pointer, fields: dict[str, Any],
               started_at: datetime | None) -> int:
        """The capture row pointing at its WARC record, and its custody event."""
        capture_id = self._write(self._stmts.capture, {
            "body_sha256": digest, "body_size": len(body), "warc_file": pointer.file,
            "warc_record_id": pointer.record_id, "warc_offset": pointer.offset, **fields}).scalar_one()
        self._events.append(dict(kind=custody.CAPTURE_STORED, operator=self.operator, capture_id=capture_id,
                                 at=datetime.now(timezone.utc), details={
            "source": fields["source"], "url": fields["url"], "status": fields["status"],
            "fetched_at": custody.utc_text(fields["fetched_at"]),
            "started_at": started_at and custody.utc_text(started_at), "transport": fields.get("transport"),
            "body_sha256": digest, "body_size": len(body), "warc_file": pointer.file,
            "warc_record_id": pointer.record_id}))
        self._recent[capture_id] = _Recent(fields.get("run_id"), fields["url"], fields["source"], pointer.record_id,
                                           fields.get("circuit_id"))
        if len(self._recent) > self.RECENT:
            self._recent.popitem(last=False)
        self._maybe_commit()
        return capture_id

    def _record_id(self, capture_id: int | None) -> str | None:
        if capture_id is None:
            return None
        if capture_id in self._recent:
            return self._recent[capture_id].record_id
        return self._write(self._stmts.record_id, {"id": capture_id}).scalar_one_or_none()

    def _write_post_metadata(self) -> None:
        """One WARC metadata record per capture that yielded posts: source, post keys, circuit."""
        for capture_id, post_keys in self._post_keys.items():
            recent = self._recent.get(capture_id)
            if recent is not None:
                fields = {"source": recent.source, "capture-id": capture_id, "post-key": post_keys}
                if recent.circuit:
                    fields["circuit"] = recent.circuit
                self.warcs.metadata(recent.run_id, recent.url, fields, refers_to=recent.record_id)
        self._post_keys.clear()

    def post(self, *, source: str, post_key: str, capture_id: int, seen_at: datetime, **fields: Any) -> Upsert:
        """Insert a post or, when its key is known, count one more sighting and keep the newest text."""
        post_id, sightings = self._write(self._stmts.post, {
            "source": source, "post_key": post_key, "first_seen": seen_at, "last_seen": seen_at, "sightings": 1,
            "first_capture_id": capture_id, "capture_id": capture_id, **fields}).one()
        self._post_keys.setdefault(capture_id, []).append(post_key)
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
        if identifiers:  # a new offer has none yet; a re-sighted one appends after those it has
            known = 0 if sightings == 1 else \
                self._write(self._stmts.identifier_count, {"offer_id": offer_id}).scalar_one()
            self._write(self._stmts.identifier, [{
                "offer_id": offer_id, "position": known + i, "type": kind_, "masked": mask(kind_, value),
                "hmac": identifier_hmac(kind_, value)} for i, (kind_, value) in enumerate(identifiers)])
        self._maybe_commit()
        return Upsert(offer_id, sightings == 1)


class _Statements:
    """The recorder's statements, built once per dialect (building them is costlier than running them)."""

    def __init__(self, db: Database):
        self.capture = insert(Capture).returning(Capture.id)
        self.artifact = insert(CaptureArtifact)
        self.record_id = select(Capture.warc_record_id).where(Capture.id == bindparam("id"))
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
