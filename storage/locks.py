"""Locks that let only one process run an operation ("sweep", "scheduler") against a database.

The lock is a PostgreSQL session advisory lock on a dedicated connection (so it holds across hosts
sharing the database, and dies with the process), or on SQLite an exclusive `flock` on a file next to
the database (SQLite databases are not shared between hosts). `operation_locks` only records who
holds a lock and since when, for the message the loser prints.
"""
from __future__ import annotations

import fcntl
import os
import socket
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import delete, text

from nigran.storage.db import Database
from nigran.storage.models import OperationLock, utcnow
from nigran.storage.utc import utc_text

LOCK_CLASS = 7242019  # PostgreSQL advisory lock key space of nigran (first key); the second names the lock


class LockHeld(Exception):
    """Another process holds the lock; the message says who and since when, when known."""


def _holder() -> str:
    return f"{socket.gethostname()} pid {os.getpid()}"


def _describe(db: Database, name: str) -> str:
    with db.session() as s:
        row = s.get(OperationLock, name)
    if row is None:
        return f"another {name} holds the lock"
    return f"another {name} holds the lock ({row.holder}, since {utc_text(row.acquired_at, fraction=False)})"


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
