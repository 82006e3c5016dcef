"""The one writer of crawl results: captures, posts and offers, idempotent on re-sighting."""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from nigran.storage.bodies import BodyStore
from nigran.storage.db import Database
from nigran.storage.evidence import custody, keys
from nigran.storage.evidence.provenance import operator as default_operator
from nigran.storage.evidence.warcstore import Pointer, RunWarcs
from nigran.storage.installation import claim
from nigran.storage.models import Capture, CaptureArtifact, GuardStop, Offer, OfferIdentifier, Post, Run, utcnow
from nigran.storage.privacy import identifier_hmac, identifier_key, mask, without_secrets
from nigran.storage.runs import close_dead_runs, this_process
from nigran.storage.utc import json_safe, utc_text

MASKED_CONTACTS = {"whatsapp"}  # phone numbers are personal data even when they are the seller's


@dataclass(frozen=True)
class Upsert:
    id: int
    new: bool


@dataclass(frozen=True)
class OfferData:
    """An offer as the extraction engine found it in a post (raw identifiers: the recorder protects them)."""

    kind: str
    categories: list[str]
    prices: list[dict]
    contacts: list[dict]
    volume: int | None
    identifiers: list[tuple[str, str]]


@dataclass
class _Staged:
    """A post (and its offer) sighted in the current batch, possibly more than once: the newest values win,
    the first sighting's first_seen and capture stay, sightings add up."""

    post: dict[str, Any]
    sightings: int = 0
    offer: dict[str, Any] | None = None
    offer_sightings: int = 0
    identifiers: list[tuple[str, str]] = field(default_factory=list)
    post_result: Upsert | None = None
    offer_result: Upsert | None = None


class Sighting:
    """One sighting staged by `Recorder.post`; `post` and `offer` are known once the batch is committed
    (see `Recorder.when_committed`). Only a post's (or offer's) first sighting in a batch can be `new`."""

    __slots__ = ("_staged", "_first_post", "_first_offer")

    def __init__(self, staged: _Staged, first_post: bool, first_offer: bool | None):
        self._staged, self._first_post, self._first_offer = staged, first_post, first_offer

    @property
    def post(self) -> Upsert | None:
        done = self._staged.post_result
        return None if done is None else Upsert(done.id, done.new and self._first_post)

    @property
    def offer(self) -> Upsert | None:
        done = self._staged.offer_result
        if done is None or self._first_offer is None:
            return None
        return Upsert(done.id, done.new and self._first_offer)


def _insert(db: Database, model):
    """An INSERT that supports ON CONFLICT on this database's dialect."""
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"upserts need PostgreSQL or SQLite, not {dialect}")


