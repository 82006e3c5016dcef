"""Scrapy spider loader: one spider per configured source, so `scrapy list` / `scrapy crawl NAME` work."""
from __future__ import annotations

import logging

from nigran.config.schema import ConfigError, Source, load_sources

log = logging.getLogger(__name__)


def spider_class(source: Source):
    """The spider class that crawls a source."""
    if source.kind == "telegram":
        from nigran.spiders.telegram import TelegramSpider

        return TelegramSpider.for_source(source)
    from nigran.spiders.site import SiteSpider

    return SiteSpider.for_source(source)


class SourceSpiderLoader:
    """Implements Scrapy's SpiderLoaderProtocol over the sources file."""

    def __init__(self, settings):
        path = settings.get("NIGRAN_SOURCES")  # the environment's is in the settings (crawler/scrapy_project.py)
        try:
            self.sources = {s.name: s for s in load_sources(path)}
        except ConfigError as exc:
            log.error("%s", exc)
            self.sources = {}

    @classmethod
    def from_settings(cls, settings):
        return cls(settings)

    def load(self, spider_name: str):
        try:
            return spider_class(self.sources[spider_name])
        except KeyError:
            raise KeyError(f"Spider not found: {spider_name}") from None

    def list(self) -> list[str]:
        return sorted(self.sources)

    def find_by_request(self, request) -> list[str]:
        return []
