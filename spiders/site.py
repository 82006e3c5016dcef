"""One configurable spider for market, forum, paste and generic sources."""
from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any, ClassVar

import scrapy
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor

from nigran.config.hosts import in_scope
from nigran.config.schema import Source
from nigran.spiders.items import PostItem
from nigran.spiders.pagination import Listing
from nigran.spiders.segment import segment
from nigran.spiders.state import SpiderState, request_failed
from nigran.spiders.text import element_text, parse_html
from nigran.storage.sessions import SessionStore
from nigran.storage.utc import parse_utc


def parse_when(value: str | None) -> datetime | None:
    """An ISO-8601 date from a page as aware UTC; None when absent or unreadable (never 'now')."""
    try:
        return parse_utc(value) if value else None
    except (ValueError, OverflowError):
        return None


# Links a crawl never follows: they end the session it is logged in with (phpBB's ucp.php?mode=logout,
# MyBB's member.php?action=logout, vBulletin's login.php?do=logout, /logout, /log-out, /signout...).
LOGOUT = re.compile(r"[?&/](?:mode|action|do)=log-?out\b|/(?:log-?out|sign-?out)(?:[/?.#]|$)", re.I)

# Onion services are slow and a tor client is single-threaded: fewer, more patient requests.
DIRECT_CONCURRENCY, TOR_CONCURRENCY = 8, 2
# A logged-in account reads like one person, one page at a time: faster gets accounts banned, and a session
# that expires is noticed within a request or two (no other request is queued behind the one that meets it).
LOGGED_IN_CONCURRENCY = 1
ALL_LINKS = LinkExtractor()  # stateless; built once rather than per page
DIRECT_TIMEOUT, TOR_TIMEOUT = 30.0, 90.0


class SourceSpider(scrapy.Spider):
    """Base of every per-source spider: the bound `source` and its crawl limits."""

    source: ClassVar[Source]

    @classmethod
    def source_settings(cls, source: Source) -> dict[str, Any]:
        """Per-source Scrapy settings."""
        tor = source.needs_tor
        settings = {
            "DOWNLOAD_DELAY": source.download_delay,
            "CONCURRENT_REQUESTS_PER_DOMAIN": source.concurrency or (TOR_CONCURRENCY if tor else DIRECT_CONCURRENCY),
            "DOWNLOAD_TIMEOUT": source.timeout or (TOR_TIMEOUT if tor else DIRECT_TIMEOUT),
        }
        if source.login is not None or SessionStore().exists(source.session_name):
            # The whole crawl, not only each host: nothing waits in the downloader behind a page that stops it.
            settings["CONCURRENT_REQUESTS"] = settings["CONCURRENT_REQUESTS_PER_DOMAIN"] = \
                source.concurrency or LOGGED_IN_CONCURRENCY
        if source.render == "browser":
            from nigran.crawler.browser import browser_settings

            settings.update(browser_settings())
        return settings

    @classmethod
    def for_source(cls, source: Source) -> type[SourceSpider]:
        """A spider class bound to one source, named after it (what `scrapy list` shows)."""
        return type(f"{cls.__name__}_{source.name}", (cls,), {
            "name": source.name, "source": source, "allowed_domains": list(source.allowed_domains),
            "custom_settings": cls.source_settings(source)})

    def failed(self, failure) -> None:
        """Errback: announce a request that failed for good (after retries); crawler/failures.py reports it."""
        self.crawler.signals.send_catch_log(request_failed, failure=failure, spider=self)

    def request(self, url: str, **kwargs) -> scrapy.Request:
        if self.source.render == "browser":
            kwargs["meta"] = {"playwright": True, **kwargs.get("meta", {})}
        return scrapy.Request(url, errback=self.failed, **kwargs)

    def budget(self, url: str) -> bool:
        """Take one page from max_pages for a URL not yet requested (on any mirror); False when spent or seen."""
        return SpiderState.of(self.crawler).take_page(self.source.canonical(url).split("#")[0])


class SiteSpider(SourceSpider):
    """Follows links inside the allowed domains and cuts pages into posts (selectors or segmentation)."""

    name = "site"

    async def start(self):
        for url in self.source.start_urls:
            if self.budget(url):
                yield self.request(url, callback=self.parse, dont_filter=True)

    def parse(self, response: Response):
        if not isinstance(response, TextResponse):
            self.logger.info("%s: %s is not text (%s); kept as evidence only", self.name, response.url,
                             response.headers.get(b"Content-Type", b"?").decode("latin-1"))
            return
        yield from self.posts(response)
        yield from self.follow_links(response)

    def posts(self, response: TextResponse):
        meta = response.meta
        base = {"source": self.name, "url": response.url, "capture_id": meta.get("capture_id"),
                "fetched_at": meta.get("fetched_at")}
        page_key = self.source.canonical(response.url).split("#")[0]  # one key whichever mirror served it
        if self.source.post:
            for el in response.css(self.source.post):
                fields = self.source.fields
                text = self._field(el, fields.text) if fields.text else element_text(el.root)
                if not text.strip():
                    continue
                anchor = el.attrib.get("id") or el.attrib.get("data-id") or \
                    "h" + hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:16]
                yield PostItem(base, post_key=f"{page_key}#{anchor}", text=text,
                               title=self._field(el, fields.title), author=self._field(el, fields.author),
                               posted_at=parse_when(self._field(el, fields.posted_at)),
                               price_text=self._field(el, fields.price), extra={})
            return
        root = parse_html(response.text)
        for block in segment(root, self.source.engine) if root is not None else []:
            yield PostItem(base, post_key=f"{page_key}#{block.anchor}", text=block.text, title=None,
                           author=block.author, posted_at=block.posted_at, price_text=None, extra={})

    @staticmethod
    def _field(el, selector: str | None) -> str | None:
        if not selector:
            return None
        if "::" in selector:
            value = " ".join(v.strip() for v in el.css(selector).getall() if v.strip())
        else:
            value = "\n".join(element_text(m.root) for m in el.css(selector))
        return value or None

    def follow_links(self, response: TextResponse):
        """Requests for the page's links, each with its level: a link continuing this listing or thread
        (`spiders/pagination.py`) stays at the page's level, any other goes one level down, and none goes
        past max_depth, nor to a logout link. Scrapy's DEPTH_LIMIT counts every hop, so it is off. Scope and the page budget are
        checked here, before a request takes a page (ScopeMiddleware still checks every request, redirects
        included)."""
        level = response.meta.get("level", 0)
        rel_next = {response.urljoin(h) for h in
                    response.css("a[rel~=next]::attr(href), link[rel~=next]::attr(href)").getall()}
        listing, links = Listing(response.url), {}
        for url, text in [*self.links(response), *((url, "") for url in sorted(rel_next))]:
            links[url] = links.get(url, False) or listing.continued_by(url, text, url in rel_next)
        for url, same in links.items():
            if (same or level < self.source.max_depth) and not LOGOUT.search(url) \
                    and in_scope(url, self.source.allowed_domains) \
                    and self.budget(url):
                yield self.request(url, callback=self.parse, meta={"level": level if same else level + 1})

    def links(self, response: TextResponse) -> list[tuple[str, str]]:
        """(URL, text) of the links to consider: those the source's `follow` selectors pick, else all."""
        if not self.source.follow:
            return [(link.url, link.text) for link in ALL_LINKS.extract_links(response)]
        found = []
        for selector in self.source.follow:
            for match in response.css(selector):
                anchors = [match] if "href" in match.attrib else match.css("a[href]")
                found += [(response.urljoin(a.attrib["href"]), " ".join(a.css("::text").getall())) for a in anchors]
        return found