def protect_contacts(contacts: list[dict[str, str]], key: bytes) -> list[dict[str, str]]:
    """Contacts as stored: phone-like ones masked and keyed-hashed under `key`."""
    out = []
    for c in contacts:
        if c["type"] in MASKED_CONTACTS:
            out.append({"type": c["type"], "value": mask(c["type"], c["value"]),
                        "hmac": identifier_hmac(c["type"], c["value"], key)})
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
    uncommitted batch, and the WARC records it referenced stay on disk. Captures are inserted at once
    (their ids name them in WARC metadata and posts); posts and offers are staged and upserted at
    commit, a few statements per batch rather than several per post. At commit a batch fsyncs the WARC
    files, syncs the bodies (one syncfs for all), locks the custody log's head and chains a "capture
    stored" event per capture: the head is held for milliseconds, so many workers can write to one
    database at once. Runs commit at once.
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
        self._key = identifier_key()
        self._conn = None
        self._tx = None
        self._pending = 0
        self._since = 0.0
        self._events: list[dict[str, Any]] = []  # custody events of the batch, chained at commit
        self._on_commit: list[Callable[[], None]] = []
        self._recent: OrderedDict[int, _Recent] = OrderedDict()
        self._post_keys: dict[int, list[str]] = {}
        self._staged: dict[tuple[str, str], _Staged] = {}

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
        """Write the batch's staged posts and their WARC metadata records, make the WARC files and the
        bodies durable, append its custody events, commit; then run what waited for this commit."""
        if self._tx is not None:
            self._write_staged()
            self._write_post_metadata()
            self.warcs.sync()
            self.bodies.sync()
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

    def record_config(self, path: Path) -> None:
        """A custody event when the sources file at `path` differs from the last one recorded for it."""
        with self.db.session() as s:
            custody.record_config(s, self.operator, path)

    def record_stop(self, **fields: Any) -> None:
        """A source stopped at a wall or guard (GuardStop columns), once the capture it names is committed."""
        self.flush()
        with self.db.session() as s:
            s.add(GuardStop(**fields))

    def note_tor_socks(self, host: str, port: int) -> None:
        """Name the Tor SOCKS address the crawl uses in the warcinfo of every WARC file opened from now on."""
        self.warcs.tor_socks = f"{host}:{port}"

    def start_run(self, trigger: str) -> int:
        """Record a new run of this process, first closing this host's runs whose process died; a database
        not yet claimed by a data home is claimed by this one (storage/installation.py)."""
        with self.db.session() as s:
            claim(s, self.home, keys.signing_key(self.home).public_key)
            close_dead_runs(s)
            run = Run(trigger=trigger, **this_process())
            s.add(run)
            s.flush()
            return run.id

    def finish_run(self, run_id: int, status: str, exit_code: int, stats: dict[str, Any]) -> None:
        """Record the run's end (datetimes in `stats` as ISO-8601 UTC text), close its WARC files and sign a
        custody checkpoint over the log."""
        self.flush()
        self.warcs.close(run_id)
        with self.db.session() as s:
            s.execute(update(Run).where(Run.id == run_id).values(
                status=status, exit_code=exit_code, stats=json_safe(stats), ended_at=utcnow()))
            custody.make_checkpoint(s, keys.signing_key(self.home))

    def capture(self, *, body: bytes, request_headers=(), started_at: datetime | None = None,
                **fields: Any) -> tuple[int, str]:
        """Store the body (atomically, by hash), its WARC response + request records, then its capture
        row and custody event; return (id, sha256).

        `fields` are Capture columns; `request_headers` ([name, value] pairs) go to the WARC request
        record and `started_at` (when the request was sent) to the response record and custody event.
        Cookies and credentials stay in the WARC records only: the capture row keeps them redacted.
        """
        digest = self.bodies.put(body)
        pointer = self.warcs.exchange(
            fields.get("run_id"), url=fields["url"], method=fields.get("method", "GET"),
            request_headers=request_headers, status=fields["status"], headers=fields.get("headers", []), body=body,
            fetched_at=fields["fetched_at"], extra={
                "WARC-Nigran-Source": fields["source"], "WARC-Nigran-Transport": fields.get("transport"),
                "WARC-Nigran-Circuit": fields.get("circuit_id"), "WARC-Nigran-Exit": fields.get("exit_fingerprint"),
                "WARC-Nigran-Started": started_at and utc_text(started_at)})
        fields["headers"] = without_secrets(fields.get("headers", []))
        return self._store(body, digest, pointer, fields, started_at), digest

    def capture_artifact(self, *, page_capture_id: int | None, role: str, data: bytes, content_type: str,
                         url: str, source: str, run_id: int | None, fetched_at: datetime, transport: str,
                         circuit_id: str | None = None, exit_fingerprint: str | None = None) -> tuple[int, str]:
        """Store a browser artefact — `role` "screenshot" (image/png) or "dom" (text/html) — of the page
        captured as `page_capture_id`, which came by `transport` (and circuit): a WARC resource record
        `urn:<role>:<url>` concurrent to the page's response (so replaying the URL shows the response), a
        capture row (kind = role) linked to the page, a custody event. Returns (capture id, sha256)."""
        digest = self.bodies.put(data)
        pointer = self.warcs.resource(run_id, url=f"urn:{role}:{url}", content_type=content_type, data=data,
                                      fetched_at=fetched_at, concurrent_to=self._record_id(page_capture_id))
        fields = {"run_id": run_id, "source": source, "kind": role, "url": url, "final_url": url, "status": 200,
                  "headers": [["Content-Type", content_type]], "fetched_at": fetched_at, "transport": transport,
                  "circuit_id": circuit_id, "exit_fingerprint": exit_fingerprint}
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
            "fetched_at": utc_text(fields["fetched_at"]),
            "started_at": started_at and utc_text(started_at), "transport": fields.get("transport"),
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

    def post(self, *, source: str, post_key: str, capture_id: int, seen_at: datetime, url: str, text: str,
             title: str | None = None, author: str | None = None, posted_at: datetime | None = None,
             extra: dict[str, Any] | None = None, offer: OfferData | None = None) -> Sighting:
        """Stage a sighting of a post and of its offer, if it holds one: a new post (offer) is inserted, a
        known one counts one more sighting and keeps the newest values. Written at the batch's commit;
        identifiers are stored keyed-hashed and masked only."""
        self._begin()
        staged = self._staged.get((source, post_key))
        newest = {"source": source, "post_key": post_key, "last_seen": seen_at, "latest_capture_id": capture_id,
                  "url": url, "text": text, "title": title, "author": author, "posted_at": posted_at, "extra": extra or {}}
        if staged is None:
            staged = self._staged[source, post_key] = _Staged({**newest, "first_seen": seen_at,
                                                               "first_capture_id": capture_id})
        else:
            staged.post.update(newest)
        staged.sightings += 1
        first_offer = None
        if offer is not None:
            staged.offer_sightings += 1
            first_offer = staged.offer_sightings == 1
            newest_offer = {"source": source, "kind": offer.kind, "categories": offer.categories,
                            "prices": offer.prices, "contacts": protect_contacts(offer.contacts, self._key),
                            "volume": offer.volume, "last_seen": seen_at}
            staged.offer = {**newest_offer, "first_seen": seen_at} if first_offer else {**staged.offer, **newest_offer}
            staged.identifiers += [i for i in dict.fromkeys(offer.identifiers) if i not in staged.identifiers]
        self._post_keys.setdefault(capture_id, []).append(post_key)
        self._pending += 1
        self._maybe_commit()
        return Sighting(staged, staged.sightings == 1, first_offer)

    def _write_staged(self) -> None:
        """Upsert the batch's posts, then their offers, then the offers' new identifiers: one statement each."""
        staged, self._staged = list(self._staged.values()), {}
        if not staged:
            return
        stored = {(row.source, row.post_key): (row.id, row.sightings) for row in self._conn.execute(
            self._stmts.post, [{**s.post, "sightings": s.sightings} for s in staged])}
        for s in staged:
            post_id, sightings = stored[s.post["source"], s.post["post_key"]]
            s.post_result = Upsert(post_id, sightings == s.sightings)
        offered = {s.post_result.id: s for s in staged if s.offer is not None}
        if not offered:
            return
        for row in self._conn.execute(self._stmts.offer, [
                {**s.offer, "post_id": post_id, "sightings": s.offer_sightings} for post_id, s in offered.items()]):
            s = offered[row.post_id]
            s.offer_result = Upsert(row.id, row.sightings == s.offer_sightings)
        self._write_identifiers([s for s in offered.values() if s.identifiers])

    def _write_identifiers(self, staged: list[_Staged]) -> None:
        """A new offer's identifiers take positions from 0; a re-sighted one's new identifiers follow those
        it holds."""
        held: dict[int, set[tuple[str, str]]] = {}
        resighted = [s.offer_result.id for s in staged if not s.offer_result.new]
        if resighted:
            for offer_id, kind, digest in self._conn.execute(self._stmts.identifiers_held, {"offer_ids": resighted}):
                held.setdefault(offer_id, set()).add((kind, digest))
        rows = []
        for s in staged:
            offer_id = s.offer_result.id
            known = held.get(offer_id, set())
            hashed = [(kind, value, identifier_hmac(kind, value, self._key)) for kind, value in s.identifiers]
            fresh = [(kind, value, digest) for kind, value, digest in hashed if (kind, digest) not in known]
            rows += [{"offer_id": offer_id, "position": len(known) + n, "type": kind, "masked": mask(kind, value),
                      "hmac": digest} for n, (kind, value, digest) in enumerate(fresh)]
        if rows:
            self._conn.execute(self._stmts.identifier, rows)


