"""What nigran's Scrapy components share, handed over through Scrapy's own seams.

The crawl runner puts one `Services` (recorder, run, Tor) into the `NIGRAN_SERVICES` setting; each
crawler's `Runtime` extension holds it with what is the crawler's own (the frontier of a distributed
run, the page budget, the browser its download handlers share). Components ask for it with
`Runtime.of(crawler)` in `from_crawler`; spiders see it only as a `spiders.state.SpiderState`, the store pipeline as a `pipelines.store.CrawlStore`.
A plain `scrapy crawl` has no Services: the Runtime then opens the store its settings name and records
the crawl as its own run, opened and closed as `nigran crawl` does (crawler/runs.py); its exit status goes
into the `nigran/exit_code` stat, for nigran's `scrapy crawl` command (crawler/commands/crawl.py).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scrapy import signals
from twisted.internet import task

from nigran.crawler.frontier import Frontier, connect
from nigran.crawler.mirrors import Mirrors
from nigran.crawler.runs import CrawlResult, SourceReport, finish, start_run
from nigran.crawler.tor import TorAccess
from nigran.pipelines.store import CrawlStore
from nigran.spiders.state import SpiderState
from nigran.storage.db import Database
from nigran.storage.home import data_home, default_db_url
from nigran.storage.queries import newest_message
from nigran.storage.recorder import Recorder

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Services:
    """What every crawler of one process shares: one recorder (one set of WARC files per run), the run
    it records into, and the crawl's Tor session (or why there is none)."""

    recorder: Recorder
    run_id: int | None = None
    tor: TorAccess = field(default_factory=lambda: TorAccess(None, "no Tor session was opened for this crawl"))

    def __deepcopy__(self, memo: dict) -> Services:
        return self  # Scrapy deep-copies the settings of each crawler; the services stay shared

    @classmethod
    def standalone(cls, settings) -> Services:
        """For `scrapy crawl`: the store named by NIGRAN_DB / NIGRAN_HOME (defaults: environment), no run yet."""
        home = Path(settings.get("NIGRAN_HOME") or data_home())
        return cls(Recorder(Database(settings.get("NIGRAN_DB") or default_db_url()), home / "bodies"))


class Runtime(SpiderState, CrawlStore):
    """Extension: one crawler's access to its Services, its frontier (distributed runs), its page budget,
    its mirrors and its browser; commits what is pending every second, even when the crawl goes quiet."""

    def __init__(self, crawler):
        self.crawler = crawler
        settings = crawler.settings
        given = settings.get("NIGRAN_SERVICES")
        self.services: Services = given or Services.standalone(settings)
        self.own_run = given is None
        frontier = settings.get("NIGRAN_FRONTIER")
        self.frontier = Frontier(connect(frontier), self.services.run_id,
                                 settings.getfloat("NIGRAN_LEASE_SECONDS")) if frontier else None
        self.browser: Any = None  # the BrowserDownloadHandler serving both schemes, once made
        self.pages: set[str] = set()  # pages taken from the budget by this process
        source = getattr(crawler.spidercls, "source", None)
        self.mirrors = Mirrors(source) if source is not None and len(source.origins) > 1 else None
        self.flusher: task.LoopingCall | None = None  # made once the crawl starts: it needs the reactor
        crawler.signals.connect(self.spider_opened, signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    @property
    def recorder(self) -> Recorder:
        return self.services.recorder

    @property
    def tor(self) -> TorAccess:
        return self.services.tor

    @property
    def run_id(self) -> int | None:
        return self.services.run_id

    def take_page(self, url: str) -> bool:
        spider = self.crawler.spider
        if self.frontier is not None:  # a first filter: the page is taken for good when queued (FrontierScheduler)
            return self.frontier.may_take_page(spider.name, url, spider.source.max_pages)
        if url in self.pages or len(self.pages) >= spider.source.max_pages:
            return False
        self.pages.add(url)
        return True

    def newest_message(self, channel: str) -> int:
        with self.recorder.db.session() as session:
            return newest_message(session, self.crawler.spider.name, channel)

    def spider_opened(self, spider) -> None:
        if self.services.run_id is None:
            self.services.run_id = start_run(self.recorder, "scrapy", Path(self.crawler.settings["NIGRAN_SOURCES"]))
        self.flusher = task.LoopingCall(self.recorder.flush)
        self.flusher.start(1.0, now=False)

    def spider_closed(self, spider, reason: str) -> None:
        if self.flusher is not None and self.flusher.running:
            self.flusher.stop()
        self.recorder.flush()
        if self.own_run:
            stats = self.crawler.stats
            report = SourceReport.from_stats(spider.name, {**stats.get_stats(), "finish_reason": reason})
            code = finish(self.recorder, CrawlResult(self.run_id, [report]),
                          "interrupted" if reason == "shutdown" else "finished", self.crawler.settings.get("LOG_FILE"))
            self.recorder.close()
            stats.set_value("nigran/exit_code", code)
