"""Chromium through scrapy-playwright for `render: browser` sources, and the evidence a browser leaves.

Only browser sources use `BrowserDownloadHandler` (their spider settings name it, see
`browser_settings`). It renders requests marked `meta["playwright"]` in the system Chromium and
sends every other request through httpx like the rest of nigran; scrapy-playwright alone would
fall back to Twisted's HTTP/1.1 handler, which cannot speak SOCKS.

A rendered page yields three captures: the main document's bytes as the browser received them
(kept by EvidenceMiddleware like any response), then the DOM after scripts ran and a full-page PNG
(kept by BrowserEvidenceMiddleware, which also hands the DOM to the spider).
"""
from __future__ import annotations

import asyncio
import logging
import shutil
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError
from scrapy.exceptions import DownloadFailedError, DownloadTimeoutError, IgnoreRequest
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

from nigran.crawler.download import DeadlineDownloadHandler, http_only
from nigran.crawler.middlewares import route_of
from nigran.crawler.runtime import Runtime

CHROMIUM_ARGS = [
    "--disable-dev-shm-usage",  # containers have a small /dev/shm
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",  # no WebRTC traffic around the proxy
    "--dns-prefetch-disable",
    "--no-pings",
]
# Playwright's own browser download cannot run here: the system Chromium, Debian's package.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CONTEXT_OPTIONS = {"ignore_https_errors": True, "service_workers": "block"}  # as lax as the httpx route
DOCUMENT, RENDERED = "nigran_browser_document", "nigran_browser_rendered"
logger = logging.getLogger(__name__)


class PageHung(Exception):
    """A page whose scripts keep the browser busy after loading; retrying would only hang again."""


def browser_settings() -> dict:
    """Scrapy settings of a `render: browser` source."""
    return {
        "DOWNLOAD_HANDLERS": http_only("nigran.crawler.browser.BrowserDownloadHandler"),
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS},
    }


@dataclass(frozen=True)
class Rendered:
    """What the browser made of a page, passed from the handler to BrowserEvidenceMiddleware."""

    dom: bytes
    screenshot: bytes
    at: datetime


async def prepare_page(page, request) -> None:
    """Before navigation: the request's timeout, and a watch on the main document's responses."""
    timeout_ms = request.meta["download_timeout"] * 1000
    page.set_default_timeout(timeout_ms)
    page.set_default_navigation_timeout(timeout_ms)

    def keep(response) -> None:
        if response.frame == page.main_frame and response.request.is_navigation_request():
            request.meta[DOCUMENT] = response  # the last one: after redirects, the document shown

    page.on("response", keep)


