"""What spiders hand to pipelines."""
from __future__ import annotations

import scrapy


class PostItem(scrapy.Item):
    """One post cut from a captured page. `capture_id` ties it to the evidence it came from."""

    source = scrapy.Field()
    post_key = scrapy.Field()  # stable within the source; channel/message_id for Telegram
    url = scrapy.Field()
    title = scrapy.Field()
    author = scrapy.Field()
    posted_at = scrapy.Field()  # timezone-aware UTC datetime or None
    text = scrapy.Field()
    price_text = scrapy.Field()
    extra = scrapy.Field()  # kind-specific details (Telegram views, forwards...)
    capture_id = scrapy.Field()
    fetched_at = scrapy.Field()
    extraction = scrapy.Field()  # set by the extraction pipeline