class _Statements:
    """The recorder's statements, built once per dialect (building them is costlier than running them)."""

    def __init__(self, db: Database):
        self.capture = insert(Capture).returning(Capture.id)
        self.artifact = insert(CaptureArtifact)
        self.record_id = select(Capture.warc_record_id).where(Capture.id == bindparam("id"))
        post = _insert(db, Post)
        self.post = post.on_conflict_do_update(
            index_elements=["source", "post_key"],
            set_={"last_seen": post.excluded.last_seen, "sightings": Post.sightings + post.excluded.sightings,
                  "latest_capture_id": post.excluded.latest_capture_id, "text": post.excluded.text,
                  "title": post.excluded.title, "author": post.excluded.author, "posted_at": post.excluded.posted_at,
                  "url": post.excluded.url, "extra": post.excluded.extra},
        ).returning(Post.source, Post.post_key, Post.id, Post.sightings)
        offer = _insert(db, Offer)
        self.offer = offer.on_conflict_do_update(
            index_elements=["post_id"],
            set_={"last_seen": offer.excluded.last_seen, "sightings": Offer.sightings + offer.excluded.sightings,
                  "kind": offer.excluded.kind,
                  "categories": offer.excluded.categories, "prices": offer.excluded.prices,
                  "contacts": offer.excluded.contacts, "volume": offer.excluded.volume},
        ).returning(Offer.post_id, Offer.id, Offer.sightings)
        self.identifiers_held = (select(OfferIdentifier.offer_id, OfferIdentifier.type, OfferIdentifier.hmac)
                                 .where(OfferIdentifier.offer_id.in_(bindparam("offer_ids", expanding=True))))
        self.identifier = _insert(db, OfferIdentifier).on_conflict_do_nothing()
