"""The custody log: append-only, hash-chained events with signed RFC 6962 checkpoints.

Each event is the canonical JSON line of {seq, at, kind, operator, capture_id, details, prev_hash};
its hash is SHA-256 of that line and the next event's ``prev_hash``. Appenders lock the one-row
``custody_head`` first, so the chain stays linear across processes. The Merkle tree's leaf ``i``
is ``leaf_hash(bytes.fromhex(hash of event i+1))``, so a checkpoint (tree size, root, head hash)
proves with inclusion proofs that an event is in the log and, with consistency proofs, that a
later log extends an earlier one.
"""
from __future__ import annotations

import getpass
import hashlib
import json
import socket
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from nigran.storage.evidence import minisign
from nigran.storage.evidence.merkle import EMPTY_ROOT, MerkleTree, leaf_hash, node_hash
from nigran.storage.models import CustodyCheckpoint, CustodyEvent, CustodyHead, Reveal
from nigran.storage.utc import utc_text

GENESIS = "0" * 64
CAPTURE_STORED = "capture stored"
EXPORT_MADE = "export made"
IDENTIFIER_REVEALED = "identifier revealed"
SOURCE_CONFIG_CHANGED = "source config changed"
EVENT_INSERT = insert(CustodyEvent)


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the bytes that are hashed and signed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_record(seq: int, at: datetime | str, kind: str, operator: str, capture_id: int | None,
                 details: dict, prev_hash: str) -> dict[str, Any]:
    """The event as it is hashed (and as it appears in a bundle's custody file, plus its hash)."""
    return {"seq": seq, "at": at if isinstance(at, str) else utc_text(at), "kind": kind, "operator": operator,
            "capture_id": capture_id, "details": details, "prev_hash": prev_hash}


def event_hash(record: dict[str, Any]) -> str:
    fields = {k: record[k] for k in ("seq", "at", "kind", "operator", "capture_id", "details", "prev_hash")}
    return hashlib.sha256(canonical_json(fields)).hexdigest()


def event_leaf(hash_hex: str) -> bytes:
    return leaf_hash(bytes.fromhex(hash_hex))


def _record_of(row) -> dict[str, Any]:
    return event_record(row.seq, row.at, row.kind, row.operator, row.capture_id, row.details, row.prev_hash)


@dataclass
class Head:
    """The chain's newest event as this writer knows it; `next_event` advances it."""

    seq: int
    hash: str
    moved: bool = False

    def next_event(self, kind: str, operator: str, *, capture_id: int | None = None,
                   details: dict | None = None, at: datetime | None = None) -> dict[str, Any]:
        """The next event's row values (caller inserts them, then `save_head`)."""
        at = at or datetime.now(timezone.utc)
        record = event_record(self.seq + 1, at, kind, operator, capture_id, details or {}, self.hash)
        digest = event_hash(record)
        self.seq, self.hash, self.moved = self.seq + 1, digest, True
        return {**record, "at": at, "hash": digest}


def lock_head(conn) -> Head:
    """Lock the head row for this transaction (first, so appenders never deadlock) and read it."""
    seq, digest = conn.execute(update(CustodyHead).where(CustodyHead.id == 1).values(seq=CustodyHead.seq)
                               .returning(CustodyHead.seq, CustodyHead.hash)).one()
    return Head(seq, digest)


def save_head(conn, head: Head) -> None:
    if head.moved:
        conn.execute(update(CustodyHead).where(CustodyHead.id == 1).values(seq=head.seq, hash=head.hash))
        head.moved = False


def append(conn, kind: str, operator: str, *, capture_id: int | None = None,
           details: dict | None = None) -> dict[str, Any]:
    """Append one event in the caller's transaction (a Session or a Connection); return its row."""
    head = lock_head(conn)
    row = head.next_event(kind, operator, capture_id=capture_id, details=details)
    conn.execute(EVENT_INSERT, [row])
    save_head(conn, head)
    return row


