"""Item pipeline: store posts (identifiers masked) and their offers; a re-sighting updates, never duplicates."""
from __future__ import annotations

from datetime import datetime, timezone

from crawler.runtime import recorder_for
from pipelines.redact import redact

STORED_KINDS = ("offer", "request")


class StorePipeline:
    def __init__(self, crawler):
        self.stats = crawler.stats
        self.recorder = recorder_for(crawler)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item):
        seen_at = item.get("fetched_at") or datetime.now(timezone.utc)
        post = self.recorder.post(
            source=item["source"], post_key=item["post_key"], capture_id=item["capture_id"], seen_at=seen_at,
            url=item["url"], title=redact(item.get("title")), author=redact(item.get("author")),
            posted_at=item.get("posted_at"), text=redact(item["text"]), extra=item.get("extra") or {})
        self.stats.inc_value("nigran/posts")
        self.stats.inc_value("nigran/posts_new" if post.new else "nigran/posts_updated")
        ex = item.get("extraction")
        if ex is not None and ex.kind in STORED_KINDS:
            offer = self.recorder.offer(
                post_id=post.id, source=item["source"], seen_at=seen_at, kind=ex.kind,
                categories=list(ex.categories), prices=[{"amount": p.amount, "currency": p.currency} for p in ex.prices],
                contacts=[{"type": c.type, "value": c.value} for c in ex.contacts], volume=ex.volume,
                identifiers=[(i.type, i.value) for i in ex.identifiers])
            self.stats.inc_value("nigran/offers_new" if offer.new else "nigran/offers_updated")
        return item
