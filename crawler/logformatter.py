"""Scrapy's item log messages without the items' values.

Scrapy's own formatter writes every scraped, dropped or failed item in full: the post's raw text, with the
CNICs and phone numbers in it. nigran's items are personal data, so they are logged by what identifies the
post (source, post key, capture id), whatever the log level.
"""
from __future__ import annotations

from itemadapter import ItemAdapter
from scrapy.logformatter import LogFormatter


def item_ref(item) -> str:
    """Which post an item is, without what it says."""
    adapter = ItemAdapter(item)
    return f"post {adapter.get('post_key')} of {adapter.get('source')} (capture {adapter.get('capture_id')})"


class ItemRefLogFormatter(LogFormatter):
    """Scrapy's messages for scraped, dropped and failed items, naming the item instead of dumping it."""

    def scraped(self, item, response, spider):
        entry = super().scraped(item, response, spider)
        return {**entry, "msg": "Scraped %(item)s", "args": {"item": item_ref(item)}}

    def dropped(self, item, exception, response, spider):
        entry = super().dropped(item, exception, response, spider)
        return {**entry, "msg": "Dropped %(item)s: %(exception)s",
                "args": {"item": item_ref(item), "exception": type(exception).__name__}}

    def item_error(self, item, exception, response, spider):
        entry = super().item_error(item, exception, response, spider)
        return {**entry, "msg": "Error processing %(item)s", "args": {"item": item_ref(item)}}