def record_reveal(session, operator: str, offer_ids: list[int]) -> None:
    """Audit `nigran offers --reveal` (a `reveals` row and a custody event): who saw raw identifiers of which
    offers. `operator` is what they typed; the OS user and host are recorded beside it."""
    who = {"os_user": getpass.getuser(), "host": socket.gethostname()}
    session.add(Reveal(operator=operator, offer_ids=offer_ids, **who))
    append(session, IDENTIFIER_REVEALED, operator, details={"offer_ids": offer_ids, **who})


def record_config(session, operator: str, path: Path) -> bool:
    """Custody event when the sources file's content differs from the last one recorded for it."""
    name = str(Path(path).resolve())
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    last = session.scalars(select(CustodyEvent.details).where(CustodyEvent.kind == SOURCE_CONFIG_CHANGED)
                           .order_by(CustodyEvent.seq.desc())).all()
    if next((d.get("sha256") for d in last if d.get("file") == name), None) == digest:
        return False
    append(session, SOURCE_CONFIG_CHANGED, operator, details={"file": name, "sha256": digest})
    return True


# --- Merkle checkpoints ---------------------------------------------------------------------------

class RootAccumulator:
    """The RFC 6962 root of a growing list of leaves in O(log n) memory (perfect subtrees merged as they fill)."""

    def __init__(self, size: int = 0, peaks: list | None = None):
        self.size = size
        self._peaks: list[tuple[int, bytes]] = [(h, bytes.fromhex(x)) for h, x in peaks or []]

    def add(self, leaf: bytes) -> None:
        node, height = leaf, 0
        while self._peaks and self._peaks[-1][0] == height:
            node = node_hash(self._peaks.pop()[1], node)
            height += 1
        self._peaks.append((height, node))
        self.size += 1

    @property
    def peaks(self) -> list[list]:
        """The state to resume from: [[height, hex hash], ...]."""
        return [[h, x.hex()] for h, x in self._peaks]

    def root(self) -> bytes:
        if not self._peaks:
            return EMPTY_ROOT
        root = self._peaks[-1][1]
        for _, peak in reversed(self._peaks[:-1]):
            root = node_hash(peak, root)
        return root


def checkpoint_bytes(tree_size: int, root: str, head_hash: str, at: str) -> bytes:
    return canonical_json({"tree_size": tree_size, "root": root, "head_hash": head_hash, "at": at})


def _hashes(session, size: int, after: int = 0):
    return session.execute(select(CustodyEvent.hash).where(CustodyEvent.seq > after, CustodyEvent.seq <= size)
                           .order_by(CustodyEvent.seq)).scalars().yield_per(5000)


def committed_head(session) -> Head:
    seq, digest = session.execute(select(CustodyHead.seq, CustodyHead.hash).where(CustodyHead.id == 1)).one()
    return Head(seq, digest)


def make_checkpoint(session, secret: minisign.SecretKey) -> CustodyCheckpoint:
    """Sign the tree head over every committed event and store it (resuming from the last checkpoint)."""
    head = committed_head(session)
    last = session.scalars(select(CustodyCheckpoint).where(CustodyCheckpoint.tree_size <= head.seq)
                           .order_by(CustodyCheckpoint.tree_size.desc()).limit(1)).first()
    acc = RootAccumulator(last.tree_size, last.peaks) if last is not None else RootAccumulator()
    for digest in _hashes(session, head.seq, after=acc.size):
        acc.add(event_leaf(digest))
    at = datetime.now(timezone.utc)
    root = acc.root().hex()
    signature = minisign.sign(checkpoint_bytes(head.seq, root, head.hash, utc_text(at)), secret,
                              f"nigran custody checkpoint size={head.seq} root={root}")
    row = CustodyCheckpoint(at=at, tree_size=head.seq, root=root, head_hash=head.hash, peaks=acc.peaks,
                            public_key=secret.public_key.base64, signature=signature)
    session.add(row)
    session.flush()
    return row


