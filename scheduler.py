"""Scheduled crawls: APScheduler jobs kept in nigran's own database, each crawl in a child process.

Jobs live in the `apscheduler_jobs` table (created by nigran's migrations), so every process using the
same database sees the same schedules. There is one job per source, named after it, made from the
sources file's `schedule:` (synced when `nigran scheduler` starts) or by `nigran schedule add`; a
command-line schedule wins over the file's. One `nigran scheduler` runs per database (a lock, like the
sweep's); it runs one crawl at a time, each as `nigran crawl --trigger scheduled` in its own process
(Scrapy's reactor cannot be restarted), with coalesced missed runs, a misfire grace time and a timeout.
"""
from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select, update

from nigran.config.alerts import AlertsFile
from nigran.config.schema import Source
from nigran.crawler.alerts import process
from nigran.storage.db import Database
from nigran.storage.locks import operation_lock
from nigran.storage.models import Run, utcnow
from nigran.storage.utc import iso

log = logging.getLogger("nigran.scheduler")
JOB_FUNC = "nigran.scheduler:run_scheduled_crawl"
FROM_FILE, FROM_CLI = "sources file", "command line"
CRON_FIELDS = ("minute", "hour", "day", "month", "day_of_week")
DURATION = re.compile(r"^([0-9]+)\s*([smhd]?)$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
DEFAULT_MISFIRE_GRACE = 3600


class ScheduleError(Exception):
    """A schedule that cannot be made: a bad cron expression or interval, or an end in the past."""


def make_trigger(cron: str | None = None, every: str | None = None,
                 until: datetime | None = None) -> tuple[CronTrigger | IntervalTrigger, str]:
    """The trigger for a cron expression (UTC) or an interval like 30s, 15m, 6h, 1d; and its description."""
    if (cron is None) == (every is None):
        raise ScheduleError("give a cron expression (--cron) or an interval (--every), one of them")
    if until is not None and until <= utcnow():
        raise ScheduleError(f"the end of the schedule is in the past: {iso(until)}")
    if cron is not None:
        values = cron.split()
        if len(values) != len(CRON_FIELDS):
            raise ScheduleError(f"not a cron expression (minute hour day month weekday): {cron!r}")
        try:
            trigger = CronTrigger(**dict(zip(CRON_FIELDS, values)), end_date=until, timezone=timezone.utc)
        except ValueError as exc:
            raise ScheduleError(f"not a cron expression ({exc}): {cron!r}") from None
        spec = f"cron {' '.join(values)}"
    else:
        match = DURATION.match(every.strip())
        if not match or int(match[1]) == 0:
            raise ScheduleError(f"not an interval (e.g. 30s, 15m, 6h, 1d): {every!r}")
        trigger = IntervalTrigger(seconds=int(match[1]) * UNITS[match[2]], end_date=until, timezone=timezone.utc)
        spec = f"every {match[1]}{match[2] or 's'}"
    return trigger, spec + (f" until {iso(until)}" if until else "")


def new_scheduler(db: Database) -> BackgroundScheduler:
    """A scheduler on the database's job store: one crawl at a time, missed runs coalesced."""
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=db.engine)},
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": DEFAULT_MISFIRE_GRACE},
        timezone=timezone.utc)


@contextmanager
def stored_jobs(db: Database) -> Iterator[BackgroundScheduler]:
    """A paused scheduler, for reading and editing the stored schedules from a command."""
    sched = new_scheduler(db)
    sched.start(paused=True)
    try:
        yield sched
    finally:
        sched.shutdown(wait=False)


def add_schedule(sched: BackgroundScheduler, source: str, sources_path: Path, trigger: CronTrigger | IntervalTrigger,
                 spec: str, *,
                 origin: str = FROM_CLI, misfire_grace: int | None = None) -> Job:
    """Schedule crawls of a source, replacing its previous schedule."""
    return sched.add_job(JOB_FUNC, trigger, id=source, name=f"crawl {source}", replace_existing=True,
                         misfire_grace_time=misfire_grace or DEFAULT_MISFIRE_GRACE,
                         kwargs={"source": source, "sources_path": str(Path(sources_path).resolve()),
                                 "spec": spec, "origin": origin})


