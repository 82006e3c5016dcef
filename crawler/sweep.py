"""`nigran sweep`: every enabled source once, under a lock, then alerts; and the lock itself.

The lock is a PostgreSQL session advisory lock on a dedicated connection (so it holds across hosts
sharing the database, and dies with the process), or on SQLite an exclusive `flock` on a file next to
the database (SQLite databases are not shared between hosts). `operation_locks` only records who
holds a lock and since when, for the message the loser prints.
"""
from __future__ import annotations

import fcntl
import os
import signal
import socket
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from sqlalchemy import delete, select, text

from config.alerts import AlertsFile
from config.schema import Source
from crawler.alerts import AlertSummary, process
from storage.db import Database
from storage.models import OperationLock, Run, utcnow

if TYPE_CHECKING:
    from crawler.crawl import CrawlResult

LOCK_CLASS = 7242019  # PostgreSQL advisory lock key space of nigran (first key); the second names the lock
INTERRUPTED = 130  # exit status of a sweep stopped by SIGTERM or SIGINT, as its run records


class LockHeld(Exception):
    """Another process holds the lock; the message says who and since when, when known."""


def _holder() -> str:
    return f"{socket.gethostname()} pid {os.getpid()}"


def _describe(db: Database, name: str) -> str:
    with db.session() as s:
        row = s.get(OperationLock, name)
    if row is None:
        return f"another {name} holds the lock"
    return f"another {name} holds the lock ({row.holder}, since {row.acquired_at:%Y-%m-%dT%H:%M:%SZ})"


@contextmanager
def _pg_lock(db: Database, name: str) -> Iterator[None]:
    keys = {"a": LOCK_CLASS, "b": zlib.crc32(name.encode()) & 0x7FFFFFFF}
    conn = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        if not conn.execute(text("SELECT pg_try_advisory_lock(:a, :b)"), keys).scalar_one():
            raise LockHeld(_describe(db, name))
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"), keys)
    finally:
        conn.close()


@contextmanager
def _file_lock(db: Database, name: str) -> Iterator[None]:
    database = db.engine.url.database
    if not database or database == ":memory:":
        raise LockHeld(f"a {name} needs a database file to lock, not {db.safe_url}")
    fd = os.open(Path(f"{database}.{name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld(_describe(db, name)) from None
        yield
    finally:
        os.close(fd)  # releases the flock


@contextmanager
def operation_lock(db: Database, name: str) -> Iterator[None]:
    """Hold the lock `name` ("sweep", "scheduler") for the block, or raise LockHeld at once."""
    held = _pg_lock(db, name) if db.engine.dialect.name == "postgresql" else _file_lock(db, name)
    with held:
        me = _holder()
        with db.session() as s:
            s.merge(OperationLock(name=name, holder=me, acquired_at=utcnow()))
        try:
            yield
        finally:
            with db.session() as s:
                s.execute(delete(OperationLock).where(OperationLock.name == name, OperationLock.holder == me))


# --- the sweep ------------------------------------------------------------------------------------

@dataclass
class SweepResult:
    crawl: CrawlResult
    status: str
    alerts: AlertSummary

    @property
    def exit_code(self) -> int:
        return INTERRUPTED if self.status == "interrupted" else self.crawl.exit_code

    def as_dict(self) -> dict[str, Any]:
        return {**self.crawl.as_dict(), "status": self.status, "exit_code": self.exit_code,
                "alerts": self.alerts.as_dict()}


def _interrupt(signum, _frame):
    raise SystemExit(INTERRUPTED)


def sweep(sources: list[Source], db: Database, alerts: AlertsFile, *, verbose: bool = False,
          progress: bool = True, redis_url: str | None = None) -> SweepResult:
    """Crawl the sources as one run with trigger `sweep`, queue and deliver alerts; raise LockHeld when another sweep runs.

    During the crawl Scrapy handles SIGTERM/SIGINT (the run ends `interrupted`); outside it a signal ends
    the sweep at once, between database transactions. An interrupted sweep queues its alerts but leaves
    delivery to the next run. With `redis_url`, workers on that frontier crawl it (crawler/worker.py).
    """
    from crawler.crawl import run_crawl  # Scrapy: only when crawling
    from crawler.worker import coordinate

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _interrupt)
    with operation_lock(db, "sweep"):
        if redis_url:
            crawl = coordinate(sources, db.url, redis_url, trigger="sweep", verbose=verbose, progress=progress)
        else:
            crawl = run_crawl(sources, db.url, trigger="sweep", verbose=verbose, progress=progress)
        for signum in (signal.SIGTERM, signal.SIGINT):  # Scrapy's handlers are useless once its reactor stopped
            signal.signal(signum, _interrupt)
        with db.session() as s:
            status = s.scalar(select(Run.status).where(Run.id == crawl.run_id))
        summary = process(db, alerts, send=status != "interrupted")
    return SweepResult(crawl, status, summary)
