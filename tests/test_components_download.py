"""The download handler's contract, which nigran's evidence and Tor routing rest on.

Scrapy marks its httpx handler experimental, and nigran pins Scrapy to the minor version these tests passed
on (pyproject.toml). If an upgrade changes what the handler does, these fail before any evidence is wrong:
- each request goes through the proxy in its own `meta["proxy"]`, with that request's credentials (one Tor
  circuit per source), and sends the host name to the proxy, so names resolve inside Tor, never locally;
- the body handed to nigran is the bytes the server sent, still gzip-encoded: the capture hashes what was
  received, and decompression happens later, in Scrapy's middleware.
"""
from __future__ import annotations

import gzip

import pytest
from scrapy import Request
from scrapy.utils.misc import build_from_crawler

from nigran.crawler.download import DeadlineDownloadHandler
from tests.support.components import crawler_for, run_loop
from tests.support.fixture_server import FixtureServer
from tests.support.socks import SocksProxy

PAGE = "<html><body>CNIC copies, 500 PKR each</body></html>".encode()
GZIPPED = gzip.compress(PAGE, mtime=0)


@pytest.fixture
def site():
    gzipped = {"Content-Type": "text/html", "Content-Encoding": "gzip"}
    with FixtureServer(lambda request: (200, gzipped, GZIPPED)) as server:
        yield server.port


def download(*requests: Request):
    crawler = crawler_for({"name": "shop", "via": "direct"}, None)
    handler = build_from_crawler(DeadlineDownloadHandler, crawler)

    async def fetch_all():
        try:
            return [await handler.download_request(r) for r in requests]
        finally:
            await handler.close()

    return run_loop(fetch_all())


def test_each_request_uses_its_own_socks_credentials_and_sends_the_host_name(site):
    with SocksProxy() as tor:
        responses = download(*(Request(f"http://{name}.example:{site}/",
                                       meta={"proxy": f"socks5://nigran-{name}:0@127.0.0.1:{tor.port}"})
                               for name in ("market", "forum")))
    assert [r.status for r in responses] == [200, 200]
    assert [(c.user, c.host, c.by_name, c.port) for c in tor.connects] == [
        ("nigran-market", "market.example", True, site), ("nigran-forum", "forum.example", True, site),
    ], "the httpx handler no longer sends each request's proxy and host name as nigran needs: check the Scrapy upgrade"


def test_the_body_is_the_bytes_received_before_decompression(site):
    [response] = download(Request(f"http://127.0.0.1:{site}/"))
    assert response.headers[b"Content-Encoding"] == b"gzip"
    assert response.body == GZIPPED, "the httpx handler decoded the body: captures would not hash what was received"
