"""The tests' own databases: a Redis database (NIGRAN_TEST_REDIS) and scratch PostgreSQL databases."""
from __future__ import annotations

import itertools
import os

REDIS_URL = os.environ.get("NIGRAN_TEST_REDIS", "redis://127.0.0.1:6379/9")
PG_ADMIN_URL = os.environ.get("NIGRAN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
_pg_names = itertools.count()
_pg_created: list[str] = []


def _pg_admin():
    import psycopg

    url = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    return psycopg.connect(url, autocommit=True)


def scratch_pg_url() -> str:
    """A new, empty PostgreSQL database for one test; dropped when the session ends."""
    name = f"nigran_test_{os.getpid()}_{next(_pg_names)}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    _pg_created.append(name)
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_scratch_databases() -> None:
    """Drop every database `scratch_pg_url` made in this process."""
    if not _pg_created:
        return
    with _pg_admin() as conn:
        for name in _pg_created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
