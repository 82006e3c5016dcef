"""Run a crawl of several sources in this process and report what each one did."""
from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from twisted.internet import task

from nigran.config.registry import scrapy_overrides
from nigran.config.schema import Source
from nigran.crawler import settings as default_settings
from nigran.crawler.runs import CrawlResult, SourceReport, finish, open_run
from nigran.crawler.runtime import Services
from nigran.crawler.terminal import SafeLogFormatter
from nigran.crawler.tor import TorAccess, TorConfig, TorError, open_tor
from nigran.spiders.loader import spider_class
from nigran.storage.home import data_home, private_dir, private_file
from nigran.storage.recorder import Recorder
from nigran.storage.sessions import SessionError, SessionStore

log = logging.getLogger(__name__)


# Kept in the run's log file, not repeated on screen: a deliberate choice explained in the README's design
# notes, and Scrapy's retry messages, which nigran's own one-line "failed" message already summarises.
KNOWN_WARNING = "DownloadHandler is experimental"
QUIET_ON_SCREEN = ("scrapy.downloadermiddlewares.retry",)


def scrapy_settings(services: Services, overrides: dict[str, Any] | None = None) -> Settings:
    """nigran's settings for the crawlers of one process, which share `services`."""
    settings = Settings()
    settings.setmodule(default_settings, priority="project")
    settings.update(scrapy_overrides(), priority="project")  # e.g. NIGRAN_BROWSER_PAGES_PER_CONTEXT
    settings.update({"NIGRAN_SERVICES": services, "LOG_INSTALL_ROOT_HANDLER": False,
                     # spiders come from the sources given to run_crawl, not from the sources file
                     "SPIDER_LOADER_CLASS": "scrapy.spiderloader.DummySpiderLoader",
                     **(overrides or {})}, priority="cmdline")
    return settings


