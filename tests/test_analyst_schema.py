"""The database as an analyst opens it: stock alembic, the two views, UTC-marked times, comments and jsonb."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from nigran.pipelines.redact import redact
from tests.support.stores import make_store

REPO = Path(__file__).resolve().parent.parent
ALEMBIC = Path(sys.executable).with_name("alembic")
RAW = ("35202-1234567-1", "3520212345671")
# Post text as the pipeline stores it (pipelines/redact.py masks it before the recorder sees it).
POSTS = [{"url": "http://market-x.onion/t/1", "title": "CNIC lot", "text": redact("CNIC 35202-1234567-1 Rs 500"),
          "identifiers": [("cnic", "35202-1234567-1")]},
         {"url": "http://market-x.onion/t/2", "title": "SIM data", "text": "SIM owner lookups, Rs 300",
          "categories": ["sim"]}]


def test_offer_overview_and_source_activity_answer_without_a_raw_identifier(tmp_path, home, db_url):
    db = make_store(home, db_url, POSTS)
    with db.engine.connect() as conn:
        offers = conn.execute(text("SELECT * FROM offer_overview ORDER BY offer_id")).mappings().all()
        activity = conn.execute(text("SELECT * FROM source_activity")).mappings().all()
    assert [o["url"] for o in offers] == [p["url"] for p in POSTS]
    assert offers[0]["categories"] == "cnic" and offers[1]["categories"] == "sim"
    assert offers[0]["identifiers_masked"] and offers[0]["first_seen"] is not None
    assert offers[0]["identifiers_masked"] == "35202-*******-*"
    assert not any(raw in str(dict(o)) for o in offers for raw in RAW)
    assert [(a["source"], a["posts"], a["offers"], a["captures"], a["last_run_status"]) for a in activity] == [
        ("market-x", 2, 2, 2, "finished")]


def test_sqlite_times_are_iso_8601_marked_utc(tmp_path, home):
    make_store(home, f"sqlite:///{home / 'nigran.db'}", POSTS)
    stored = sqlite3.connect(home / "nigran.db").execute("SELECT fetched_at FROM captures").fetchall()
    assert stored and all(value.endswith("+00:00") and "T" in value for (value,) in stored)


def test_postgresql_columns_have_comments_and_json_is_jsonb(tmp_path, home):
    from tests.support.databases import scratch_pg_url

    db = make_store(home, scratch_pg_url(), POSTS[:1])
    with db.engine.connect() as conn:
        comment = conn.execute(text("SELECT col_description('posts'::regclass, attnum) FROM pg_attribute "
                                    "WHERE attrelid = 'posts'::regclass AND attname = 'latest_capture_id'")).scalar()
        table = conn.execute(text("SELECT obj_description('offers'::regclass, 'pg_class')")).scalar()
        kinds = set(conn.execute(text("SELECT data_type FROM information_schema.columns "
                                      "WHERE table_name = 'offers' AND column_name = 'categories'")).scalars())
    assert comment and table and kinds == {"jsonb"}


def test_stock_alembic_upgrades_and_finds_no_drift(tmp_path, db_url):
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    for command in (["upgrade", "head"], ["check"]):
        done = subprocess.run([str(ALEMBIC), "-x", f"db={db_url}", *command], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    assert "No new upgrade operations detected" in done.stdout + done.stderr
