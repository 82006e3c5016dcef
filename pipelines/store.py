"""Item pipeline: store posts (identifiers masked in every stored string) and their offers; a re-sighting updates, never duplicates.

Writes are batched by the recorder; counts (new / updated) are taken when a batch is committed."""
from __future__ import annotations

from abc import ABC
from datetime import datetime, timezone
from functools import partial

from nigran.pipelines.redact import redact, redact_all
from nigran.storage.recorder import OfferData, Recorder, Sighting

STORED_KINDS = ("offer", "request")


def offer_of(ex) -> OfferData | None:
    """What the recorder stores of an extraction: an offer or request, else nothing."""
    if ex is None or ex.kind not in STORED_KINDS:
        return None
    return OfferData(kind=ex.kind, categories=list(ex.categories), volume=ex.volume,
                     prices=[{"amount": p.amount, "currency": p.currency} for p in ex.prices],
                     contacts=[{"type": c.type, "value": c.value} for c in ex.contacts],
                     identifiers=[(i.type, i.value) for i in ex.identifiers])


class CrawlStore(ABC):
    """The extension that holds the crawl's Recorder (nigran's is crawler.runtime.Runtime)."""

    recorder: Recorder


class StorePipeline:
    def __init__(self, crawler):
        self.stats = crawler.stats
        store = crawler.get_extension(CrawlStore)
        if store is None:
            raise RuntimeError("no CrawlStore extension is enabled (EXTENSIONS: crawler.runtime.Runtime)")
        self.recorder = store.recorder

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item):
        sighting = self.recorder.post(
            source=item["source"], post_key=item["post_key"], capture_id=item["capture_id"],
            seen_at=item.get("fetched_at") or datetime.now(timezone.utc), url=item["url"],
            title=redact(item.get("title")), author=redact(item.get("author")), posted_at=item.get("posted_at"),
            text=redact(item["text"]), extra=redact_all(item.get("extra") or {}), offer=offer_of(item.get("extraction")))
        self.recorder.when_committed(partial(self._count, sighting))
        return item

    def _count(self, sighting: Sighting) -> None:
        """Count a post (and its offer) as new or updated once the batch holding them is committed."""
        self.stats.inc_value("nigran/posts")
        self.stats.inc_value("nigran/posts_new" if sighting.post.new else "nigran/posts_updated")
        if sighting.offer is not None:
            self.stats.inc_value("nigran/offers_new" if sighting.offer.new else "nigran/offers_updated")
