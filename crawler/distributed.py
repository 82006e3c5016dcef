"""The Scrapy side of a distributed crawl: scrapy-redis scheduler and stats on the shared frontier, plus
the parts that make a worker's death harmless and politeness hold across workers (crawler/frontier.py).

`distributed_settings()` switches a crawl to them; a `nigran worker` process runs one crawler per source.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Any

from scrapy import Request, signals
from scrapy.exceptions import DontCloseSpider
from scrapy_redis.scheduler import Scheduler
from scrapy_redis.stats import RedisStatsCollector
from twisted.internet import task

from crawler.frontier import Frontier, connect, number_or_text
from crawler.runtime import recorder_for

log = logging.getLogger(__name__)
WORKER = f"{socket.gethostname()}-{os.getpid()}"


def distributed_settings(redis_url: str, run_id: int) -> dict[str, Any]:
    """Scrapy settings for a worker of run `run_id` on the frontier at `redis_url`."""
    base = f"nigran:{run_id}:%(spider)s:"
    return {
        "REDIS_URL": redis_url,
        "NIGRAN_FRONTIER": redis_url,
        "SCHEDULER": "crawler.distributed.FrontierScheduler",
        "SCHEDULER_QUEUE_CLASS": "crawler.frontier.LeasedQueue",
        "SCHEDULER_QUEUE_KEY": base + "requests",
        "SCHEDULER_DUPEFILTER_KEY": base + "dupefilter",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_PERSIST": True,  # a worker leaving must not clear what the others still crawl
        "STATS_CLASS": "crawler.distributed.FrontierStats",
        "STATS_KEY": base + "stats",
        "SPIDER_MIDDLEWARES": {"crawler.distributed.LeaseMiddleware": 1},
        "DOWNLOADER_MIDDLEWARES": {"crawler.distributed.SharedSlotMiddleware": 960},
        "EXTENSIONS": {"crawler.distributed.WorkerExtension": 0},
    }


def frontier_of(crawler) -> Frontier:
    """The crawler's Frontier, made once per crawler."""
    if not hasattr(crawler, "nigran_frontier"):
        crawler.nigran_frontier = Frontier(connect(crawler.settings["NIGRAN_FRONTIER"]),
                                           crawler.settings.getint("NIGRAN_RUN_ID"),
                                           crawler.settings.getfloat("NIGRAN_LEASE_SECONDS"))
    return crawler.nigran_frontier


class FrontierStats(RedisStatsCollector):
    """scrapy-redis's stats in Redis, shared by every worker of a source; values read back as they were
    written (numbers as numbers, text such as finish_reason as text)."""

    def get_value(self, key, default=None, spider=None):
        value = self.server.hget(self._get_key(spider), key)
        return default if value is None else number_or_text(value.decode())

    def get_stats(self, spider=None):
        return {k: number_or_text(v) for k, v in super().get_stats(spider).items()}


class FrontierScheduler(Scheduler):
    """scrapy-redis's scheduler on a LeasedQueue; tracks this worker's leases."""

    def open(self, spider):
        super().open(spider)
        self.queue.frontier, self.queue.worker = frontier_of(spider.crawler), WORKER
        self.leases = spider.crawler.nigran_leases = set()

    def enqueue_request(self, request: Request) -> bool:
        token = request.meta.get("nigran_lease")
        queued = super().enqueue_request(request)
        if token:  # the continuation replaced the lease (LeasedQueue.push); filtered ones end it here
            if not queued:
                self.queue.frontier.ack(token)
            self.leases.discard(token)
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
    leases = getattr(crawler, "nigran_leases", None)
    if not token or leases is None or token not in leases:
        return
    frontier = frontier_of(crawler)

    def ack() -> None:
        frontier.ack(token)
        leases.discard(token)

    recorder_for(crawler).when_committed(ack)


class LeaseMiddleware:
    """Outermost spider middleware: ends a response's lease once the spider's output is all handed on,
    and lets only one worker queue a source's start requests."""

    def __init__(self, crawler):
        self.crawler = crawler

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

    async def process_spider_output_async(self, response, result):
        async for item_or_request in result:
            yield item_or_request
        settle(self.crawler, response.request)

    def process_spider_output(self, response, result):
        yield from result
        settle(self.crawler, response.request)

    def process_spider_exception(self, response, exception):
        settle(self.crawler, response.request)


class SharedSlotMiddleware:
    """A source's concurrency and download delay held across all workers (a slot in Redis)."""

    HOLD_SECONDS = 300.0  # a slot entry outlives a dead worker by at most this

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_request(self, request):
        spider = self.crawler.spider
        frontier, holder = frontier_of(self.crawler), f"{WORKER}:{id(request)}"
        settings = self.crawler.settings
        concurrency = settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
        delay = settings.getfloat("DOWNLOAD_DELAY")
        while wait := frontier.enter_slot(spider.name, holder, concurrency, delay, self.HOLD_SECONDS):
            await asyncio.sleep(wait)
        request.meta["nigran_slot"] = holder
        return None

    def _leave(self, request) -> None:
        holder = request.meta.pop("nigran_slot", None)
        if holder:
            frontier_of(self.crawler).leave_slot(self.crawler.spider.name, holder)

    def process_response(self, request, response):
        self._leave(request)
        return response

    def process_exception(self, request, exception):
        self._leave(request)


class WorkerExtension:
    """Keeps a worker's leases alive, requeues dead workers' requests, keeps the spider open until the run
    is drained, and gives back unfinished leases when the worker stops; shares the page budget."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.loop = task.LoopingCall(self.tick)
        crawler.signals.connect(self.spider_opened, signals.spider_opened)
        crawler.signals.connect(self.spider_idle, signals.spider_idle)
        crawler.signals.connect(self.spider_closed, signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def spider_opened(self, spider):
        frontier = frontier_of(self.crawler)
        if hasattr(spider, "pages"):
            spider.pages = SharedPages(frontier, spider.name, spider.source.max_pages)
        self.loop.start(frontier.lease_seconds / 3, now=True)

    def tick(self) -> None:
        frontier = frontier_of(self.crawler)
        frontier.renew(list(getattr(self.crawler, "nigran_leases", ())))
        frontier.heartbeat(WORKER)
        if reaped := frontier.reap():
            log.warning("frontier: %d requests of a stopped worker queued again", reaped)

    def spider_idle(self, spider):
        frontier = frontier_of(self.crawler)
        if frontier.is_open() and not frontier.drained(self.crawler.settings.getlist("NIGRAN_RUN_SOURCES")):
            raise DontCloseSpider

    def spider_closed(self, spider, reason):
        if self.loop.running:
            self.loop.stop()
        leases = getattr(self.crawler, "nigran_leases", set())
        if leases:
            recorder_for(self.crawler).flush()
            frontier_of(self.crawler).release(sorted(leases))
            log.info("source %s: %d unfinished requests handed back to the frontier", spider.name, len(leases))


class SharedPages:
    """A source's max_pages budget, shared by every worker of the run (same interface as spiders.site.Pages)."""

    def __init__(self, frontier: Frontier, source: str, limit: int):
        self.frontier, self.source, self.limit = frontier, source, limit

    def take(self, url: str) -> bool:
        return self.frontier.take_page(self.source, url, self.limit)
