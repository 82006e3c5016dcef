"""`nigran sweep`: every enabled source once, under the "sweep" lock (storage/locks.py), then alerts."""
from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from nigran.config.alerts import AlertsFile
from nigran.config.schema import Source
from nigran.crawler.alerts import AlertSummary, process
from nigran.storage.db import Database
from nigran.storage.locks import operation_lock
from nigran.storage.models import Run

if TYPE_CHECKING:
    from nigran.crawler.crawl import CrawlResult

INTERRUPTED = 130  # exit status of a sweep stopped by SIGTERM or SIGINT, as its run records


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
          progress: bool = True, redis_url: str | None = None, sources_file: Path | None = None) -> SweepResult:
    """Crawl the sources as one run with trigger `sweep`, queue and deliver alerts; raise LockHeld when another sweep runs.

    During the crawl Scrapy handles SIGTERM/SIGINT (the run ends `interrupted`); outside it a signal ends
    the sweep at once, between database transactions. An interrupted sweep queues its alerts but leaves
    delivery to the next run. With `redis_url`, workers on that frontier crawl it (crawler/worker.py).
    """
    from nigran.crawler.crawl import run_crawl  # Scrapy: only when crawling
    from nigran.crawler.worker import coordinate

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _interrupt)
    with operation_lock(db, "sweep"):
        if redis_url:
            crawl = coordinate(sources, db.url, redis_url, trigger="sweep", verbose=verbose, progress=progress,
                               sources_file=sources_file)
        else:
            crawl = run_crawl(sources, db.url, trigger="sweep", verbose=verbose, progress=progress,
                              sources_file=sources_file)
        for signum in (signal.SIGTERM, signal.SIGINT):  # Scrapy's handlers are useless once its reactor stopped
            signal.signal(signum, _interrupt)
        with db.session() as s:
            status = s.scalar(select(Run.status).where(Run.id == crawl.run_id))
        summary = process(db, alerts, send=status != "interrupted")
    return SweepResult(crawl, status, summary)
