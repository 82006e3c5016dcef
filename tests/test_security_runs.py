"""Security: a crawl killed with SIGKILL does not stay `running` with no counts (issue #18, defect 16), and no
crawl listens on any port (Scrapy's RemoteControl and telnet consoles are off)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from nigran.storage.db import Database
from nigran.storage.models import Capture, Run
from nigran.storage.recorder import Recorder
from nigran.storage.runs import close_dead_runs, this_process
from tests.support.run import nigran, slow_crawl_with_posts


def listening_sockets(pid: int) -> list[str]:
    """The TCP sockets process `pid` listens on, as /proc/net/tcp* lines."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return [line for table in ("tcp", "tcp6") for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]
            if line.split()[3] == "0A" and line.split()[9] in inodes]


def test_security_sigkilled_run_is_closed_with_its_counts_and_crawls_listen_on_no_port(tmp_path, home, db_url,
                                                                                       demo_sites):
    proc, _, db = slow_crawl_with_posts(tmp_path, demo_sites, db_url)
    assert listening_sockets(proc.pid) == []  # the crawl is running: no console server beside it
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with db.session() as s:
        stored = dict(s.execute(select(Capture.source, func.count()).group_by(Capture.source)).all())
        assert s.scalars(select(Run.status)).all() == ["running"] and sum(stored.values()) >= 2

    result = nigran("runs", "--json", "--db", db_url)
    assert result.returncode == 0, result.stderr.decode()
    [run] = [json.loads(line) for line in result.stdout.splitlines()]
    assert run["status"] == "interrupted" and run["ended_at"] and run["pid"] == proc.pid
    assert run["host"] == socket.gethostname()
    assert {name: r["captures"] for name, r in run["sources"].items()} == stored
    assert run["captures"] == sum(stored.values()) and 0 < run["pages"] <= run["captures"] and run["posts"] >= 5
    assert {r["failure"] for r in run["sources"].values()} == {
        "process died (killed or crashed); counts are those of the captures it stored"}


def test_security_only_runs_of_dead_processes_of_this_host_are_closed(tmp_path, home):
    db = Database(f"sqlite:///{home / 'nigran.db'}")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    here = this_process()
    with db.session() as s:
        runs = {"alive": Run(trigger="manual", **here),
                "reused pid": Run(trigger="manual", **{**here, "process_key": here["process_key"] + "0"}),
                "gone": Run(trigger="manual", host=here["host"], pid=gone.pid, process_key="x:1"),
                "other host": Run(trigger="manual", host="elsewhere.invalid", pid=gone.pid, process_key="x:1"),
                "before 0004": Run(trigger="manual")}
        s.add_all(runs.values())
        s.flush()
        ids = {name: run.id for name, run in runs.items()}
    with db.session() as s:
        assert sorted(close_dead_runs(s)) == sorted([ids["reused pid"], ids["gone"]])
    with db.session() as s:
        status = {name: s.get(Run, ids[name]).status for name in ids}
        assert status == {"alive": "running", "reused pid": "interrupted", "gone": "interrupted",
                          "other host": "running", "before 0004": "running"}
        assert s.get(Run, ids["gone"]).stats == {"sources": {}}  # it stored nothing
    # Starting a run closes the dead ones too.
    with db.session() as s:
        s.add(Run(trigger="manual", host=here["host"], pid=gone.pid, process_key="x:2"))
    Recorder(db, home / "bodies").start_run("manual")
    with db.session() as s:
        assert s.scalars(select(Run.status).where(Run.process_key == "x:2")).one() == "interrupted"


def test_security_migration_0004_adds_run_process_and_leaves_older_runs_alone(db_url):
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import text

    from nigran.storage.db import alembic_config
    from nigran.storage.models import Base

    old = Database(db_url, upgrade=False)
    command.upgrade(alembic_config(db_url), "0003")
    with old.engine.begin() as conn:
        conn.execute(text("INSERT INTO runs (trigger, started_at, status, stats) "
                          "VALUES ('manual', CURRENT_TIMESTAMP, 'running', '{}')"))
    db = Database(db_url)
    assert db.current_revision() == db.head_revision()
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []  # models == migrations
    with db.session() as s:
        assert close_dead_runs(s) == []  # a run without its process recorded cannot be judged
        assert s.scalars(select(Run.status)).all() == ["running"]
    command.downgrade(alembic_config(db_url), "0003")
    command.upgrade(alembic_config(db_url), "head")
