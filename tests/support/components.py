"""nigran's Scrapy components built as a crawl builds them, for the component tests (tests/test_components_*.py).

`crawler_for` uses Scrapy's `get_crawler` on the settings `nigran crawl` gives its crawlers
(`crawler.crawl.scrapy_settings`): get_crawler already runs `Crawler._apply_settings()`, so add-ons (the
`Distributed` one), the stats collector and the extensions (the `Runtime`) exist, as at crawl start. The
engine is not built: it would also open the download handlers, item pipelines and scheduler of a whole
crawl, while a component test wants one component, made with its own `from_crawler` or taken from the
crawler (`get_extension`). `crawler.spider` is set as Scrapy sets it when the crawl starts.

Some components schedule timers on the Twisted reactor (the Runtime's flusher, the WorkerExtension's
heartbeat), so the reactor nigran crawls with (asyncio's) is installed once for the test process, rather
than letting the first `LoopingCall` install Twisted's default one; `run_loop` runs its event loop.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler
from scrapy.settings import SETTINGS_PRIORITIES
from scrapy.utils.reactor import install_reactor, is_asyncio_reactor_installed, is_reactor_installed
from scrapy.utils.test import get_crawler

from nigran.config.schema import parse_sources
from nigran.crawler import settings as nigran_settings
from nigran.crawler.crawl import scrapy_settings
from nigran.crawler.runtime import Services
from nigran.spiders.loader import spider_class
from nigran.storage.db import Database
from nigran.storage.recorder import Recorder


def asyncio_reactor() -> None:
    """Install nigran's TWISTED_REACTOR in this process unless a reactor is installed already."""
    if not is_reactor_installed():
        install_reactor(nigran_settings.TWISTED_REACTOR)
    assert is_asyncio_reactor_installed(), "another test installed a reactor that is not nigran's"


def run_loop(awaitable=None, seconds: float = 0.0) -> Any:
    """Run the reactor's event loop until `awaitable` is done, or for `seconds`; the awaitable's result."""
    from twisted.internet import reactor

    loop: asyncio.AbstractEventLoop = reactor._asyncioEventloop
    return loop.run_until_complete(awaitable if awaitable is not None else asyncio.sleep(seconds))


def recorder_in(home: Path) -> Recorder:
    """A recorder on a fresh SQLite store and body store under `home`."""
    return Recorder(Database(f"sqlite:///{home / 'nigran.db'}"), home / "bodies")


def crawler_for(source: dict, services: Services | None, **overrides: Any) -> Crawler:
    """A crawler of one source (a sources-file entry) with nigran's settings and `services` (None: the
    standalone `scrapy crawl` mode, which finds its store through NIGRAN_DB / NIGRAN_HOME)."""
    asyncio_reactor()
    [parsed] = parse_sources({"sources": [{"start_urls": ["http://shop.example/"], **source}]}, "test")
    settings = scrapy_settings(services, overrides)
    # Only what nigran sets: get_crawler gives every value project priority, and Scrapy's defaults there would
    # outrank what add-ons set (the Distributed add-on's SCHEDULER).
    ours = {k: settings[k] for k in settings if settings.getpriority(k) > SETTINGS_PRIORITIES["default"]}
    crawler = get_crawler(spider_class(parsed), ours)
    crawler.spider = crawler._create_spider()
    return crawler
