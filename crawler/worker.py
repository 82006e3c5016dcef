"""Distributed crawls: `nigran crawl --workers URL` coordinates a run, `nigran worker` processes crawl it.

The coordinator records the run, publishes it with its sources on the frontier (crawler/frontier.py),
waits until the workers have drained it (requeueing a dead worker's requests meanwhile), reads the
per-source stats they kept in Redis and closes the run. Workers need only the Redis URL: sources and the
database come with the run (a worker's --db overrides the latter).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from nigran.config.registry import env
from nigran.config.schema import Source
from nigran.crawler.crawl import CrawlResult, SourceReport, crawl_sources, finish, interrupted, open_log, open_run
from nigran.crawler.distributed import WORKER, Distributed
from nigran.crawler.frontier import Frontier, FrontierError, RunInfo, connect
from nigran.crawler.tor import TorConfig
from nigran.storage.db import Database
from nigran.storage.home import data_home
from nigran.storage.recorder import Recorder

log = logging.getLogger(__name__)


def worker_settings(redis_url: str, run: RunInfo) -> dict[str, Any]:
    """The settings that make a crawl a worker of `run`: the Distributed add-on and what it needs."""
    return {"ADDONS": {Distributed: 0}, "NIGRAN_FRONTIER": redis_url,
            "NIGRAN_RUN_SOURCES": [s.name for s in run.sources], "NIGRAN_LEASE_SECONDS": run.lease_seconds}


def coordinate(sources: list[Source], db_url: str, redis_url: str, *, trigger: str = "distributed",
               home: Path | None = None, verbose: bool = False, progress: bool = True, poll: float = 1.0,
               lease_seconds: float | None = None, sources_file: Path | None = None) -> CrawlResult:
    """Publish a run for the workers on `redis_url`, wait until they have drained it, report it.

    Leases last `lease_seconds` (default $NIGRAN_LEASE_SECONDS, else 30 s): how long a dead worker's
    requests wait before others take them."""
    home = home or data_home()
    client = connect(redis_url)
    recorder, run_id = open_run(db_url, home, trigger, sources_file)
    log_file = open_log(home, f"run-{run_id}.log", verbose)
    try:
        frontier = Frontier.publish(client, run_id, sources, db_url,
                                    lease_seconds or float(env("NIGRAN_LEASE_SECONDS") or 0) or None)
    except FrontierError:
        recorder.finish_run(run_id, "failed", 2, {"error": "frontier busy"})
        raise
    names = [s.name for s in sources]
    if db_url.startswith("sqlite"):
        log.warning("run %d: the database is SQLite, which only workers on this host can reach; "
                    "a team uses PostgreSQL", run_id)
    log.info("run %d: published %s on %s for the workers", run_id, ", ".join(names), redis_url)
    console = Console(stderr=True)
    status = "interrupted"
    try:
        with console.status("", spinner="dots") if progress and console.is_terminal else _Quiet() as shown:
            while not frontier.drained(names):
                frontier.beat()
                shown.update(f"run {run_id}: {len(frontier.workers())} workers · {frontier.queued(names)} queued · "
                             f"{frontier.leased()} in flight")
                if reaped := frontier.reap():
                    log.warning("run %d: %d requests of a stopped worker queued again", run_id, reaped)
                time.sleep(poll)
        status = "finished"
    finally:
        frontier.end_run()
        _wait_for_workers_to_leave(frontier, poll)
        reason = "finished" if status == "finished" else "shutdown"
        result = CrawlResult(run_id, [SourceReport.from_stats(name, {**frontier.stats(name), "finish_reason": reason})
                                      for name in names])
        frontier.close_run()
        finish(recorder, result, status, log_file)
    return result


def _wait_for_workers_to_leave(frontier: Frontier, poll: float) -> None:
    """Let the workers close their spiders (their last stats and commits) before the run is read and closed."""
    deadline = time.monotonic() + frontier.lease_seconds
    while frontier.workers() and time.monotonic() < deadline:
        time.sleep(poll / 4)


class _Quiet:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, text: str) -> None:
        pass


def wait_for_run(redis_url: str, timeout: float | None, poll: float = 1.0) -> RunInfo | None:
    """The frontier's open run, waiting up to `timeout` seconds (forever when None) for one."""
    client = connect(redis_url)
    deadline = None if timeout is None else time.monotonic() + timeout
    while (run := Frontier.current(client)) is None:
        if deadline is not None and time.monotonic() >= deadline:
            return None
        time.sleep(poll)
    return run


def run_worker(redis_url: str, run: RunInfo, *, db_url: str | None = None, home: Path | None = None,
               tor: TorConfig | None = None, verbose: bool = False) -> int:
    """Crawl one published run with the other workers until it is drained; 0 when every source ran here."""
    home = home or data_home()
    open_log(home, f"run-{run.run_id}-worker-{WORKER}.log", verbose)
    recorder = Recorder(Database(db_url or run.db_url), home / "bodies", writer=WORKER)
    log.info("worker %s: crawling run %d (%s) into %s", WORKER, run.run_id, ", ".join(s.name for s in run.sources),
             recorder.db.safe_url)
    try:
        crawlers = crawl_sources(run.sources, recorder, run.run_id, overrides=worker_settings(redis_url, run),
                                 tor=tor, progress=False)
        recorder.close()
    finally:
        Frontier(connect(redis_url), run.run_id).leave(WORKER)
    failed = [name for name, c in crawlers.items() if c.stats.get_value("finish_reason") != "finished"]
    if interrupted(crawlers):
        log.warning("worker %s: stopped; its unfinished requests went back to the frontier", WORKER)
        return 130
    log.info("worker %s: run %d drained", WORKER, run.run_id)
    return 1 if failed else 0
