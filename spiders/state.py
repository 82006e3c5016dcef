"""What a spider may ask of the crawl it runs in, and the one thing it tells it.

Spiders only yield requests and items. Their page budget and what is already stored come from the
crawl's `SpiderState` extension (nigran's is `crawler.runtime.Runtime`), found with
`SpiderState.of(crawler)`; a request that failed for good is announced with the `request_failed`
signal, for the components that own failure policy (download failures reach the errback only, never
spider middlewares).
"""
from __future__ import annotations

from abc import ABC, abstractmethod

request_failed = object()  # signal; arguments: failure (its .request is the request), spider


class SpiderState(ABC):
    """A Scrapy extension that answers a spider's questions about its crawl."""

    @classmethod
    def of(cls, crawler):
        """The crawler's extension of this class (or a subclass)."""
        state = crawler.get_extension(cls)
        if state is None:
            raise RuntimeError(f"no {cls.__name__} extension is enabled (EXTENSIONS: crawler.runtime.Runtime)")
        return state

    @abstractmethod
    def take_page(self, url: str) -> bool:
        """Take one page of the source's max_pages for `url`; False when spent or already taken."""

    @abstractmethod
    def newest_message(self, channel: str) -> int:
        """The highest message id already stored for a Telegram channel of this source, 0 when none."""