def tree(session, size: int) -> MerkleTree:
    """The Merkle tree over the first `size` events (for inclusion proofs)."""
    return MerkleTree([event_leaf(h) for h in _hashes(session, size)])


def events_of_captures(session, capture_ids: list[int]) -> list[dict[str, Any]]:
    """The 'capture stored' events of these captures, as hashed records plus their hash."""
    out = []
    for i in range(0, len(capture_ids), 500):
        rows = session.execute(select(CustodyEvent).where(CustodyEvent.kind == CAPTURE_STORED,
                                                          CustodyEvent.capture_id.in_(capture_ids[i:i + 500])))
        out += [{**_record_of(e), "hash": e.hash} for e in rows.scalars()]
    return sorted(out, key=lambda r: r["seq"])


# --- verification ---------------------------------------------------------------------------------

@dataclass
class ChainReport:
    events: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)


def _checkpoint_problem(cp: CustodyCheckpoint, root: bytes, head_hash: str,
                        trusted: minisign.PublicKey | None) -> str | None:
    where = f"checkpoint {cp.id} (size {cp.tree_size})"
    if cp.root != root.hex():
        return f"{where}: Merkle root {cp.root[:16]}… but the log gives {root.hex()[:16]}… (events changed)"
    if cp.head_hash != head_hash:
        return f"{where}: head hash does not match event {cp.tree_size}"
    if trusted is None:
        return f"{where}: this installation has no signing key to check its signature against"
    try:
        minisign.verify(checkpoint_bytes(cp.tree_size, cp.root, cp.head_hash, utc_text(cp.at)), cp.signature,
                        trusted)
    except minisign.SignatureError as exc:
        return f"{where}: signature invalid: {exc}"
    if cp.public_key != trusted.base64:
        return f"{where}: records a public key other than this installation's"
    return None


def verify_chain(session, trusted: minisign.PublicKey | None) -> ChainReport:
    """Re-walk the log: sequence, hashes, links, head row and checkpoints (signed by `trusted`, the
    installation's key, never by whatever key a checkpoint names); stop at the first break."""
    report = ChainReport()
    pending = iter(session.scalars(select(CustodyCheckpoint).order_by(CustodyCheckpoint.tree_size,
                                                                      CustodyCheckpoint.id)).all())
    cp = next(pending, None)
    acc, prev = RootAccumulator(), GENESIS

    def checkpoints_at(size: int) -> bool:
        nonlocal cp
        while cp is not None and cp.tree_size == size:
            problem = _checkpoint_problem(cp, acc.root(), prev, trusted)
            if problem:
                report.problems.append(problem)
                return False
            report.checkpoints += 1
            cp = next(pending, None)
        return True

    if not checkpoints_at(0):
        return report
    for event in session.execute(select(CustodyEvent).order_by(CustodyEvent.seq)).scalars().yield_per(2000):
        expected = report.events + 1
        if event.seq != expected:
            report.problems.append(f"custody event {expected} is missing (the log jumps to {event.seq})")
            return report
        if event_hash(_record_of(event)) != event.hash:
            report.problems.append(f"custody event {event.seq} ({event.kind}) was edited: "
                                   "its content no longer matches its hash")
            return report
        if event.prev_hash != prev:
            report.problems.append(f"custody event {event.seq} does not link to event {event.seq - 1} "
                                   "(an event before it was changed or removed)")
            return report
        acc.add(event_leaf(event.hash))
        prev, report.events = event.hash, event.seq
        if not checkpoints_at(event.seq):
            return report
    head = committed_head(session)
    if (head.seq, head.hash) != (report.events, prev):
        report.problems.append(f"custody log ends at event {report.events} but its head says {head.seq} "
                               "(events at the end were removed)")
    elif cp is not None:
        report.problems.append(f"checkpoint {cp.id} covers {cp.tree_size} events but the log has {report.events} "
                               "(events at the end were removed)")
    return report
