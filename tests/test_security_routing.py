"""Security: a hostile site cannot choose nigran's route, scheme, scope or time (issue #18, defects 1, 2, 5, 6, 7, 15).

The Tor tests run through the private Tor network with listeners on the ports the hostile pages aim at;
`clearnet.test` is mapped to 127.0.0.1 by the network's exit, so the hostile site is reached through Tor.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from scrapy.utils.test import get_crawler
from sqlalchemy import select

from nigran.config.schema import parse_sources
from nigran.crawler.middlewares import OutOfScope, ScopeMiddleware
from nigran.spiders.loader import spider_class
from nigran.storage.bodies import BodyStore
from nigran.storage.db import Database
from nigran.storage.models import Capture, Run
from tests.support.run import REPO, nigran, sources_file, tor_env

CANARY = "nigran-canary-7f3a91"  # an environment value that /proc/self/environ would carry into evidence


def captures(db_url: str) -> list[Capture]:
    with Database(db_url).session() as s:
        return list(s.scalars(select(Capture)))


def crawler_for(source: dict):
    [parsed] = parse_sources({"sources": [source]}, "test")
    from nigran.crawler import settings

    values = {k: getattr(settings, k) for k in dir(settings) if k.isupper()}
    crawler = get_crawler(spider_class(parsed), values)
    crawler.spider = crawler.spidercls.from_crawler(crawler)
    return crawler


# --- 1, 2: no scheme but http(s), no local file -----------------------------------------------------

@pytest.mark.parametrize("url", ["ftp://shop.example/x", "file://shop.example/proc/self/environ", "file:///etc/passwd",
                                 "s3://shop.example/bucket/key", "data:text/html,<p>x</p>", "gopher://shop.example/1",
                                 "http://other.example/", "http://shop.example%2eother/", "HTTP://SHOP.EXAMPLE./ok"])
def test_security_scope_middleware_refuses_every_scheme_but_http_and_every_other_host(url):
    crawler = crawler_for({"name": "shop", "via": "direct", "start_urls": ["http://shop.example/"]})
    from scrapy import Request

    if url.startswith("HTTP://"):  # another spelling of the source's own host: in scope, sent canonical
        assert ScopeMiddleware.from_crawler(crawler).process_request(Request(url)).url == "http://shop.example/ok"
        return
    with pytest.raises(OutOfScope):
        ScopeMiddleware.from_crawler(crawler).process_request(Request(url))
    assert crawler.stats.get_value("nigran/refused") == 1


def test_security_no_download_handler_but_http_and_https():
    crawler = crawler_for({"name": "shop", "via": "direct", "start_urls": ["http://shop.example/"]})
    handlers = crawler.settings.getdict("DOWNLOAD_HANDLERS")
    assert {k for k, v in handlers.items() if v} == {"http", "https"}
    assert {"file", "ftp", "s3", "data"} <= {k for k, v in handlers.items() if v is None}
    browser = crawler_for({"name": "shop", "via": "direct", "render": "browser", "start_urls": ["http://shop.example/"]})
    assert {k for k, v in browser.settings.getdict("DOWNLOAD_HANDLERS").items() if v} == {"http", "https"}


@pytest.mark.tor
def test_security_links_to_other_schemes_open_no_connection_through_tor(tmp_path, home, tornet, hostile_site,
                                                                        resolver_spy):
    spy_env, resolved = resolver_spy
    db_url = f"sqlite:///{home / 'n.db'}"
    sources = sources_file(tmp_path, [{
        "name": "hostile", "via": "tor", "max_depth": 2, "max_pages": 30, "timeout": 30,
        "start_urls": [f"http://clearnet.test:{hostile_site.port}/schemes"],
        "allowed_domains": ["clearnet.test", "localhost", "127.0.0.1"]}])
    result = nigran("crawl", "--sources", sources, "--db", db_url, "--json",
                    env=tor_env(tornet, NIGRAN_CANARY=CANARY, **spy_env), timeout=180)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    assert hostile_site.connections() == {"ftp": 0, "gopher": 0, "s3": 0, "internal": 0}
    stored = captures(db_url)
    assert [c.url for c in stored] == [f"http://clearnet.test:{hostile_site.port}/schemes"]
    assert {c.transport for c in stored} == {"tor"}
    names = set(resolved.read_text().split())
    assert not names & {"localhost", "clearnet.test"}, names  # nothing was looked up locally either
    bodies = BodyStore(home / "bodies")
    assert all(CANARY.encode() not in bodies.get(c.body_sha256) for c in stored)  # no local file became evidence
    assert sum(f.stat().st_size for f in (home / "bodies").rglob("*") if f.is_file()) < 1_000_000  # no /dev/zero


# --- 5: one deadline per response, and SIGTERM stops a crawl ----------------------------------------

def test_security_trickling_server_cannot_hold_a_crawl(tmp_path, home, hostile_site):
    sources = sources_file(tmp_path, [{"name": "trickle", "via": "direct", "max_depth": 0, "timeout": 3,
                                       "start_urls": [f"{hostile_site.url}/trickle-head",
                                                      f"{hostile_site.url}/trickle-body"]}])
    began = time.monotonic()
    result = nigran("crawl", "--sources", sources, "--db", f"sqlite:///{home / 'n.db'}", timeout=120)
    took = time.monotonic() - began
    stderr = result.stderr.decode()
    assert result.returncode == 1, stderr
    assert took < 45, f"a 3 s timeout took {took:.0f} s"  # 3 tries of 3 s each, plus start-up
    for path in ("/trickle-head", "/trickle-body"):
        assert f"{path} failed: Getting {hostile_site.url}{path} took longer than 3.0 seconds" in stderr, stderr


def test_security_sigterm_stops_a_crawl_stuck_on_a_slow_server(tmp_path, home, hostile_site):
    db_url = f"sqlite:///{home / 'n.db'}"
    sources = sources_file(tmp_path, [{"name": "stuck", "via": "direct", "max_depth": 0, "timeout": 300,
                                       "start_urls": [f"{hostile_site.url}/trickle-body"]}])
    hostile_site.hits.clear()
    crawl = subprocess.Popen([sys.executable, "-m", "nigran.crawler", "crawl", "--sources", sources, "--db", db_url],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60
        while "/trickle-body" not in hostile_site.hits:
            assert time.monotonic() < deadline and crawl.poll() is None, "the crawl never reached the slow page"
            time.sleep(0.2)
        time.sleep(1)
        crawl.send_signal(signal.SIGTERM)
        began = time.monotonic()
        crawl.wait(30)
        assert time.monotonic() - began < 10, "SIGTERM waited for the slow server"
    finally:
        crawl.kill()
        crawl.communicate()
    with Database(db_url).session() as s:
        [run] = s.scalars(select(Run)).all()
        assert run.status == "interrupted" and run.ended_at is not None


# --- 6: an onion name however spelt goes through Tor -------------------------------------------------

@pytest.mark.tor
@pytest.mark.parametrize("spelling", ["trailing-dot", "upper-case-and-trailing-dot"])
def test_security_onion_name_spelt_otherwise_still_goes_through_tor(tmp_path, home, tornet, demo_sites,
                                                                    resolver_spy, spelling):
    spy_env, resolved = resolver_spy
    onion = tornet.onion("market")
    host = f"{onion}." if spelling == "trailing-dot" else f"{onion.upper()}."
    db_url = f"sqlite:///{home / 'n.db'}"
    sources = sources_file(tmp_path, [{"name": "odd-onion", "via": "direct", "max_depth": 0, "max_pages": 1,
                                       "timeout": 30,
                                       "start_urls": [f"http://{host}/"]}])
    result = nigran("crawl", "--sources", sources, "--db", db_url, env=tor_env(tornet, **spy_env), timeout=180)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    stored = captures(db_url)
    assert stored and {c.transport for c in stored} == {"tor"}
    assert onion not in resolved.read_text().lower()


# --- 7: every redirect hop stays in the source's scope -----------------------------------------------

def test_security_start_url_redirect_to_another_host_is_not_followed(tmp_path, home, hostile_site):
    db_url = f"sqlite:///{home / 'n.db'}"
    sources = sources_file(tmp_path, [{"name": "forger", "via": "direct", "max_depth": 1,
                                       "start_urls": [f"{hostile_site.url}/redirect-out"]}])
    result = nigran("crawl", "--sources", sources, "--db", db_url, timeout=120)
    assert hostile_site.connections()["internal"] == 0
    stored = captures(db_url)
    assert [(c.url, c.status) for c in stored] == [(f"{hostile_site.url}/redirect-out", 302)]  # the redirect is kept
    assert "outside the source's domains" in result.stderr.decode() + (home / "logs" / "run-1.log").read_text()


# --- 15: the real route of every capture -------------------------------------------------------------

@pytest.mark.tor
@pytest.mark.browser
def test_security_browser_captures_through_tor_record_tor_and_their_circuit(tmp_path, home, tornet, js_shop):
    db_url = f"sqlite:///{home / 'n.db'}"
    sources = sources_file(tmp_path, [{"name": "js-route", "kind": "market", "render": "browser", "max_depth": 0,
                                       "timeout": 60, "start_urls": [f"http://{tornet.onion('jsshop')}/"]}])
    result = nigran("crawl", "--sources", sources, "--db", db_url, "--json", env=tor_env(tornet), timeout=300)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    stored = captures(db_url)
    assert {c.kind for c in stored} == {"http", "dom", "screenshot"}
    assert {c.transport for c in stored} == {"tor"}
    assert all(c.circuit_id for c in stored), [(c.kind, c.circuit_id) for c in stored]