def job_dict(job: Job) -> dict[str, Any]:
    """A stored schedule as `nigran schedule list --json` shows it."""
    return {"source": job.id, "schedule": job.kwargs["spec"], "origin": job.kwargs["origin"],
            "paused": job.next_run_time is None, "next_run": iso(job.next_run_time),
            "misfire_grace": job.misfire_grace_time, "sources_file": job.kwargs["sources_path"]}


def sync_sources(sched: BackgroundScheduler, sources: list[Source], sources_path: Path) -> None:
    """Make the stored jobs follow the sources file's `schedule:` entries (command-line ones are kept)."""
    wanted = {s.name: s.schedule for s in sources if s.enabled and s.schedule}
    for job in sched.get_jobs():
        if job.kwargs["origin"] == FROM_FILE and job.id not in wanted:
            sched.remove_job(job.id)
            log.info("schedule of %s removed: no longer in the sources file", job.id)
    for name, cron in wanted.items():
        trigger, spec = make_trigger(cron=cron)
        job = sched.get_job(name)
        if job is not None and (job.kwargs["origin"] == FROM_CLI or job.kwargs["spec"] == spec):
            continue
        add_schedule(sched, name, sources_path, trigger, spec, origin=FROM_FILE)
        log.info("schedule of %s from the sources file: %s", name, spec)


# --- running jobs ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Options:
    poll: float = 10.0  # seconds between looks at the job store for schedules changed elsewhere
    job_timeout: float = 6 * 3600.0  # a crawl still running after this is stopped
    stop_grace: float = 60.0  # a stopped crawl still running after this is killed


