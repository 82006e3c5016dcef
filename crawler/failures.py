"""What a request that failed for good means for its source (fed by spiders.state.request_failed)."""
from __future__ import annotations

import logging

from scrapy.exceptions import DownloadConnectionRefusedError, IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.defer import deferred_from_coro

from nigran.crawler.runtime import Runtime
from nigran.crawler.tor import TorError, check_socks
from nigran.spiders.state import request_failed

log = logging.getLogger(__name__)


def reason_of(failure) -> str | None:
    """The one-line reason a failure counts as an error, or None when it does not: other HTTP statuses (a
    removed listing's 404) and dropped requests do not; server errors (5xx) do."""
    if failure.check(HttpError):
        status = failure.value.response.status
        return f"HTTP {status} after retries" if status >= 500 else None
    if failure.check(IgnoreRequest):
        return None
    text = str(failure.value).strip()
    return text.splitlines()[0] if text else failure.type.__name__


def tor_refused(failure) -> bool:
    """A Tor-route request that tor's SOCKS port refused: tor itself may have died."""
    return failure.request.meta.get("transport") == "tor" and bool(
        failure.check(ConnectionRefusedError, DownloadConnectionRefusedError))


class FailureReport:
    """Extension: one clear line per request that could not be fetched, counted as an error; and when tor
    itself stopped answering, the source stops at once, since nothing may go direct instead."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.closing = None
        crawler.signals.connect(self.request_failed, request_failed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def request_failed(self, failure, spider) -> None:
        request = failure.request
        if tor_refused(failure):
            self.check_tor(spider)
        reason = reason_of(failure)
        if reason is not None:
            self.crawler.stats.inc_value("nigran/errors")
            log.error("source %s: %s failed: %s", spider.name, request.url, reason)

    def check_tor(self, spider) -> None:
        session = Runtime.of(self.crawler).tor.session
        if session is None or self.closing is not None:
            return
        try:
            check_socks(session.socks)
        except TorError as exc:
            self.crawler.stats.set_value("nigran/failure", f"Tor stopped during the crawl: {exc}")
            log.error("source %s: Tor stopped during the crawl (%s); stopping this source, nothing is sent "
                      "directly", spider.name, exc)
            self.closing = deferred_from_coro(self.crawler.engine.close_spider_async(reason="tor_lost"))
