"""Which links continue the page's own listing or thread, so the crawl follows them at the same level.

A market paginated with "Next" would otherwise spend one level of `max_depth` per listing page. A link
continues the page when it says so (`rel="next"`, a "Next" / "›" / "اگلا" text), or when its URL is the page's
URL with another page number: a numbered query parameter (`?page=3`, `&start=50`) or path segment
(`/page/3`, `/page-3`, `/page3`). A bare page number as link text counts only with such a URL, so "2"
linking to another thread is not a continuation.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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


def continues(page_url: str, link_url: str, text: str = "", rel_next: bool = False) -> bool:
    """Whether the link at `link_url` (its `text`, whether it is `rel="next"`) continues the page at `page_url`."""
    if rel_next or is_next_text(text):
        return True
    return urlunsplit(urlsplit(link_url)._replace(fragment="")) != page_url.split("#")[0] \
        and listing_key(link_url) == listing_key(page_url) and _selects_a_page(link_url, page_url)


def _selects_a_page(link_url: str, page_url: str) -> bool:
    """The link's URL names a page number that the page's URL lacks or has differently."""
    def marks(url: str) -> tuple:
        parts = urlsplit(url)
        params = tuple(sorted((k.lower(), v) for k, v in parse_qsl(parts.query) if _page_param(k, v)))
        return params, tuple(PAGE_SEGMENT.findall(parts.path.rstrip("/")))
    link = marks(link_url)
    return any(link) and link != marks(page_url)