class CrawlRunner:
    """Runs each due crawl as a `nigran crawl` child process, then queues and delivers alerts."""

    def __init__(self, db: Database, alerts: AlertsFile, options: Options):
        self.db, self.alerts, self.options = db, alerts, options
        self.stopping = threading.Event()
        self._children: set[subprocess.Popen] = set()
        self._active = 0  # jobs inside crawl()
        self._lock = threading.Condition()

    def crawl(self, source: str, sources_path: str, why: str) -> None:
        with self._lock:
            if self.stopping.is_set():
                log.info("job %s: not started, the scheduler is stopping", source)
                return
            self._active += 1
        try:
            self._crawl(source, sources_path, why)
        finally:
            with self._lock:
                self._active -= 1
                self._lock.notify_all()

    def _crawl(self, source: str, sources_path: str, why: str) -> None:
        log.info("job %s (%s): crawling in a child process", source, why)
        started, clock = utcnow(), time.monotonic()
        command = [sys.executable, "-m", "nigran.crawler.cli", "crawl", "--trigger", "scheduled", "--json",
                   "--sources", sources_path, "--source", source]
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 start_new_session=True, env={**os.environ, "NIGRAN_DB": self.db.url})
        with self._lock:
            self._children.add(child)
            if self.stopping.is_set():  # stop() came while this child was starting
                child.send_signal(signal.SIGTERM)
        try:
            out, err = self._wait(child, source)
        finally:
            with self._lock:
                self._children.discard(child)
        for line in err.splitlines():
            if line.strip():
                log.warning("job %s: %s", source, line)
        self._report(source, child.returncode, out, started, time.monotonic() - clock)
        summary = process(self.db, self.alerts, send=not self.stopping.is_set())
        if summary.new or summary.delivered or summary.queued:
            log.info("alerts: %d new, %d delivered, %d queued", len(summary.new), summary.delivered, summary.queued)

    def _wait(self, child: subprocess.Popen, source: str) -> tuple[str, str]:
        try:
            return child.communicate(timeout=self.options.job_timeout)
        except subprocess.TimeoutExpired:
            log.error("job %s: still running after %gs (the job timeout); stopping it", source, self.options.job_timeout)
            child.send_signal(signal.SIGTERM)
        try:
            return child.communicate(timeout=self.options.stop_grace)
        except subprocess.TimeoutExpired:
            log.error("job %s: did not stop within %gs; killing it", source, self.options.stop_grace)
            child.kill()
            return child.communicate()

    def _report(self, source: str, returncode: int, out: str, started: datetime, seconds: float) -> None:
        try:
            result = json.loads(out.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            result = None
        if result is None:
            with self.db.session() as s:  # killed: its run cannot have recorded its own end
                s.execute(update(Run).where(Run.trigger == "scheduled", Run.status == "running", Run.started_at >= started)
                          .values(status="interrupted", exit_code=128 - returncode if returncode < 0 else returncode,
                                  ended_at=utcnow()))
            log.error("job %s: the crawl ended with status %d and no summary (%.1fs)", source, returncode, seconds)
            return
        with self.db.session() as s:
            status = s.scalar(select(Run.status).where(Run.id == result["run_id"]))
        totals = {k: sum(r[k] for r in result["sources"]) for k in ("pages", "offers_new", "offers_updated", "errors")}
        log.log(logging.INFO if status == "finished" else logging.ERROR,
                "job %s: run %d %s (exit %d) in %.1fs: %d pages, %d new / %d updated offers, %d errors",
                source, result["run_id"], status, returncode, seconds, totals["pages"], totals["offers_new"],
                totals["offers_updated"], totals["errors"])

    def stop(self) -> None:
        """Start no more crawls; ask running ones to stop (their runs end `interrupted`), kill them after the grace;
        return once every job has finished reporting."""
        with self._lock:
            self.stopping.set()
            children = list(self._children)
        for child in children:
            log.info("stopping the running crawl (pid %d); up to %gs", child.pid, self.options.stop_grace)
            child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.options.stop_grace
        while any(c.poll() is None for c in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        for child in children:
            if child.poll() is None:
                log.error("crawl pid %d did not stop within %gs; killing it", child.pid, self.options.stop_grace)
                child.kill()
        with self._lock:
            self._lock.wait_for(lambda: self._active == 0)


_runner: CrawlRunner | None = None  # set by serve(); stored jobs name their function, so they reach it from here


def run_scheduled_crawl(source: str, sources_path: str, spec: str, origin: str) -> None:
    """The function every stored job runs."""
    if _runner is None:
        raise RuntimeError("scheduled crawls run inside `nigran scheduler` only")
    _runner.crawl(source, sources_path, f"{spec}, from the {origin}")


def serve(db: Database, sources: list[Source], sources_path: Path, alerts: AlertsFile, options: Options) -> None:
    """Run the scheduler in the foreground until SIGTERM or SIGINT; raise LockHeld if another one runs."""
    global _runner
    stop = threading.Event()
    with operation_lock(db, "scheduler"):
        _runner = CrawlRunner(db, alerts, options)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        sched = new_scheduler(db)
        sched.start(paused=True)
        sync_sources(sched, sources, sources_path)
        jobs = sched.get_jobs()
        log.info("scheduler started on %s; schedules: %d; looking for changes every %gs", db.safe_url, len(jobs),
                 options.poll)
        for job in jobs:
            d = job_dict(job)
            log.info("  %s: %s (%s), next run %s", d["source"], d["schedule"], d["origin"], d["next_run"] or "paused")
        sched.resume()
        while not stop.wait(options.poll):
            sched.wakeup()  # schedules added, paused or removed by other processes
        log.info("scheduler: stop requested")
        sched.pause()
        _runner.stop()
        # No sched.shutdown(): APScheduler 3 would process due jobs once more against its stopped executor.
        # Paused, it starts nothing; its daemon thread ends with the process, and the job store is consistent.
        log.info("scheduler stopped")