def _configure_logging(log_file: Path, verbose: bool) -> None:
    """INFO and above into the run's log file; warnings and errors (INFO with -v) on stderr. Never DEBUG:
    Scrapy keeps its own loggers at DEBUG, so each handler sets its level itself."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    fmt = SafeLogFormatter(default_settings.LOG_FORMAT, default_settings.LOG_DATEFORMAT)
    fmt.converter = time.gmtime
    file_handler = logging.FileHandler(log_file, encoding="utf-8")
    file_handler.setLevel(logging.INFO)
    file_handler.setFormatter(fmt)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    console.setFormatter(SafeLogFormatter("%(levelname)s %(message)s"))
    console.addFilter(lambda r: r.name not in QUIET_ON_SCREEN and KNOWN_WARNING not in r.getMessage())
    root.handlers[:] = [file_handler, console]
    logging.getLogger("stem").setLevel(logging.WARNING)  # stem narrates every control message at INFO/DEBUG


def open_tor_for(sources: list[Source], config: TorConfig | None, progress: bool) -> TorAccess:
    """A Tor session when any source needs one (with visible bootstrap progress), else none needed."""
    if not any(s.needs_tor for s in sources):
        return TorAccess(None, "no source of this crawl uses Tor")
    console = Console(stderr=True)
    shown = {"percent": -1}

    def on_progress(percent: int, summary: str) -> None:
        if percent != shown["percent"]:
            shown["percent"] = percent
            log.info("tor: bootstrapped %d%% (%s)", percent, summary)
            if progress and console.is_terminal:
                console.print(f"[dim]tor: bootstrapped {percent}% ({summary})[/]")

    try:
        session = open_tor(config or TorConfig.from_env(), on_progress)
    except TorError as exc:
        return TorAccess(None, str(exc))
    log.info("tor: ready, SOCKS %s:%d", *session.socks)
    return TorAccess(session)


def run_crawl(sources: list[Source], db_url: str, *, trigger: str = "manual", home: Path | None = None,
              overrides: dict[str, Any] | None = None, verbose: bool = False, progress: bool = True,
              tor: TorConfig | None = None, sources_file: Path | None = None) -> CrawlResult:
    """Crawl the sources together in one Scrapy process; record the run (and, in custody, the sources file they
    came from when it changed); return per-source reports."""
    home = home or data_home()
    recorder, run_id = open_run(db_url, home, trigger, sources_file)
    log_file = open_log(home, f"run-{run_id}.log", verbose)
    log.info("run %d: crawling %s into %s", run_id, ", ".join(s.name for s in sources), recorder.db.safe_url)
    crawlers: dict = {}
    status = "interrupted"
    try:
        crawlers = crawl_sources(sources, recorder, run_id, overrides=overrides, tor=tor, progress=progress)
        status = "interrupted" if interrupted(crawlers) else "finished"
    finally:
        result = CrawlResult(run_id, [SourceReport.from_stats(s.name, crawlers[s.name].stats.get_stats()
                                                              if s.name in crawlers else {}) for s in sources])
        finish(recorder, result, status, log_file)
    return result


def open_log(home: Path, name: str, verbose: bool) -> Path:
    """Log to `home`/logs/`name`, readable by the owner only (logs/ 0700, the file 0600): logs name sources,
    URLs and hosts of an investigation."""
    log_file = private_dir(home / "logs") / name
    os.close(private_file(log_file))
    _configure_logging(log_file, verbose)
    return log_file


def crawl_sources(sources: list[Source], recorder: Recorder, run_id: int, *, overrides: dict[str, Any] | None,
                  tor: TorConfig | None, progress: bool) -> dict:
    """One Scrapy process crawling `sources` into `recorder` for run `run_id`, with Tor when a source needs
    it; its crawlers by source name once it is done."""
    tor_access = open_tor_for(sources, tor, progress)
    if tor_access.session is not None:
        recorder.note_tor_socks(*tor_access.session.socks)
    process = CrawlerProcess(scrapy_settings(Services(recorder, run_id, tor_access), overrides))
    crawlers = {}
    for source in sources:
        crawler = process.create_crawler(spider_class(source))
        crawlers[source.name] = crawler
        process.crawl(crawler)
    try:
        with _progress(crawlers, enabled=progress):
            process.start()
    finally:
        if tor_access.session is not None:
            tor_access.session.close()
    return crawlers


def interrupted(crawlers: dict) -> bool:
    """Scrapy stops its crawlers with reason "shutdown" on SIGTERM/SIGINT."""
    return any(c.stats and c.stats.get_value("finish_reason") == "shutdown" for c in crawlers.values())


class _progress:
    """A live per-source progress display on a terminal, fed from each crawler's stats."""

    def __init__(self, crawlers: dict, enabled: bool):
        self.crawlers = crawlers
        self.console = Console(stderr=True)
        self.enabled = enabled and self.console.is_terminal
        self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn(
            "{task.completed} pages · {task.fields[posts]} posts · {task.fields[offers]} offers · "
            "{task.fields[errors]} errors"), TimeElapsedColumn(), console=self.console, transient=True)
        self.tasks = {}
        self.loop = task.LoopingCall(self.refresh)

    def refresh(self) -> None:
        for name, crawler in self.crawlers.items():
            stats = crawler.stats.get_stats() if crawler.stats else {}
            spider = getattr(crawler, "spider", None)
            total = spider.source.max_pages if spider is not None else None
            self.bar.update(self.tasks[name], completed=stats.get("nigran/captures", 0), total=total,
                            posts=stats.get("nigran/posts", 0), errors=stats.get("nigran/errors", 0),
                            offers=stats.get("nigran/offers_new", 0) + stats.get("nigran/offers_updated", 0))

    def __enter__(self):
        if self.enabled:
            for name in self.crawlers:
                self.tasks[name] = self.bar.add_task(name, total=None, posts=0, offers=0, errors=0)
            self.bar.start()
            self.loop.start(0.25)
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self.loop.stop()
            self.bar.stop()


def check_session(source: Source, db_url: str, *, tor: TorConfig | None = None) -> SourceReport:
    """Fetch the source's first start URL once with its session (stored, or from its form login), as a crawl
    of one page (kept as evidence like any other): the report says whether a wall or guard stopped it.
    SessionError when the source has neither, before anything is fetched."""
    if source.login is None and not SessionStore().exists(source.session_name):
        raise SessionError(f"source {source.name}: no session {source.session_name!r} is stored; "
                           f"next: nigran session login {source.name}")
    one_page = source.model_copy(update={"max_pages": 1, "max_depth": 0, "start_urls": source.start_urls[:1]})
    [report] = run_crawl([one_page], db_url, trigger="session-check", progress=False, tor=tor).reports
    return report
