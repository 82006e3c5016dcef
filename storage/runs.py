"""Runs and the processes that run them: a run whose process is gone (SIGKILL, crash, power loss) is closed.

A process is known by its host, pid and process key (boot id and start time from /proc), so a pid reused
after the run's process died is not taken for it. Runs of another host, and runs recorded without a
process key (before revision 0004, or where /proc is missing), are never touched: their fate cannot be known.
"""
from __future__ import annotations

import os
import socket
from datetime import datetime
from pathlib import Path

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from nigran.storage.db import Database
from nigran.storage.models import Alert, Capture, Post, Run
from nigran.storage.utc import iso

PROC = Path("/proc")
TOTALS = ("pages", "captures", "posts", "offers_new", "offers_updated", "errors")
DIED = "process died (killed or crashed); counts are those of the captures it stored"


def process_key(pid: int) -> str | None:
    """'<boot id>:<start ticks>' of the live process `pid`, or None when it is gone (or a zombie) or /proc is
    missing."""
    try:
        boot = (PROC / "sys/kernel/random/boot_id").read_text().strip()
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state is field 3, starttime field 22
    return None if fields[0] in ("Z", "X") else f"{boot}:{fields[19]}"


def this_process() -> dict[str, str | int | None]:
    """The Run columns naming the current process."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "process_key": process_key(os.getpid())}


def close_dead_runs(session: Session) -> list[int]:
    """Mark `interrupted` every running run of this host whose process is gone, with per-source counts and
    an end time taken from the captures it stored; return their ids."""
    host = socket.gethostname()
    dead = [run for run in session.scalars(select(Run).where(Run.status == "running", Run.host == host,
                                                               Run.process_key.is_not(None)))
            if process_key(run.pid) != run.process_key]
    for run in dead:
        sources, last = stored_counts(session, run.id)
        run.status, run.ended_at = "interrupted", last or run.started_at
        run.stats = {**(run.stats or {}), "sources": {
            name: {"source": name, **counts, "offers_new": 0, "offers_updated": 0, "errors": 0,
                   "finish_reason": "process died", "failure": DIED} for name, counts in sources.items()}}
    session.flush()
    return [run.id for run in dead]


def stored_counts(session: Session, run_id: int) -> tuple[dict[str, dict[str, int]], datetime | None]:
    """Per source, the pages (HTTP 2xx), captures and posts run `run_id` stored; and its last capture's time."""
    ok_page = case((and_(Capture.kind == "http", Capture.status.between(200, 299)), 1), else_=0)
    rows = session.execute(select(Capture.source, func.sum(ok_page), func.count(), func.max(Capture.fetched_at))
                           .where(Capture.run_id == run_id).group_by(Capture.source)).all()
    in_run = select(Capture.id).where(Capture.run_id == run_id).scalar_subquery()
    posts = dict(session.execute(select(Post.source, func.count()).where(
        or_(Post.latest_capture_id.in_(in_run), Post.first_capture_id.in_(in_run))).group_by(Post.source)).all())
    sources = {name: {"pages": int(pages or 0), "captures": captures, "posts": posts.get(name, 0)}
               for name, pages, captures, _ in rows}
    return sources, max((last for *_, last in rows), default=None)


def run_history(db: Database, limit: int | None = None, trigger: str | None = None) -> list[dict]:
    """The newest `limit` runs (all when None or 0), optionally of one trigger, as `nigran runs --json` shows them:
    totals, per-source reports and alert counts. Dead runs of this host are closed first (`close_dead_runs`)."""
    with db.session() as session:
        close_dead_runs(session)
        stmt = select(Run).order_by(Run.id.desc())
        if trigger:
            stmt = stmt.where(Run.trigger == trigger)
        selected = list(session.scalars(stmt.limit(limit or None)))
        alerts = dict(session.execute(select(Alert.run_id, func.count())
                                      .where(Alert.run_id.in_([r.id for r in selected])).group_by(Alert.run_id)).all())
    rows = []
    for run in selected:
        sources = {name: {k: v for k, v in report.items() if k != "source"}
                   for name, report in (run.stats or {}).get("sources", {}).items()}
        rows.append({"id": run.id, "trigger": run.trigger, "started_at": iso(run.started_at),
                     "ended_at": iso(run.ended_at), "status": run.status, "exit_code": run.exit_code,
                     "host": run.host, "pid": run.pid,
                     **{k: sum(int(r.get(k) or 0) for r in sources.values()) for k in TOTALS},
                     "alerts": alerts.get(run.id, 0), "sources": sources, "log": (run.stats or {}).get("log")})
    return rows