def _reason(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class BrowserDownloadHandler(ScrapyPlaywrightDownloadHandler):
    """Pages marked `meta["playwright"]` in Chromium, bounded in time; the rest through httpx.

    Each route (direct, or one proxy) gets its own browser context. After NIGRAN_BROWSER_PAGES_PER_CONTEXT
    pages a route's new requests go to a fresh context, and the spent one is closed once its last request
    is done, so memory does not grow over long crawls.
    """

    @classmethod
    def from_crawler(cls, crawler):
        """One instance per crawler for both schemes: one Playwright driver, one browser."""
        runtime = Runtime.of(crawler)
        if runtime.browser is None:
            runtime.browser = cls(crawler)
        return runtime.browser

    def __init__(self, crawler):
        super().__init__(crawler)
        self.closed = False
        self.http = DeadlineDownloadHandler.from_crawler(crawler)
        self.timeout = crawler.settings.getfloat("DOWNLOAD_TIMEOUT")
        self.settle = crawler.settings.getfloat("NIGRAN_BROWSER_SETTLE", 5.0)
        self.pages_per_context = crawler.settings.getint("NIGRAN_BROWSER_PAGES_PER_CONTEXT", 50)
        # Pages rendered at once. Scrapy 2.19's downloader can start more than CONCURRENT_REQUESTS_PER_DOMAIN
        # requests of one slot when several are queued, so the handler enforces it itself.
        self.pages = asyncio.Semaphore(crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"))
        self.generation = 0
        self.served: Counter[str] = Counter()  # requests given to each context
        self.active: Counter[str] = Counter()  # ... and not yet released

    async def download_request(self, request):
        if not request.meta.get("playwright"):
            return await self.http.download_request(request)
        async with self.pages:
            return await self.render(request)

    async def close(self) -> None:
        if not self.closed:  # Scrapy closes the handler of each scheme: the same instance twice
            self.closed = True
            await self.http.close()
            await super().close()

    def context_for(self, request) -> tuple[str, dict]:
        """The context (name, options) for a request's route and session; Chromium takes no proxy credentials."""
        proxy = urlsplit(request.meta.get("proxy") or "")
        server = f"{proxy.scheme}://{proxy.hostname}:{proxy.port}" if proxy.hostname else None
        if request.meta.get("transport") == "tor" and not server:  # fail closed, as RouteMiddleware does
            self.stats.inc_value("nigran/errors")
            logger.error("%s: a Tor route without a proxy; not sent directly", request.url)
            raise IgnoreRequest(f"{request.url}: Tor unavailable")
        name = f"{server or 'direct'}#{self.generation}"
        self.served[name] += 1
        self.active[name] += 1
        if self.served[name] >= self.pages_per_context:
            self.generation += 1
        # "<-loopback>": nothing bypasses the proxy, not even 127.0.0.1
        route = {"proxy": {"server": server, "bypass": "<-loopback>"}} if server else {}
        # The source's stored session (crawler/logged_in.py): cookies and local storage of a new context.
        state = {"storage_state": request.meta["storage_state"]} if request.meta.get("storage_state") else {}
        return name, {**CONTEXT_OPTIONS, **route, **state}

    async def render(self, request):
        timeout = request.meta.setdefault("download_timeout", self.timeout)
        context, options = self.context_for(request)
        # Navigation ends with the parsed document, not with every image: `_settle` then waits (bounded) for
        # the network to go quiet. A slow image on an onion market does not fail the page, and a script that
        # hangs the page once it has rendered is told apart from a page that never came.
        request.meta.update(playwright_include_page=True, playwright_context=context,
                            playwright_context_kwargs=options, playwright_page_init_callback=prepare_page,
                            playwright_page_goto_kwargs={"wait_until": "domcontentloaded"})
        page = None
        try:
            try:  # navigation is bounded by the page's timeout; the deadline catches a browser that never answers
                async with asyncio.timeout(2 * timeout):
                    response = await super().download_request(request)
            except (TimeoutError, PlaywrightTimeoutError):
                raise DownloadTimeoutError(f"browser: the page did not load within {timeout:g} s") from None
            page = request.meta.pop("playwright_page")
            await self._settle(page, min(self.settle, timeout))
            try:
                async with asyncio.timeout(timeout):
                    document, rendered = await self._capture(page, request)
            except (TimeoutError, PlaywrightTimeoutError):
                raise PageHung(f"browser: the page hung after loading (its scripts still busy after "
                               f"{timeout:g} s)") from None
        except PlaywrightError as exc:
            raise DownloadFailedError(f"browser: {_reason(exc)}") from None
        finally:
            request.meta.pop(DOCUMENT, None)
            await self.release(context, page or request.meta.pop("playwright_page", None))
        request.meta[RENDERED] = rendered
        return response.replace(body=document)

    async def _settle(self, page, seconds: float) -> None:
        """Wait a while for the network to go idle (pages that poll never do), then take the page as it is."""
        try:
            await page.wait_for_load_state("networkidle", timeout=seconds * 1000)
        except PlaywrightTimeoutError:
            self.stats.inc_value("nigran/browser/not_idle")

    @staticmethod
    async def _capture(page, request) -> tuple[bytes, Rendered]:
        """The main document's bytes as received, and the page as rendered now."""
        dom = (await page.content()).encode("utf-8")
        screenshot = await page.screenshot(full_page=True, type="png")
        at = datetime.now(timezone.utc)
        main = request.meta.get(DOCUMENT)
        return (await main.body() if main is not None else b""), Rendered(dom, screenshot, at)

    async def release(self, context: str, page) -> None:
        """Close the request's page; close its context when the page would not close (the next request
        opens a fresh one), or when the context is spent and this was its last request."""
        stuck = False
        if page is not None:
            try:
                async with asyncio.timeout(10):
                    await page.close()
            except (TimeoutError, PlaywrightError):
                stuck = True
        self.active[context] -= 1
        spent = self.served[context] >= self.pages_per_context and not self.active[context]
        wrapper = self.context_wrappers.get(context)
        if wrapper is not None and (stuck or spent):
            self.stats.inc_value("nigran/browser/contexts_closed")
            with suppress(PlaywrightError, TimeoutError):
                async with asyncio.timeout(10):
                    await wrapper.context.close()
        if spent:
            del self.served[context], self.active[context]


class BrowserEvidenceMiddleware:
    """After EvidenceMiddleware kept the main document: keep the DOM and the screenshot as artefacts of it
    (WARC resource records concurrent to its response), and give the spider the DOM.

    Posts then cite the DOM capture, the one that holds what the browser showed.
    """

    def __init__(self, crawler):
        self.crawler = crawler
        self.runtime = Runtime.of(crawler)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_response(self, request, response):
        rendered: Rendered | None = request.meta.pop(RENDERED, None)
        if rendered is None:
            return response
        page = request.meta.get("capture_id")
        common = {"page_capture_id": page, "run_id": self.runtime.run_id, "source": self.crawler.spider.name,
                  "url": response.url, "fetched_at": rendered.at, **route_of(self.runtime, request)}
        recorder = self.runtime.recorder
        dom_id, _ = recorder.capture_artifact(role="dom", data=rendered.dom,
                                                    content_type="text/html; charset=utf-8", **common)
        recorder.capture_artifact(role="screenshot", data=rendered.screenshot, content_type="image/png", **common)
        self.crawler.stats.inc_value("nigran/captures", 2)
        request.meta.update(capture_id=dom_id, fetched_at=rendered.at)
        return response.replace(body=rendered.dom, encoding="utf-8")
