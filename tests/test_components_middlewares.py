"""Component tests: nigran's downloader middlewares (crawler/middlewares.py), each built with its crawler's
settings and Runtime (tests/support/components.py), on a real SQLite store."""
from __future__ import annotations

import gzip
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, Response
from sqlalchemy import select

from nigran.crawler.middlewares import (BlockMiddleware, EvidenceMiddleware, OutOfScope, RouteMiddleware,
                                        ScopeMiddleware, TorUnavailable)
from nigran.crawler.runtime import Services
from nigran.crawler.tor import CircuitInfo, TorAccess, TorSession, socks_user
from nigran.storage.models import Capture
from nigran.storage.utc import retry_after
from tests.support.components import crawler_for, recorder_in, run_loop

ONION = "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion"


def tor_session() -> TorSession:
    """A TorSession not connected to a tor: routing reads only its SOCKS address and the circuits it saw."""
    return TorSession(socks=("127.0.0.1", 9050), controller=None)


@pytest.fixture
def services(home):
    recorder = recorder_in(home)
    yield Services(recorder, recorder.start_run("manual"))
    recorder.close()


def with_tor(services: Services, session: TorSession | None, error: str = "") -> Services:
    return Services(services.recorder, services.run_id, TorAccess(session, error))


# --- ScopeMiddleware ----------------------------------------------------------------------------------

def test_scope_sends_subdomains_canonical_and_refuses_a_start_page_of_another_host(services):
    crawler = crawler_for({"name": "m", "via": "tor", "start_urls": [f"http://{ONION}/"]}, services)
    scope = ScopeMiddleware.from_crawler(crawler)
    assert scope.process_request(Request(f"http://forum.{ONION.upper()}./t/1")).url == f"http://forum.{ONION}/t/1"
    assert scope.process_request(Request(f"http://{ONION}/a")) is None  # already canonical: sent as it is
    with pytest.raises(OutOfScope):  # dont_filter (start URLs, their redirects) passes Scrapy's offsite filter
        scope.process_request(Request("http://tracker.example/", dont_filter=True))
    assert crawler.stats.get_value("nigran/refused") == 1


# --- RouteMiddleware ----------------------------------------------------------------------------------

def test_route_sends_tor_sources_and_onions_through_the_sources_socks_credentials(services):
    session = tor_session()
    session.generations["shop"] = 3  # after three circuit renewals
    crawler = crawler_for({"name": "shop", "via": "direct"}, with_tor(services, session))
    route = RouteMiddleware.from_crawler(crawler)
    clearnet, onion = Request("http://shop.example/"), Request(f"http://{ONION}/")
    for request in (clearnet, onion):
        route.process_request(request)
    assert clearnet.meta["transport"] == "direct" and "proxy" not in clearnet.meta
    assert onion.meta == {"transport": "tor", "proxy": "socks5://nigran-shop:3@127.0.0.1:9050"}


def test_route_drops_a_proxy_a_direct_request_carries():
    crawler = crawler_for({"name": "shop", "via": "direct"}, Services(None))
    request = Request("http://shop.example/", meta={"proxy": "http://evil.example:3128"})
    RouteMiddleware.from_crawler(crawler).process_request(request)
    assert request.meta == {"transport": "direct"}


def test_route_fails_closed_without_tor_and_reports_it_once(services, caplog):
    crawler = crawler_for({"name": "hidden", "via": "tor"}, with_tor(services, None, "tor's SOCKS port refuses"))
    route = RouteMiddleware.from_crawler(crawler)
    for path in ("/a", "/b"):
        request = Request(f"http://shop.example{path}")
        with pytest.raises(TorUnavailable):
            route.process_request(request)
        assert "proxy" not in request.meta
    assert crawler.stats.get_value("nigran/errors") == 1
    assert crawler.stats.get_value("nigran/failure") == "Tor unavailable: tor's SOCKS port refuses"
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        "source hidden: Tor unavailable: tor's SOCKS port refuses; nothing is sent directly"]


# --- BlockMiddleware ----------------------------------------------------------------------------------

def page(status: int = 200, body: bytes = b"<html><body>offers</body></html>", **headers) -> HtmlResponse:
    return HtmlResponse("http://shop.example/", status=status, body=body, headers=headers)


