"""Which links continue the page's own listing or thread, so the crawl follows them at the same level.

A market paginated with "Next" would otherwise spend one level of `max_depth` per listing page. A link
continues the page when it says so (`rel="next"`, a "Next" / "›" / "اگلا" text), or when its URL is the page's
URL with another page number: a numbered query parameter (`?page=3`, `&start=50`) or path segment
(`/page/3`, `/page-3`, `/page3`). A bare page number as link text counts only with such a URL, so "2"
linking to another thread is not a continuation.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

PAGE_PARAMS = frozenset({"page", "pg", "pagenum", "pagenumber", "start", "offset", "st", "pn"})  # with a number
PAGE_SEGMENT = re.compile(r"[/-]page[-/]?\d+(?=/|$)", re.I)
NEXT_TEXTS = frozenset({
    "next", "next page", "next »", "next ›", "next >", "›", "»", ">", ">>", "→", "older", "older posts",
    "more", "load more", "aage", "agla", "agla safha", "اگلا", "اگلا صفحہ", "آگے",
})


def _page_param(key: str, value: str) -> bool:
    return key.lower() in PAGE_PARAMS and value.isdigit()


def listing_key(url: str) -> tuple[str, str, str]:
    """The URL without what selects a page in it: host, path without a page segment, other parameters."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _page_param(k, v)]
    path = PAGE_SEGMENT.sub("", parts.path.rstrip("/")) or "/"
    return parts.netloc.lower(), path, urlencode(sorted(query))


def is_next_text(text: str) -> bool:
    return " ".join(text.split()).lower().strip(" .:") in NEXT_TEXTS


def _marks(url: str) -> tuple:
    """What selects a page in `url`: its numbered page parameters and page segments."""
    parts = urlsplit(url)
    params = tuple(sorted((k.lower(), v) for k, v in parse_qsl(parts.query) if _page_param(k, v)))
    return params, tuple(PAGE_SEGMENT.findall(parts.path.rstrip("/")))


class Listing:
    """The listing or thread a page shows, read once per page; tells which of the page's links continue it."""

    def __init__(self, page_url: str):
        self.url = page_url.split("#")[0]
        self.key, self.marks = listing_key(page_url), _marks(page_url)

    def continued_by(self, link_url: str, text: str = "", rel_next: bool = False) -> bool:
        """Whether the link at `link_url` (its `text`, whether it is `rel="next"`) continues this listing: it
        says so, or it is this listing's URL with another page number in it."""
        if rel_next or is_next_text(text):
            return True
        if link_url.split("#")[0] == self.url or listing_key(link_url) != self.key:
            return False
        marks = _marks(link_url)
        return any(marks) and marks != self.marks
