"""Public Telegram channels through their web preview (`<base_url>/s/<channel>`), newest message first.

Each channel is walked back with `?before=<id>` until `max_pages`, `since`, message 1 or the newest
message already stored for it (so a re-crawl fetches only what is new). Telegram throttles with
"No posts found" pages, pages without a cursor and 429s: those are retried after a growing delay
(429: after `Retry-After`), a bounded number of times. A name without a public preview redirects
away from /s/; that channel fails with one error line and the others go on.
"""
from __future__ import annotations

from dataclasses import dataclass

from scrapy.http import Response
from scrapy.settings.default_settings import RETRY_HTTP_CODES
from scrapy.utils.asyncio import sleep

from nigran.config.schema import Source
from nigran.spiders.items import PostItem
from nigran.spiders.site import SourceSpider
from nigran.spiders.state import SpiderState
from nigran.spiders.telegram_markup import ChannelPage, TelegramMessage, is_preview_redirect, parse_page
from nigran.storage.utc import retry_after

REDIRECTS = (301, 302, 303, 307, 308)


@dataclass
class Walk:
    """One channel's walk through its history during this crawl."""

    channel: str
    stored: int  # newest message id already stored (0: none)
    pages: int = 0  # pages read with messages
    attempts: int = 0  # consecutive throttled answers
    before: int | None = None  # cursor of the page being fetched
    messages: int = 0


class TelegramSpider(SourceSpider):
    """One source's channels; each message becomes a PostItem keyed `channel/message_id`."""

    name = "telegram"
    backoff = 1.0  # seconds before the first retry of a throttled page; doubles on each further one
    attempts = 5  # throttled answers in a row before the channel is given up
    max_wait = 300.0  # a longer Retry-After fails the channel instead of holding the crawl

    @classmethod
    def source_settings(cls, source: Source) -> dict:
        # 429 reaches the callback, which honours Retry-After, where RetryMiddleware would retry at once.
        return {**super().source_settings(source), "RETRY_HTTP_CODES": [c for c in RETRY_HTTP_CODES if c != 429]}

    async def start(self):
        state = SpiderState.of(self.crawler)
        for channel in self.source.channels:
            yield self.page(Walk(channel, state.newest_message(channel)))

    def page(self, walk: Walk, url: str | None = None):
        """The request for the walk's current page."""
        if url is None:
            url = f"{self.source.base_url.rstrip('/')}/s/{walk.channel}"
            if walk.before:
                url += f"?before={walk.before}"
        return self.request(url, callback=self.parse, cb_kwargs={"walk": walk}, dont_filter=True,
                            meta={"dont_redirect": True, "handle_httpstatus_list": [*REDIRECTS, 429]})

    async def parse(self, response: Response, walk: Walk):
        if response.status in REDIRECTS:
            location = response.urljoin(response.headers.get(b"Location", b"").decode("latin-1"))
            if is_preview_redirect(response.url, location):
                self.channel_failed(walk, f"has no public preview ({response.url} redirects to {location}): "
                                          "a private or restricted channel, a group, a bot or an unknown name")
            elif retry := await self.again(walk, "redirected", 0, url=location):
                yield retry
            return
        if response.status == 429:
            delay = retry_after(response.headers.get(b"Retry-After"))
            if delay is not None and delay > self.max_wait:
                self.channel_failed(walk, f"throttled (HTTP 429) with Retry-After {delay:.0f} s; try later")
            elif retry := await self.again(walk, "throttled (HTTP 429)", delay):
                yield retry
            return
        page = parse_page(response.body)
        if page.state == "no_posts":
            if page.notice and "no posts found" not in page.notice.lower():
                self.channel_failed(walk, f"is not shown: {page.notice}")
            elif retry := await self.again(walk, f"throttled ({page.notice!r} page)"):
                yield retry
            return
        for message in page.messages:
            if message.message_id > walk.stored and not self.too_old(message):
                walk.messages += 1
                yield self.item(response, message)
        if page.state == "empty":
            self.finished(walk, "the channel has no (more) messages")
            return
        walk.pages += 1
        stop = self.stop_reason(walk, page)
        if stop:
            self.finished(walk, stop)
            return
        oldest = page.messages[0].message_id
        if page.before is None:  # a page without its cursor is throttling too; the oldest id is the cursor
            walk.before = oldest
            if retry := await self.again(walk, "throttled (no cursor to older messages)"):
                yield retry
            return
        walk.attempts, walk.before = 0, min(page.before, oldest)
        yield self.page(walk)

    def stop_reason(self, walk: Walk, page: ChannelPage) -> str | None:
        """Why the walk ends after this page, or None to go on to older messages."""
        oldest = page.messages[0]
        if walk.before is not None and oldest.message_id >= walk.before:
            return f"the server ignored ?before={walk.before}"
        if oldest.message_id <= 1:
            return "reached message 1"
        if oldest.message_id <= walk.stored:
            return f"reached message {walk.stored}, stored by an earlier crawl"
        if self.too_old(oldest):
            return f"reached messages older than {self.source.since}"
        if walk.pages >= self.source.max_pages:
            return f"read max_pages ({self.source.max_pages}) pages"
        return None

    def too_old(self, message: TelegramMessage) -> bool:
        since = self.source.since
        return since is not None and message.posted_at is not None and message.posted_at.date() < since

    async def again(self, walk: Walk, why: str, delay: float | None = None, url: str | None = None):
        """The same page again after `delay` (default: exponential backoff); None when attempts ran out."""
        walk.attempts += 1
        if walk.attempts > self.attempts:
            where = f"?before={walk.before}" if walk.before else "its newest page"
            self.channel_failed(walk, f"still {why} after {self.attempts} attempts; stopped at {where}")
            return None
        delay = self.backoff * 2 ** (walk.attempts - 1) if delay is None else delay
        self.logger.info("source %s: channel %s %s; retrying in %.1f s (attempt %d of %d)", self.name,
                         walk.channel, why, delay, walk.attempts, self.attempts)
        self.crawler.stats.inc_value("nigran/telegram/retries")
        await sleep(delay)
        return self.page(walk, url)

    def channel_failed(self, walk: Walk, reason: str) -> None:
        self.crawler.stats.inc_value("nigran/errors")
        self.crawler.stats.inc_value("nigran/telegram/channels_failed")
        self.logger.error("source %s: channel %s %s", self.name, walk.channel, reason)

    def finished(self, walk: Walk, reason: str) -> None:
        self.logger.info("source %s: channel %s: %d new messages from %d pages; %s", self.name, walk.channel,
                         walk.messages, walk.pages, reason)

    def item(self, response: Response, message: TelegramMessage) -> PostItem:
        return PostItem(
            source=self.name, post_key=f"{message.channel}/{message.message_id}", url=message.permalink,
            title=None, author=message.author, posted_at=message.posted_at, text=message.text, price_text=None,
            capture_id=response.meta.get("capture_id"), fetched_at=response.meta.get("fetched_at"),
            extra={
                "channel": message.channel, "message_id": message.message_id, "views": message.views,
                "signature": message.signature, "forwarded_from": message.forwarded_from,
                "forwarded_from_url": message.forwarded_from_url, "reply_to": message.reply_to,
                "photos": message.photos, "documents": message.documents, "link_preview": message.link_preview,
                "album_ids": message.album_ids, "edited": message.edited, "service": message.service,
            })
