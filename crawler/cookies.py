"""Scrapy's cookie jar, without its one network fetch.

Scrapy's CookiesMiddleware asks tldextract whether a cookie's domain is a public suffix, and tldextract's
default first downloads the Public Suffix List from GitHub: a local DNS lookup and a direct HTTPS request
from inside a crawl that must send nothing outside its route. Here the same question is answered from the
list snapshot tldextract ships, and nothing is ever fetched.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from scrapy.downloadermiddlewares.cookies import CookiesMiddleware
from tldextract import TLDExtract

# suffix_list_urls=() : tldextract's documented way to never make an HTTP request (the bundled snapshot)
_OFFLINE = TLDExtract(suffix_list_urls=(), include_psl_private_domains=True, cache_dir=None)


def is_public_suffix(domain: str) -> bool:
    """True for a public suffix such as `co.uk` or `github.io`, where no site may set a cookie for others."""
    return not _OFFLINE(domain).domain


class OfflineCookiesMiddleware(CookiesMiddleware):
    """Scrapy's cookie handling (one jar per crawler, so per source), its public-suffix rule answered offline:
    a cookie for a public suffix is kept only for a request to exactly that host."""

    def _process_cookies(self, cookies, *, jar, request) -> None:
        host = (urlsplit(request.url).hostname or "").lower()
        if not host:
            return
        for cookie in cookies:
            domain = cookie.domain.removeprefix(".")
            if domain and is_public_suffix(domain):
                if domain != host:
                    continue
                cookie.domain = host
            jar.set_cookie_if_ok(cookie, request)
