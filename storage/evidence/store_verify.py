"""`nigran verify --db`: the local evidence store, re-checked end to end.

The custody chain and its signed checkpoints (against this installation's signing key), each
capture's WARC record and the digests of every WARC file they are in, and, unless quick, every
body file re-hashed against the SHA-256 its captures record.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from nigran.storage.bodies import BodyStore
from nigran.storage.db import Database
from nigran.storage.evidence import custody, keys
from nigran.storage.evidence.export import sha256_file
from nigran.storage.evidence.minisign import PublicKey, read_public_key
from nigran.storage.evidence.verdict import Report
from nigran.storage.evidence.warc import verify_warc
from nigran.storage.evidence.warcstore import pointer_problem, pointers
from nigran.storage.models import Capture


def _installation_key(home: Path) -> PublicKey | None:
    public_path = keys.key_paths(home)[1]
    return read_public_key(public_path) if public_path.exists() else None


def _warc_problems(session, warc_root: Path) -> tuple[list[str], int, int]:
    """(problems, captures checked, WARC files checked): each capture's record, then each file's digests."""
    problems, files, checked = [], set(), 0
    rows = session.execute(select(Capture.id, Capture.warc_file, Capture.warc_record_id, Capture.warc_offset,
                                  Capture.body_sha256).order_by(Capture.id)).yield_per(2000)
    for capture_id, pointer, sha in pointers(rows):
        checked += 1
        files.add(pointer.file)
        problem = pointer_problem(warc_root, pointer, sha)
        if problem:
            problems.append(f"capture {capture_id}: {problem}")
    for name in sorted(files):
        if (warc_root / name).is_file():
            problems += verify_warc(warc_root / name)
    return problems, checked, len(files)


def _body_problem(store: BodyStore, sha256: str, size: int) -> str | None:
    """Why the body file named `sha256` is not the body a capture recorded, or None."""
    path = store.path(sha256)
    rel = path.relative_to(store.root.parent).as_posix()
    if not path.is_file():
        return f"body file {rel} is missing"
    if path.stat().st_size != size:
        return f"body file {rel} has {path.stat().st_size} bytes, the capture recorded {size}"
    if sha256_file(path) != sha256:
        return f"body file {rel} changed: its SHA-256 no longer matches"
    return None


def _body_problems(session, store: BodyStore) -> tuple[list[str], int]:
    """(problems, body files checked): every body file a capture refers to, each hashed once."""
    problems, checked, last, problem = [], 0, None, None
    rows = session.execute(select(Capture.id, Capture.body_sha256, Capture.body_size)
                           .order_by(Capture.body_sha256, Capture.id)).yield_per(2000)
    for capture_id, sha, size in rows:
        if sha != last:
            last, problem, checked = sha, _body_problem(store, sha, size), checked + 1
        if problem:
            problems.append((capture_id, f"capture {capture_id}: {problem}"))
    return [line for _, line in sorted(problems)], checked


def verify_store(db: Database, home: Path, *, quick: bool = False) -> Report:
    """Re-walk the custody log, the WARC records and (unless `quick`) the body files of the store."""
    report = Report(pinned=True)  # checked against this installation's own key
    with db.session() as session:
        chain = custody.verify_chain(session, _installation_key(home))
        warc_problems, captures, warc_files = _warc_problems(session, home / "warc")
        body_problems, bodies = ([], 0) if quick else _body_problems(session, BodyStore(home / "bodies"))
    report.problems += [f"custody log: {p}" for p in chain.problems] + warc_problems + body_problems
    if not chain.problems:
        report.ok.append(f"custody log: {chain.events} events chained, {chain.checkpoints} signed checkpoints hold")
    if not warc_problems:
        report.ok.append(f"WARC evidence: {captures} captures point at their records; "
                         f"{warc_files} files pass their SHA-256 digests")
    if quick:
        report.notes.append("--quick: body files were not re-hashed (body check skipped)")
    elif not body_problems:
        report.ok.append(f"bodies: {bodies} body files match the SHA-256 their captures record")
    report.facts = {"custody_events": chain.events, "checkpoints": chain.checkpoints,
                    "custody_problems": chain.problems, "captures_checked": captures, "warc_files": warc_files,
                    "warc_problems": warc_problems, "bodies_checked": None if quick else bodies,
                    "body_problems": None if quick else body_problems}
    return report
