"""Downloader middlewares: choose each request's route, and keep every response as evidence."""
from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError

from nigran.config.hosts import canonical_url, is_onion, out_of_scope
from nigran.crawler.mirrors import on_next_mirror
from nigran.crawler.runtime import Runtime
from nigran.crawler.tor import TorError
from nigran.storage.utc import retry_after

log = logging.getLogger(__name__)


class TorUnavailable(IgnoreRequest):
    """A Tor-only request and no working Tor: the request is dropped, never sent directly."""


class OutOfScope(IgnoreRequest):
    """A request nigran never sends: its scheme is not http(s), or its host is outside the source's domains."""


class ScopeMiddleware:
    """Refuse every request outside http(s) and the source's allowed domains before it is routed, and send
    the others with their host in canonical form (`MARKET.onion.` becomes `market.onion`).

    It sees every request, start requests and redirect hops included: Scrapy's offsite filter lets
    `dont_filter` requests (start URLs) and the redirects they inherit it through, which let a start page
    send the crawler to another host. Scrapy's DepthMiddleware and the spider's page budget still apply.
    """

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request):
        spider = self.crawler.spider
        why = out_of_scope(request.url, spider.source.allowed_domains)
        if why is None:
            canonical = canonical_url(request.url)
            return None if canonical == request.url else request.replace(url=canonical)
        self.crawler.stats.inc_value("nigran/refused")
        log.warning("source %s: not fetched: %.200s (%s)", spider.name, request.url, why)
        raise OutOfScope(f"{request.url[:200]}: {why}")


class MirrorMiddleware:
    """Send every request of a source with mirrors to the mirror in use (`Runtime.of(crawler).mirrors`), and
    move to the next mirror when one cannot be reached after Scrapy's retries. A seizure banner or a guard
    page moves it too (crawler/guard.py).

    Sits between ScopeMiddleware, which canonicalises hosts, and RouteMiddleware, so a request moved to
    another mirror is routed for that mirror's host. Politeness (delay, concurrency) is Scrapy's per-host
    slot: a new mirror starts with its own, equally polite slot.
    """

    def __init__(self, crawler):
        self.crawler = crawler
        self.runtime = Runtime.of(crawler)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request):
        mirrors = self.runtime.mirrors
        url = mirrors.route(request.url) if mirrors is not None else request.url
        return None if url == request.url else request.replace(url=url, dont_filter=True)

    def process_exception(self, request, exception):
        if isinstance(exception, (IgnoreRequest, HttpError)):
            return None
        reason = (str(exception).strip().splitlines() or [type(exception).__name__])[0]
        moved = on_next_mirror(self.runtime.mirrors, request, f"unreachable: {reason[:160]}")
        if moved is not None:
            self.crawler.stats.inc_value("nigran/mirror_moves")
        return moved


class RouteMiddleware:
    """Send `via: tor` sources and every .onion host through Tor's SOCKS port; fail closed otherwise.

    The Tor session is the crawl's (`Runtime.of(crawler).tor`); without one, Tor requests are dropped with
    one error line per source.
    """

    def __init__(self, crawler):
        self.crawler = crawler
        self.tor = Runtime.of(crawler).tor
        self.reported = False

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request):
        spider = self.crawler.spider
        if not spider.source.uses_tor(urlsplit(request.url).hostname or ""):
            request.meta["transport"] = "direct"
            request.meta.pop("proxy", None)
            return None
        access = self.tor
        if access.session is None:
            self._fail_closed(spider, access.error)
            raise TorUnavailable(f"{request.url}: Tor unavailable")
        request.meta["transport"] = "tor"
        if request.meta.get("playwright"):
            try:
                request.meta["proxy"] = access.session.browser_proxy_url()
            except TorError as exc:
                self._fail_closed(spider, str(exc))
                raise TorUnavailable(f"{request.url}: Tor unavailable") from None
        else:
            request.meta["proxy"] = access.session.proxy_url(spider.name)
        return None

    def _fail_closed(self, spider, reason: str) -> None:
        if not self.reported:
            self.reported = True
            log.error("source %s: Tor unavailable: %s; nothing is sent directly", spider.name, reason)
            self.crawler.stats.inc_value("nigran/errors")
            self.crawler.stats.set_value("nigran/failure", f"Tor unavailable: {reason}")


