"""The Scrapy side of a distributed crawl: scrapy-redis scheduler and stats on the shared frontier, plus
the parts that make a worker's death harmless and politeness hold across workers (crawler/frontier.py).

The `Distributed` add-on switches a crawl to them; a `nigran worker` process runs one crawler per source.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass
from typing import Any

from scrapy import Request, signals
from scrapy.exceptions import DontCloseSpider
from scrapy.statscollectors import MemoryStatsCollector
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

from nigran.crawler.failures import tor_refused
from nigran.crawler.frontier import Frontier
from nigran.crawler.runtime import Runtime
from nigran.spiders.state import request_failed

log = logging.getLogger(__name__)
WORKER = f"{socket.gethostname()}-{os.getpid()}"
POLL_SECONDS = 1.0  # how often an idle worker asks the frontier for work


class Distributed:
    """Add-on (ADDONS) that turns a crawl into a worker of a distributed run: the scrapy-redis scheduler on a
    LeasedQueue, stats summed in Redis, leases, shared politeness. Needs NIGRAN_FRONTIER (the Redis URL) and
    the run in NIGRAN_SERVICES."""

    def update_settings(self, settings) -> None:
        base = f"nigran:{settings['NIGRAN_SERVICES'].run_id}:%(spider)s:"
        settings.update({
            "REDIS_URL": settings["NIGRAN_FRONTIER"],
            "SCHEDULER": FrontierScheduler,
            "SCHEDULER_QUEUE_CLASS": "nigran.crawler.frontier.LeasedQueue",
            "SCHEDULER_QUEUE_KEY": base + "requests",
            "SCHEDULER_DUPEFILTER_KEY": base + "dupefilter",
            "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
            "SCHEDULER_PERSIST": True,  # a worker leaving must not clear what the others still crawl
            "STATS_CLASS": FrontierStats,
        }, priority="addon")
        settings.set_in_component_priority_dict("SPIDER_MIDDLEWARES", LeaseMiddleware, 1)
        settings.set_in_component_priority_dict("DOWNLOADER_MIDDLEWARES", SharedSlotMiddleware, 960)
        settings.set_in_component_priority_dict("EXTENSIONS", WorkerExtension, 5)


def frontier_of(crawler) -> Frontier:
    """The frontier of the crawler's run (its Runtime's)."""
    return Runtime.of(crawler).frontier


def worker_of(crawler) -> WorkerExtension:
    return crawler.get_extension(WorkerExtension)


class FrontierStats(MemoryStatsCollector):
    """Stats kept in memory, as Scrapy's, and added into the source's shared stats in Redis every few
    seconds and at close (scrapy-redis's RedisStatsCollector makes a round trip per increment, which
    cost a worker a third of its CPU). Counters are summed across workers; `nigran/failure` is copied."""

    def __init__(self, crawler):
        super().__init__(crawler)
        self.crawler = crawler
        self.published: dict[str, int] = {}

    def publish(self) -> None:
        """Add what the counters gained since the last call to the shared stats."""
        counters = {k: v for k, v in self._stats.items() if isinstance(v, int) and not isinstance(v, bool)}
        gained = {k: v - self.published.get(k, 0) for k, v in counters.items() if v != self.published.get(k, 0)}
        failure = self._stats.get("nigran/failure")
        frontier = frontier_of(self.crawler)
        frontier.add_stats(self.crawler.spider.name, gained, {"nigran/failure": failure} if failure else {})
        self.published = counters

    def close_spider(self, spider=None, reason=None):
        super().close_spider(spider, reason)
        self.publish()


class FrontierScheduler(Scheduler):
    """scrapy-redis's scheduler on a LeasedQueue; tracks this worker's leases."""

    def open(self, spider):
        super().open(spider)
        self.queue.frontier, self.queue.worker = frontier_of(spider.crawler), WORKER
        self.leases = worker_of(spider.crawler).leases

    def enqueue_request(self, request: Request) -> bool:
        """Queue unless seen or over the page budget. A request carrying a lease is a retry or redirect
        of that leased request and ends the lease; one carrying its parent's output tells it it is queued."""
        parent, token = request.meta.pop("nigran_parent", None), request.meta.pop("nigran_lease", "")
        spider = self.spider
        budgeted = not token
        queued = self.queue.push(request, fingerprint="" if request.dont_filter else self.df.request_fingerprint(request),
                                 page=request.url.split("#")[0] if budgeted else "",
                                 max_pages=spider.source.max_pages if budgeted else 0, lease=token)
        self.leases.discard(token)
        if queued and self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        if parent is not None:
            parent.done()
        return queued

    def next_request(self):
        request = super().next_request()
        if request is not None:
            self.leases.add(request.meta["nigran_lease"])
        return request


def settle(crawler, request: Request) -> None:
    """The request is done here (parsed, or failed for good): end its lease once the database has what
    came of it. No-op outside a distributed crawl."""
    token = request.meta.get("nigran_lease")
    leases = worker_of(crawler).leases
    if not token or token not in leases:
        return
    frontier = frontier_of(crawler)

    def ack() -> None:
        frontier.ack(token)
        leases.discard(token)

    Runtime.of(crawler).recorder.when_committed(ack)


@dataclass
class _Output:
    """What came of a leased response and is not yet stored or queued; at none left once the callback
    has ended, the lease may end (settle)."""

    crawler: Any
    request: Request
    pending: int = 0
    complete: bool = False

    def add(self) -> None:
        self.pending += 1

    def done(self) -> None:
        self.pending -= 1
        self._settle()

    def end(self) -> None:
        self.complete = True
        self._settle()

    def _settle(self) -> None:
        if self.complete and self.pending == 0:
            settle(self.crawler, self.request)


