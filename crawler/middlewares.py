"""Downloader middlewares: choose each request's route, and keep every response as evidence."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from urllib.parse import urlsplit

from scrapy import signals
from twisted.internet import task
from scrapy.exceptions import IgnoreRequest

from crawler.runtime import recorder_for

log = logging.getLogger(__name__)


class TorUnavailable(IgnoreRequest):
    """A Tor-only request and no working Tor: the request is dropped, never sent directly."""


class RouteMiddleware:
    """Send `via: tor` sources and every .onion host through Tor's SOCKS port; fail closed otherwise.

    Each source gets its own SOCKS username, so tor (IsolateSOCKSAuth) gives it its own circuits.
    """

    def __init__(self, crawler):
        self.crawler = crawler
        self.socks = crawler.settings.get("NIGRAN_TOR_SOCKS")  # "host:port" or None
        self.reported = False

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request):
        spider = self.crawler.spider
        host = urlsplit(request.url).hostname or ""
        if not spider.source.uses_tor(host):
            request.meta["transport"] = "direct"
            request.meta.pop("proxy", None)
            return None
        if not self.socks:
            if not self.reported:
                self.reported = True
                log.error("source %s: needs Tor but no Tor is configured (set NIGRAN_TOR_SOCKS or --tor-socks); "
                          "nothing is sent directly", spider.name)
            self.crawler.stats.inc_value("nigran/errors")
            self.crawler.stats.set_value("nigran/failure", "tor unavailable")
            raise TorUnavailable(f"{request.url}: Tor unavailable")
        request.meta["transport"] = "tor"
        request.meta["proxy"] = f"socks5://nigran-{spider.name}:{request.meta.get('circuit_generation', 0)}@{self.socks}"
        return None


def header_pairs(headers) -> list[list[str]]:
    """Scrapy headers as [name, value] pairs, every value kept, bytes read as latin-1."""
    return [[k.decode("latin-1"), v.decode("latin-1")] for k, values in headers.items() for v in values]


class EvidenceMiddleware:
    """Record every response, its body exactly as received, before decompression or redirects."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        self.recorder = recorder_for(crawler)
        self.run_id = crawler.settings.getint("NIGRAN_RUN_ID") or None
        self.own_run = False
        self.flusher = task.LoopingCall(self.recorder.flush)
        crawler.signals.connect(self.spider_opened, signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def spider_opened(self, spider):
        if self.run_id is None:  # plain `scrapy crawl`: this crawl is its own run
            self.run_id, self.own_run = self.recorder.start_run("scrapy"), True
        self.flusher.start(1.0, now=False)  # commit what is pending even when the crawl goes quiet

    def spider_closed(self, spider, reason):
        self.flusher.stop()
        self.recorder.flush()
        if self.own_run:
            ok = reason == "finished" and not self.stats.get_value("nigran/failure")
            self.recorder.finish_run(self.run_id, "finished" if ok else "failed", 0 if ok else 1,
                                     {spider.name: self.stats.get_stats()})

    def process_response(self, request, response):
        spider = self.crawler.spider
        fetched_at = datetime.now(timezone.utc)
        capture_id, digest = self.recorder.capture(
            body=response.body, run_id=self.run_id, source=spider.name, kind="http", url=request.url,
            final_url=response.url, method=request.method, status=response.status,
            headers=header_pairs(response.headers), fetched_at=fetched_at,
            transport=request.meta.get("transport", "direct"))
        request.meta.update(capture_id=capture_id, capture_sha256=digest, fetched_at=fetched_at)
        self.stats.inc_value("nigran/captures")
        if 200 <= response.status < 300:
            self.stats.inc_value("nigran/pages_ok")
        elif response.status >= 400:
            log.warning("source %s: %s answered HTTP %d (captured as %s)", spider.name, request.url,
                        response.status, digest[:12])
        return response
