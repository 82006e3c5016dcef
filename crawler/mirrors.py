"""Which mirror of a source the crawl is on, and moving on to the next one when it dies, is seized or guarded."""
from __future__ import annotations

import logging

from nigran.config.hosts import BadHost, on_origin, origin
from nigran.config.schema import Source

log = logging.getLogger(__name__)


class Mirrors:
    """A source's mirrors (`Source.origins`, the first start URL's first) and the one in use."""

    def __init__(self, source: Source):
        self.source = source.name
        self.origins = source.origins
        self.index = 0
        self.left: dict[str, str] = {}  # mirror -> why the crawl left it

    @property
    def current(self) -> str:
        return self.origins[self.index]

    def route(self, url: str) -> str:
        """`url` moved to the mirror in use when it names another of the source's mirrors."""
        try:
            here = origin(url)
        except BadHost:
            return url
        return on_origin(url, self.current) if here != self.current and here in self.origins else url

    def leave(self, url: str, why: str) -> str | None:
        """Give up the mirror that served `url`, because of `why`: the mirror now in use (the next one, or the
        current one when the crawl had already left that mirror); None when no mirror is left."""
        try:
            failed = origin(url)
        except BadHost:
            return None
        if failed != self.current:
            return self.current if failed in self.origins else None
        self.left[failed] = why
        if self.index + 1 >= len(self.origins):
            log.error("source %s: mirror %s failed (%s) and no mirror is left", self.source, failed, why)
            return None
        self.index += 1
        log.warning("source %s: mirror %s failed (%s); moving to mirror %s", self.source, failed, why, self.current)
        return self.current


def on_next_mirror(mirrors: Mirrors | None, request, why: str):
    """`request` again, on the mirror in use once the one that served it is given up for `why`; None when the
    source has no other mirror left."""
    to = mirrors.leave(request.url, why) if mirrors is not None else None
    return None if to is None else request.replace(url=on_origin(request.url, to), dont_filter=True)