class BlockMiddleware:
    """On signs of blocking (403/429/503, short access-denied or rate-limit pages) renew the source's Tor
    circuit and retry. Captcha, queue and challenge pages are guards, never retried: crawler/guard.py, which
    sits above this middleware, stops the source on them.

    Renewal respects tor's rate limit (TorSession.renew); retries back off exponentially within a budget.
    A status the request says its spider handles (`handle_httpstatus_list`, e.g. Telegram's 429 with
    Retry-After) is the spider's to retry: the circuit is renewed for that retry, and nothing is retried here,
    so one transport never stacks two retry policies. Sits below the decompression middleware, so it reads
    decoded text.
    """

    BLOCK_STATUSES = {403, 429, 503}
    BLOCK_WORDS = re.compile(rb"access denied|too many requests|rate limit", re.I)
    MAX_RETRIES = 4
    BASE_DELAY = 1.0

    def __init__(self, crawler):
        self.crawler = crawler
        self.tor = Runtime.of(crawler).tor

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_exception(self, request, exception):
        """An onion service that did not answer: let tor forget stale descriptors before Scrapy retries."""
        access = self.tor
        if request.meta.get("transport") == "tor" and access.session is not None \
                and is_onion(urlsplit(request.url).hostname or ""):
            access.session.refresh_onion_state()
        return None

    def blocked(self, response) -> bool:
        if response.status in self.BLOCK_STATUSES:
            return True
        return response.status == 200 and len(response.body) < 20000 and bool(self.BLOCK_WORDS.search(response.body))

    async def process_response(self, request, response):
        access = self.tor
        if request.meta.get("transport") != "tor" or access.session is None or not self.blocked(response):
            return response
        spider = self.crawler.spider
        if response.status in request.meta.get("handle_httpstatus_list", ()):
            access.session.renew(spider.name)
            return response
        tries = request.meta.get("block_retries", 0)
        if tries >= self.MAX_RETRIES:
            log.error("source %s: %s still blocked after %d circuit renewals", spider.name, request.url, tries)
            return response
        renewed = access.session.renew(spider.name)
        delay = self.BASE_DELAY * 2 ** tries
        if (wait := retry_after(response.headers.get(b"Retry-After"))) is not None:
            delay = max(delay, min(wait, 120.0))
        log.warning("source %s: %s looks blocked (HTTP %d); %s, retrying in %.0f s", spider.name, request.url,
                    response.status, "new circuit" if renewed else "circuit renewed recently", delay)
        self.crawler.stats.inc_value("nigran/block_retries")
        await asyncio.sleep(delay)
        return request.replace(dont_filter=True, meta={**request.meta, "block_retries": tries + 1})


def header_pairs(headers) -> list[list[str]]:
    """Scrapy headers as [name, value] pairs, every value kept, bytes read as latin-1."""
    return [[k.decode("latin-1"), v.decode("latin-1")] for k, values in headers.items() for v in values]


def route_of(runtime: Runtime, request) -> dict:
    """How a request really travelled, for its captures: transport `tor` or `direct` as RouteMiddleware chose
    it, and for Tor the circuit that most recently carried the source's streams (the browser's streams, which
    carry no SOCKS credentials, by their destination host), when tor told us."""
    transport = request.meta["transport"]
    access = runtime.tor
    if transport != "tor" or access.session is None:
        return {"transport": transport}
    if request.meta.get("playwright"):
        info = access.session.browser_circuit_for(urlsplit(request.url).hostname or "")
    else:
        info = access.session.circuit_for(runtime.crawler.spider.name)
    circuit = {"circuit_id": info.circuit_id, "exit_fingerprint": info.exit_fingerprint} if info else {}
    return {"transport": transport, **circuit}


class EvidenceMiddleware:
    """Record every response, its body exactly as received, before decompression or redirects."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        self.runtime = Runtime.of(crawler)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_response(self, request, response):
        spider = self.crawler.spider
        fetched_at = datetime.now(timezone.utc)
        capture_id, digest = self.runtime.recorder.capture(
            body=response.body, run_id=self.runtime.run_id, source=spider.name, kind="http", url=request.url,
            final_url=response.url, method=request.method, status=response.status,
            headers=header_pairs(response.headers), fetched_at=fetched_at,
            request_headers=header_pairs(request.headers),
            started_at=fetched_at - timedelta(seconds=request.meta.get("download_latency", 0)),
            **route_of(self.runtime, request))
        request.meta.update(capture_id=capture_id, fetched_at=fetched_at)
        self.stats.inc_value("nigran/captures")
        if 200 <= response.status < 300:
            self.stats.inc_value("nigran/pages_ok")
        elif response.status >= 400:
            log.warning("source %s: %s answered HTTP %d (captured as %s)", spider.name, request.url,
                        response.status, digest[:12])
        return response
