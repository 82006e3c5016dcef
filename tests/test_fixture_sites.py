"""The fixture sites of #14 behave as the crawl tests rely on: the guard pages (a queue waited out with a
single-use token, a queue too long to wait, a captcha nobody passes) and two mirrors of which the first dies."""
from __future__ import annotations

import base64
import http.client
import re
import socket
import struct
import time
import zlib
from urllib.parse import urlsplit

import httpx2
import pytest

from tests.support.guard_site import QUEUE_WAIT
from tests.support.mirror_market import MirrorMarket

QUEUE_TEXT = "You are in queue, please wait. This page refreshes automatically."
REFRESH = re.compile(r"<meta http-equiv=.refresh. content=.(\d+);url=([^'\"]+).>")


def get(base: str, path: str, cookie: str = "", method: str = "GET", body: bytes | None = None):
    """(status, headers, text) of one request to `base`, redirects not followed."""
    conn = http.client.HTTPConnection(urlsplit(base).hostname, urlsplit(base).port, timeout=10)
    try:
        conn.request(method, path, body=body, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        return response.status, response.headers, response.read().decode()
    finally:
        conn.close()


def queued(base: str, path: str, cookie: str = "") -> tuple[int, str]:
    """The wait and the refresh URL of the queue page `path` answers (asserting it is one)."""
    status, _, text = get(base, path, cookie)
    assert status == 200 and "<title>Queue</title>" in text and QUEUE_TEXT in text
    wait, url = REFRESH.search(text).groups()
    return int(wait), url


# ----- the guard site

def test_without_a_pass_short_pages_are_the_queue_and_an_early_token_queues_again(guard_site):
    guard_site.reset()
    wait, url = queued(guard_site.base, "/short/item/2")
    assert wait == 2 and url.startswith("/short/?queue_token=")
    assert queued(guard_site.base, url) == (2, url)  # too early: the same queue page, the same token
    for path in ("/short/", "/short/?queue_token=made-up", "/short/?queue_token=%00%ff%fe",
                 "/short/?queue_token=" + "A" * 20_000, "/short/?queue_token=&queue_token=x"):
        assert queued(guard_site.base, path)[1] not in (url, path)  # a fresh visit each
    queued(guard_site.base, "/short/", cookie="dcap=forged; other=1")
    assert guard_site.hits("short") == 8 and guard_site.hits("/short/") == 8 and guard_site.passes("short") == 0
    assert get(guard_site.base, "/elsewhere")[0] == 404
    assert len(guard_site.server.requests) == 9
    guard_site.reset()
    assert guard_site.hits("short") == 0 and guard_site.server.requests == []


@pytest.fixture(scope="module")
def short_pass(guard_site):
    """(token URL, the answer to it) for a queue visit to /short/item/2 waited out."""
    guard_site.reset()
    _, url = queued(guard_site.base, "/short/item/2")
    time.sleep(QUEUE_WAIT["short"])
    return url, get(guard_site.base, url)


def test_a_waited_out_token_sets_the_pass_cookie_and_goes_back_to_the_wanted_page(guard_site, short_pass):
    _, (status, headers, _) = short_pass
    assert status == 302 and headers["Location"] == "/short/item/2"
    assert re.fullmatch(r"dcap=[\w-]{16,}; Path=/; HttpOnly", headers["Set-Cookie"])
    assert guard_site.passes("short") == 1


def test_the_pass_cookie_opens_the_market(guard_site, short_pass):
    cookie = short_pass[1][1]["Set-Cookie"].split(";")[0]
    hits = guard_site.hits("short")
    status, _, listing = get(guard_site.base, "/short/", cookie)
    assert status == 200 and re.findall(r"href='(/short/item/\d)'", listing) == [f"/short/item/{n}" for n in (1, 2, 3)]
    for n in (1, 2, 3):
        status, _, item = get(guard_site.base, f"/short/item/{n}", cookie, method="POST", body=b"\xff\x00")
        assert status == 200 and f"CNIC copy front and back, Rs {400 + 100 * n}, telegram @seller_00{n}" in item
    assert get(guard_site.base, "/short/item/4", cookie)[0] == 404
    assert guard_site.hits("short") == hits
    assert queued(guard_site.base, "/long/", cookie)[0] == 300  # a pass opens its own scenario only
    assert "name='captcha'" in get(guard_site.base, "/captcha/", cookie)[2]


def test_a_queue_token_is_single_use(guard_site, short_pass):
    url = short_pass[0]
    assert queued(guard_site.base, url)[1] != url
    assert guard_site.passes("short") == 1


def test_the_long_queue_asks_for_300_seconds_and_holds_its_token(guard_site):
    guard_site.reset()
    wait, url = queued(guard_site.base, "/long/item/1")
    assert wait == 300 and url.startswith("/long/?queue_token=")
    assert queued(guard_site.base, url) == (300, url)
    assert guard_site.hits("long") == 2 and guard_site.passes("long") == 0


def _png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG whose every chunk checks out and whose pixels decompress whole."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = {}, 8
    while at < len(data):
        (length,), kind = struct.unpack(">I", data[at:at + 4]), data[at + 4:at + 8]
        payload, (crc,) = data[at + 8:at + 8 + length], struct.unpack(">I", data[at + 8 + length:at + 12 + length])
        assert zlib.crc32(kind + payload) == crc
        chunks[kind], at = payload, at + 12 + length
    width, height = struct.unpack(">II", chunks[b"IHDR"][:8])
    assert list(chunks) == [b"IHDR", b"IDAT", b"IEND"] and len(zlib.decompress(chunks[b"IDAT"])) == height * (width + 1)
    return width, height


def test_the_captcha_never_lets_anyone_through(guard_site):
    guard_site.reset()
    status, _, page = get(guard_site.base, "/captcha/")
    assert status == 200 and "<form class='captcha' method='post' action='/captcha/verify'>" in page
    assert "<input id='captcha' name='captcha'" in page and "<label for='captcha'>Captcha</label>" in page
    image = re.search(r"<img src='data:image/png;base64,([^']+)' alt='captcha'>", page).group(1)
    assert _png_size(base64.b64decode(image)) == (48, 16)
    for body in (b"captcha=ABCDE", b"\x00\xff" * 5000, b""):
        status, headers, again = get(guard_site.base, "/captcha/verify", method="POST", body=body)
        assert status == 200 and again == page and "Set-Cookie" not in headers
    assert get(guard_site.base, "/captcha/item/1")[2] == page
    assert guard_site.hits("captcha") == 5 and guard_site.passes("captcha") == 0


# ----- the mirrors

def test_mirrors_serve_the_same_pages_with_host_relative_links():
    with MirrorMarket(items=7, per_page=3, die_after=None) as market:
        pages = {path: [get(base, path) for base in market.mirrors]
                 for path in ("/listings", "/listings?page=2", "/listings?page=3", "/item/7")}
        for path, (first, second) in pages.items():
            assert first[0] == 200 and first[2] == second[2], path
        listing = pages["/listings"][0][2]
        assert re.findall(r"href='([^']+)'", listing) == ["/listings", "/item/1", "/item/2", "/item/3",
                                                            "/listings?page=2"]
        last = pages["/listings?page=3"][0][2]
        assert "/item/7" in last and "Next" not in last
        assert "Rs 270 per number, telegram @mirror_seller_007" in pages["/item/7"][0][2]
        for path in ("/item/0", "/item/8", "/listings?page=4", "/listings?page=x", "/"):
            assert get(market.primary, path)[0] == 404
        assert market.served(market.primary) == market.served(market.secondary + "/item/7") == {7}
        assert market.answered(market.primary) == 9 and market.answered(market.secondary) == 4
        assert market.items == 7 and market.pages == 3 and not market.dead


def test_the_first_mirror_refuses_connections_after_die_after_answers_the_second_goes_on():
    with MirrorMarket(items=10, per_page=5, die_after=3) as market:
        host, port = urlsplit(market.primary).hostname, urlsplit(market.primary).port
        kept = http.client.HTTPConnection(host, port, timeout=10)
        for n in (1, 2):
            kept.request("GET", f"/item/{n}")
            assert kept.getresponse().read()
        assert get(market.primary, "/item/3")[0] == 200  # the third answer, sent once the mirror is dead
        assert market.dead
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host, port), timeout=5)
        with pytest.raises(ConnectionError):  # a kept-alive connection gets no answer either
            kept.request("GET", "/item/4")
            kept.getresponse()
        kept.close()
        assert all(get(market.secondary, f"/item/{n}")[0] == 200 for n in range(1, 11))
        assert market.served(market.primary) == {1, 2, 3} and market.answered(market.primary) == 3
        assert market.served(market.secondary) == set(range(1, 11))