@pytest.mark.parametrize("response, blocked", [
    (page(429), True), (page(503), True), (page(403), True), (page(404), False), (page(500), False),
    (page(body=b"<p>Access Denied</p>"), True), (page(body=b"offers " * 10 + b"rate limit"), True),
    (page(body=b"x" * 20000 + b"rate limit"), False),  # a long page that mentions a rate limit is a page
    (page(302, body=b"access denied"), False),
    (page(body=b"Please solve the CAPTCHA"), False),  # a guard: crawler/guard.py stops the source instead
])
def test_block_rules(response, blocked):
    crawler = crawler_for({"name": "shop", "via": "tor"}, Services(None))
    assert BlockMiddleware.from_crawler(crawler).blocked(response) is blocked


def test_block_does_nothing_on_direct_routes_or_without_a_tor_session(services):
    crawler = crawler_for({"name": "shop", "via": "direct"}, with_tor(services, None, "no Tor"))
    block = BlockMiddleware.from_crawler(crawler)
    blocked = page(429, **{"Retry-After": "60"})
    for transport in ("direct", "tor"):
        request = Request("http://shop.example/", meta={"transport": transport})
        assert run_loop(block.process_response(request, blocked)) is blocked
    assert crawler.stats.get_value("nigran/block_retries") is None


@pytest.mark.parametrize("header, wait", [
    (b"120", 120.0), (b" 7 ", 7.0), (b"Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date gone by: no wait
    (None, None), (b"soon", None), (b"-5", None), (b"1e9", None),
])
def test_retry_after_reads_seconds_and_http_dates_once_for_every_transport(header, wait):
    assert retry_after(header) == wait


def test_retry_after_counts_down_to_an_http_date_in_the_future():
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=90), usegmt=True).encode()
    assert 85 <= retry_after(later) <= 90


# --- EvidenceMiddleware -------------------------------------------------------------------------------

def stored(services: Services) -> tuple[Capture, bytes]:
    services.recorder.flush()
    with services.recorder.db.session() as s:
        [capture] = s.scalars(select(Capture)).all()
        s.expunge(capture)
    return capture, services.recorder.bodies.get(capture.body_sha256)


def test_evidence_stores_the_body_exactly_as_received_with_its_route(services):
    session = tor_session()
    session.circuits[socks_user("market")] = CircuitInfo("17", "A" * 40)
    tor_services = with_tor(services, session)
    crawler = crawler_for({"name": "market", "via": "tor"}, tor_services)
    raw = gzip.compress(b"<html><body>CNIC records for sale</body></html>")
    request = Request("http://shop.example/list", meta={"transport": "tor", "download_latency": 1.5})
    response = Response("http://shop.example/list", status=200, body=raw, request=request,
                        headers={"Content-Encoding": "gzip", "Content-Type": "text/html"})
    assert EvidenceMiddleware.from_crawler(crawler).process_response(request, response) is response
    capture, body = stored(tor_services)
    assert body == raw
    assert (capture.url, capture.status, capture.transport, capture.circuit_id, capture.exit_fingerprint,
            capture.run_id) == ("http://shop.example/list", 200, "tor", "17", "A" * 40, services.run_id)
    assert ["Content-Encoding", "gzip"] in capture.headers
    assert request.meta["capture_id"] == capture.id  # what the spider's posts cite
    assert crawler.stats.get_value("nigran/captures") == crawler.stats.get_value("nigran/pages_ok") == 1


def test_evidence_keeps_error_pages_and_redirects_too(services):
    crawler = crawler_for({"name": "shop", "via": "direct"}, services)
    evidence = EvidenceMiddleware.from_crawler(crawler)
    for status in (302, 404):
        request = Request(f"http://shop.example/{status}", meta={"transport": "direct"})
        evidence.process_response(request, Response(request.url, status=status, body=b"gone", request=request))
    services.recorder.flush()
    with services.recorder.db.session() as s:
        assert sorted((c.status, c.transport) for c in s.scalars(select(Capture))) == [(302, "direct"),
                                                                                       (404, "direct")]
    assert crawler.stats.get_value("nigran/captures") == 2 and crawler.stats.get_value("nigran/pages_ok") is None