class LeaseMiddleware:
    """Outermost spider middleware: ends a response's lease once the callback has ended and each thing it
    produced is stored (items: item_scraped / item_dropped / item_error) or queued (requests: the
    scheduler); lets only one worker queue a source's start requests."""

    def __init__(self, crawler):
        self.crawler = crawler
        for signal in (signals.item_scraped, signals.item_dropped, signals.item_error):
            crawler.signals.connect(self.item_done, signal)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_start(self, start):
        frontier, name = frontier_of(self.crawler), self.crawler.spider.name
        while not frontier.claim_seeding(name, WORKER):
            if frontier.seeded(name):
                return
            await asyncio.sleep(1)  # another worker is seeding; its claim expires if it dies, then one of us seeds
        async for item_or_request in start:
            frontier.keep_seeding(name)
            yield item_or_request
        frontier.seeding_done(name)

    def _output(self, response) -> _Output:
        return response.meta.setdefault("nigran_output", _Output(self.crawler, response.request))

    def _track(self, output: _Output, item_or_request) -> None:
        output.add()
        if isinstance(item_or_request, Request):
            item_or_request.meta["nigran_parent"] = output

    async def process_spider_output_async(self, response, result):
        output = self._output(response)
        async for item_or_request in result:
            self._track(output, item_or_request)
            yield item_or_request
        output.end()

    def process_spider_output(self, response, result):
        output = self._output(response)
        for item_or_request in result:
            self._track(output, item_or_request)
            yield item_or_request
        output.end()

    def process_spider_exception(self, response, exception):
        self._output(response).end()

    def item_done(self, item, response, **kwargs):
        output = response.meta.get("nigran_output") if response is not None else None
        if output is not None:
            output.done()


class SharedSlotMiddleware:
    """A source's concurrency and download delay held across all workers (a slot in Redis). A place in the
    slot is held like a lease: renewed while the worker lives (WorkerExtension), lapsing if it dies."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.holders = worker_of(crawler).slot_holders

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_request(self, request):
        spider = self.crawler.spider
        frontier, holder = frontier_of(self.crawler), f"{WORKER}:{id(request)}"
        settings = self.crawler.settings
        concurrency = settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
        delay = settings.getfloat("DOWNLOAD_DELAY")
        while wait := frontier.enter_slot(spider.name, holder, concurrency, delay, frontier.lease_seconds):
            await asyncio.sleep(wait)
        request.meta["nigran_slot"] = holder
        self.holders.add(holder)
        return None

    def _leave(self, request) -> None:
        holder = request.meta.pop("nigran_slot", None)
        if holder:
            self.holders.discard(holder)
            frontier_of(self.crawler).leave_slot(self.crawler.spider.name, holder)

    def process_response(self, request, response):
        self._leave(request)
        return response

    def process_exception(self, request, exception):
        self._leave(request)


class WorkerExtension:
    """Holds a worker's leases and slot places and keeps them alive, requeues dead workers' requests, keeps
    the spider open until the run is drained, ends the lease of a request that failed for good, and gives
    back unfinished leases when the worker stops."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.leases: set[str] = set()  # tokens of the requests this worker holds
        self.slot_holders: set[str] = set()  # its places in the sources' shared slots
        self.loop = task.LoopingCall(self.tick)
        crawler.signals.connect(self.request_failed, request_failed)
        crawler.signals.connect(self.engine_started, signals.engine_started)
        crawler.signals.connect(self.spider_opened, signals.spider_opened)
        crawler.signals.connect(self.spider_idle, signals.spider_idle)
        crawler.signals.connect(self.spider_closed, signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def request_failed(self, failure, spider) -> None:
        """A request that failed here for good stays failed: its lease ends. One that tor refused may have
        failed because this process lost Tor: it is handed back when the spider closes."""
        if not tor_refused(failure):
            settle(self.crawler, failure.request)

    def engine_started(self) -> None:
        """An idle worker asks the frontier for work at each engine heartbeat, every 5 s in Scrapy, which has
        no setting for it: this worker's engine (no other) polls every second."""
        self.crawler.engine._SLOT_HEARTBEAT_INTERVAL = POLL_SECONDS

    def spider_opened(self, spider):
        self.loop.start(frontier_of(self.crawler).lease_seconds / 3, now=True)

    def tick(self) -> None:
        frontier = frontier_of(self.crawler)
        frontier.renew(list(self.leases))
        frontier.renew_slot(self.crawler.spider.name, list(self.slot_holders))
        frontier.heartbeat(WORKER)
        self.crawler.stats.publish()
        if reaped := frontier.reap():
            log.warning("frontier: %d requests of a stopped worker queued again", reaped)

    def spider_idle(self, spider):
        frontier = frontier_of(self.crawler)
        if frontier.is_open() and not frontier.drained(self.crawler.settings.getlist("NIGRAN_RUN_SOURCES")):
            raise DontCloseSpider

    def spider_closed(self, spider, reason):
        if self.loop.running:
            self.loop.stop()
        leases = self.leases
        if leases:
            Runtime.of(self.crawler).recorder.flush()
            frontier_of(self.crawler).release(sorted(leases))
            log.info("source %s: %d unfinished requests handed back to the frontier", spider.name, len(leases))