def test_a_seized_first_mirror_answers_every_path_with_the_banner():
    with MirrorMarket(die_after=2, seized=True) as market:
        assert [get(market.primary, f"/item/{n}")[0] for n in (1, 2)] == [200, 200]
        for path in ("/item/3", "/listings", "/no/such/page"):
            status, _, page = get(market.primary, path)
            assert status == 200 and "THIS HIDDEN SITE HAS BEEN SEIZED" in page
            assert "alt='FIA Cyber Crime Wing logo'" in page and "alt='Europol logo'" in page
        assert market.served(market.primary) == {1, 2} and market.answered(market.primary) == 5
        assert "telegram @mirror_seller_003" in get(market.secondary, "/item/3")[2]


@pytest.mark.parametrize("kwargs, message", [
    ({"items": 0}, "at least one item"), ({"per_page": 0}, "at least one item"), ({"die_after": 0}, "die_after"),
])
def test_a_mirror_market_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MirrorMarket(**kwargs)


def test_only_its_own_mirrors_have_counts():
    with MirrorMarket(items=1, per_page=1) as market:
        with pytest.raises(ValueError, match="not a mirror of this market"):
            market.served("http://127.0.0.1:1/")


# ----- through the private Tor network

@pytest.mark.tor
def test_the_guard_site_is_an_onion_service(tornet, guard_site):
    url, proxy = f"http://{tornet.onion('guard')}/short/", f"socks5://fixture-sites:x@127.0.0.1:{tornet.socks_port}"
    try:
        response = httpx2.get(url, proxy=proxy, timeout=60)
    except httpx2.TransportError:  # onion reachability can blink right after the network starts
        response = httpx2.get(url, proxy=proxy, timeout=60)
    assert response.status_code == 200 and QUEUE_TEXT in response.text
    assert REFRESH.search(response.text).groups()[1].startswith("/short/?queue_token=")
