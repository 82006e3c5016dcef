"""Stop a source at the first page it cannot pass: a login wall, an expired session, a captcha, a queue page
too long to wait out, a JavaScript challenge or a seizure banner (found by crawler/walls.py).

Never hammer a guard: no retry and no circuit renewal on such a page. The page is already a capture (the
evidence middleware sits above this one); the stop is recorded with its status, the source stops fetching at
once, and its report names the next command for a human.
"""
from __future__ import annotations

import asyncio
import logging

from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import TextResponse
from scrapy.utils.defer import deferred_from_coro

from nigran.crawler.middlewares import header_pairs
from nigran.crawler.mirrors import on_next_mirror
from nigran.crawler.runtime import Runtime
from nigran.crawler.walls import Wall, detect

log = logging.getLogger(__name__)
# A queue page is fetched again once, this long after the time it asks for.
QUEUE_MARGIN = 0.5


class SourceStopped(IgnoreRequest):
    """A request of a source that a guard or wall stopped: not sent."""


def next_step(source, status: str) -> str:
    """What a human runs (or does) next for a source stopped with `status`."""
    if status == "seized":
        return f"find a live mirror and add it to mirrors: of source {source.name}, then: nigran crawl {source.name}"
    return f"nigran session login {source.name}"


class SourceStop:
    """Extension: stop a source for good with a status (`login_wall`, `session_expired`, `login_failed`,
    `captcha`, `queue`, `challenge`, `seized`): no further request is sent, the stop is logged, kept in the
    crawl's stats with the next step for a human (the source's report and exit line), and recorded with the
    capture of the page that caused it. Components ask for it with `crawler.get_extension(SourceStop)`."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.status: str | None = None

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def check(self, request) -> None:
        """Raise SourceStopped for a request of a stopped source."""
        if self.status is not None:
            raise SourceStopped(f"{request.url}: source stopped ({self.status})")

    def stop(self, status: str, reason: str, request=None) -> None:
        """Stop the source for good with `status`: no further request is sent; the stop is logged, counted
        in the crawl's stats with the next step for a human, and recorded with the page that caused it."""
        if self.status is not None:
            return
        self.status = status
        spider = self.crawler.spider
        step = next_step(spider.source, status)
        stats = self.crawler.stats
        stats.set_value("nigran/guard", status)
        stats.set_value("nigran/failure", f"{status}: {reason}")
        stats.set_value("nigran/next", step)
        url = request.url if request is not None else None
        log.error("source %s: stopped, %s: %s%s; next: %s", spider.name, status, reason,
                  f" ({url[:200]})" if url else "", step)
        runtime = Runtime.of(self.crawler)
        runtime.recorder.record_stop(run_id=runtime.run_id, source=spider.name, status=status,
                                          reason=reason, url=url, next_step=step,
                                          capture_id=request.meta.get("capture_id") if request is not None else None)
        deferred_from_coro(self.crawler.engine.close_spider_async(reason=status))


class GuardMiddleware:
    """Look at every decoded page for a wall or guard; wait out a short self-refreshing queue once; move to
    the next mirror past a seizure banner or guard when the source has one; otherwise stop the source.

    Below HttpCompressionMiddleware (590) and RedirectMiddleware (600): it reads the decoded page a redirect
    chain ended on (`ucp.php?mode=login`, say). Above MetaRefreshMiddleware (580), which would follow a queue
    page's refresh at once, and BlockMiddleware (560), so a guard page is never retried through a new
    circuit. Pages of the form login itself (meta `nigran_login`) are crawler/logged_in.py's.
    """

    def __init__(self, crawler):
        self.crawler = crawler
        self.runtime = Runtime.of(crawler)
        self.stops = crawler.get_extension(SourceStop)
        self.queue_lock = asyncio.Lock()

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request):
        self.stops.check(request)

    async def process_response(self, request, response):
        if request.meta.get("nigran_login") or not isinstance(response, TextResponse):
            return response
        source = self.crawler.spider.source
        wall = detect(response.url, response.status, dict(header_pairs(response.headers)), response.text,
                      logged_in=source.logged_in, login_url=source.login_page and source.login_page.url,
                      login_selector=source.login_page and source.login_page.selector)
        if wall is None:
            return response
        self.stops.check(request)
        if wall.kind == "queue" and wall.refresh is not None and wall.refresh <= source.queue_wait \
                and not request.meta.get("queue_waited"):
            return await self.wait_out(request, wall)
        if wall.kind != "login":
            moved = on_next_mirror(self.runtime.mirrors, request, f"{wall.kind}: {wall.reason}")
            if moved is not None:
                self.crawler.stats.inc_value("nigran/mirror_moves")
                return moved
        # A login wall on a request that carried a session (crawler/logged_in.py) means the session expired.
        if wall.kind != "login":
            status = wall.kind
        else:
            status = "session_expired" if request.meta.get("session") else "login_wall"
        self.stops.stop(status, wall.reason, request)
        raise SourceStopped(f"{request.url}: {wall.kind} page")

    async def wait_out(self, request, wall: Wall) -> Request:
        """The page the queue refreshes to, asked for once after the wait it announces."""
        spider = self.crawler.spider
        log.info("source %s: %s; waiting %.0f s", spider.name, wall.reason, wall.refresh)
        self.crawler.stats.inc_value("nigran/queue_waits")
        async with self.queue_lock:
            await asyncio.sleep(wall.refresh + QUEUE_MARGIN)
        return request.replace(url=wall.refresh_url or request.url, dont_filter=True,
                               meta={**request.meta, "queue_waited": True})
