"""Crawling through Tor on a private Tor network on loopback: onion services, isolation, renewal, fail-closed."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select
from stem import StreamStatus
from stem.control import Controller, EventType
from warcio.archiveiterator import ArchiveIterator

from nigran.crawler.tor import stream_user
from nigran.storage.db import Database
from nigran.storage.models import Capture, Offer, Post
from tests.support.run import REPO, nigran, onion_source, sources_file, tor_env

pytestmark = pytest.mark.tor


def test_onion_market_crawl_end_to_end_with_route_recorded(tmp_path, home, db_url, tornet, demo_sites, resolver_spy):
    spy_env, resolved = resolver_spy
    sources = sources_file(tmp_path, [onion_source(tornet, "market", demo_sites)])
    demo_sites.clear_log()
    result = nigran("crawl", "--sources", sources, "--db", db_url, "--json",
                    env=tor_env(tornet, **spy_env), timeout=300)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    db = Database(db_url)
    with db.session() as s:
        captures = s.scalars(select(Capture)).all()
        assert captures and {c.transport for c in captures} == {"tor"}
        assert all(c.circuit_id for c in captures[1:])  # known once tor reported the first stream
        assert s.scalar(select(func.count()).select_from(Post)) == 20
        assert s.scalar(select(func.count()).select_from(Offer)) > 0
    assert len(demo_sites.access_log["market"]) == len(captures)  # every page came in through the onion service
    onion = tornet.onion("market")
    assert onion not in resolved.read_text()  # never asked the local resolver

    status = nigran("tor", "status", "--json", env=tor_env(tornet))
    assert status.returncode == 0, status.stderr.decode()
    info = json.loads(status.stdout)
    assert info["bootstrap"] == 100 and info["socks_ok"] and info["version"].startswith("0.4")
    assert "demo-market" in info["sources"] and info["sources"]["demo-market"][0]["path"]


def test_warcinfo_names_the_socks_port_given_on_the_command_line(tmp_path, home, tornet, demo_sites):
    sources = sources_file(tmp_path, [onion_source(tornet, "market", demo_sites, max_pages=2)])
    result = nigran("crawl", "--sources", sources, "--db", f"sqlite:///{home / 'n.db'}",
                    "--tor-socks", f"127.0.0.1:{tornet.socks_port}", "--tor-control", f"127.0.0.1:{tornet.control_port}",
                    env={"NIGRAN_TOR_SOCKS": "", "NIGRAN_TOR_CONTROL": ""}, timeout=300)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    [warc] = (home / "warc").glob("*.warc.gz")
    with warc.open("rb") as fh:
        info = next(iter(ArchiveIterator(fh)))
        fields = info.content_stream().read().decode()
    assert info.rec_type == "warcinfo"
    assert f"tor-socks: 127.0.0.1:{tornet.socks_port}\r\n" in fields


def test_clearnet_names_resolve_inside_tor(tmp_path, home, tornet, demo_sites, resolver_spy):
    spy_env, resolved = resolver_spy
    port = demo_sites.ports["paste"]
    sources = sources_file(tmp_path, [{"name": "via-exit", "via": "tor", "max_depth": 1, "max_pages": 5,
                                       "start_urls": [f"http://clearnet.test:{port}/"]}])
    result = nigran("crawl", "--sources", sources, "--db", f"sqlite:///{home / 'n.db'}",
                    env=tor_env(tornet, **spy_env), timeout=300)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    assert "clearnet.test" not in resolved.read_text()  # the exit resolved it (MapAddress), not this machine


def test_two_sources_at_once_use_different_circuits(tmp_path, home, tornet, demo_sites):
    streams: dict[str, set[str]] = {}

    def on_stream(event):
        user = stream_user(event)
        if event.status == StreamStatus.SUCCEEDED and user.startswith("nigran-"):
            streams.setdefault(user, set()).add(event.circ_id)

    with Controller.from_port(port=tornet.control_port) as controller:
        controller.authenticate()
        controller.add_event_listener(on_stream, EventType.STREAM)
        sources = sources_file(tmp_path, [onion_source(tornet, "market", demo_sites, max_pages=15),
                                          onion_source(tornet, "forum", demo_sites, max_pages=15)])
        result = nigran("crawl", "--sources", sources, "--db", f"sqlite:///{home / 'n.db'}",
                        env=tor_env(tornet), timeout=300)
        time.sleep(1)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    market, forum = streams.get("nigran-demo-market", set()), streams.get("nigran-demo-forum", set())
    assert market and forum and not market & forum


def test_blocked_source_renews_its_circuit_and_finishes(tmp_path, home, tornet, block_site):
    block_site.log.clear()
    sources = sources_file(tmp_path, [{"name": "blocky", "max_depth": 2, "max_pages": 12,
                                       "start_urls": [f"http://{tornet.onion('blocky')}/item/0.html"]}])
    started = time.monotonic()
    result = nigran("crawl", "--sources", sources, "--db", f"sqlite:///{home / 'n.db'}", "--json",
                    env=tor_env(tornet), timeout=300)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    statuses = [status for _, status in block_site.log]
    assert statuses.count(429) == 2 and statuses.count(200) == 12  # every page in the end
    log = (home / "logs" / "run-1.log").read_text()
    renewals = len(re.findall(r"source blocky: renewed Tor circuit", log))
    assert 1 <= renewals <= 1 + elapsed / 10  # never more often than tor's NEWNYM rate
    with Database(f"sqlite:///{home / 'n.db'}").session() as s:
        assert s.scalar(select(func.count()).select_from(Capture).where(Capture.status == 429)) == 2  # evidence too


def test_socks_port_refusing_fails_closed(tmp_path, home, tornet, demo_sites):
    sources = sources_file(tmp_path, [onion_source(tornet, "market", demo_sites)])
    demo_sites.clear_log()
    result = nigran("crawl", "--sources", sources, "--db", f"sqlite:///{home / 'n.db'}",
                    env=tor_env(tornet, NIGRAN_TOR_SOCKS="127.0.0.1:9"), timeout=120)
    assert result.returncode == 1
    assert "source demo-market: Tor unavailable: tor's SOCKS port 127.0.0.1:9 refuses connections" in \
        result.stderr.decode()
    assert demo_sites.access_log["market"] == []


def test_tor_stopped_before_the_crawl_fails_closed(tmp_path, home, tornet, demo_sites, resolver_spy):
    spy_env, resolved = resolver_spy
    db_url = f"sqlite:///{home / 'n.db'}"
    sources = sources_file(tmp_path, [onion_source(tornet, "market", demo_sites, max_pages=3)])
    assert nigran("crawl", "--sources", sources, "--db", db_url, env=tor_env(tornet), timeout=300).returncode == 0
    with Database(db_url).session() as s:
        before = s.scalars(select(Capture.body_sha256).order_by(Capture.id)).all()
    demo_sites.clear_log()
    tornet.stop_client()
    try:
        result = nigran("crawl", "--sources", sources, "--db", db_url, env=tor_env(tornet, **spy_env), timeout=120)
    finally:
        tornet.start_client()
    assert result.returncode == 1
    assert "source demo-market: Tor unavailable: cannot use tor's control port" in result.stderr.decode()
    assert demo_sites.access_log["market"] == []  # no connection at all, direct or otherwise
    assert tornet.onion("market") not in resolved.read_text()
    with Database(db_url).session() as s:
        assert s.scalars(select(Capture.body_sha256).order_by(Capture.id)).all() == before


def test_tor_killed_mid_crawl_stops_the_source_and_keeps_what_was_stored(tmp_path, home, tornet, demo_sites):
    db_url = f"sqlite:///{home / 'n.db'}"
    sources = sources_file(tmp_path, [onion_source(tornet, "market", demo_sites, download_delay=0.5, concurrency=1)])
    proc = subprocess.Popen([sys.executable, "-m", "nigran.crawler", "crawl", "--sources", sources, "--db", db_url],
                            cwd=REPO, env={**os.environ, **tor_env(tornet)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    db = Database(db_url)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with db.session() as s:
                if s.scalar(select(func.count()).select_from(Capture)) >= 4:
                    break
            time.sleep(0.3)
        tornet.stop_client(signal.SIGKILL)
        killed_at = len(demo_sites.access_log["market"])
        with db.session() as s:
            stored = set(s.scalars(select(Capture.body_sha256)))
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
        tornet.start_client()
    assert proc.returncode == 1, err.decode()[-3000:]
    assert "Tor stopped during the crawl" in err.decode()
    assert len(demo_sites.access_log["market"]) <= killed_at + 1  # at most the request already in flight
    with db.session() as s:
        captures = s.scalars(select(Capture)).all()
    assert len(stored) >= 4 and stored <= {c.body_sha256 for c in captures}  # nothing stored before was lost
    assert {c.transport for c in captures} == {"tor"}


CLIENT_OPTIONS = ("TestingTorNetwork", "DirAuthority", "PathsNeededToBuildCircuits", "LearnCircuitBuildTimeout",
                  "CircuitBuildTimeout", "UseMicrodescriptors", "VanguardsLiteEnabled")


def test_without_a_configured_tor_nigran_launches_its_own_and_stops_it(tmp_path, home, tornet, demo_sites):
    """No NIGRAN_TOR_*: nigran starts a private tor in its data directory (joined to the test network by
    NIGRAN_TORRC), shows bootstrap progress in the log, crawls through it and stops it at the end."""
    client_torrc = (tornet.workdir / "client" / "torrc").read_text().splitlines()
    torrc = tmp_path / "torrc"
    torrc.write_text("\n".join(line for line in client_torrc if line.split(" ", 1)[0] in CLIENT_OPTIONS) + "\n")
    sources = sources_file(tmp_path, [onion_source(tornet, "market", demo_sites, max_pages=3)])
    env = {"NIGRAN_TORRC": str(torrc), "NIGRAN_TOR_SOCKS": "", "NIGRAN_TOR_CONTROL": ""}
    result = nigran("crawl", "--sources", sources, "--db", f"sqlite:///{home / 'n.db'}", env=env, timeout=300)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    log = (home / "logs" / "run-1.log").read_text()
    assert "tor: bootstrapped 100%" in log and "tor: ready" in log
    assert (home / "tor" / "tor.log").exists()
    leftover = subprocess.run(["pgrep", "-f", f"DataDirectory {home / 'tor'}"], capture_output=True)
    assert leftover.stdout == b""  # the launched tor is gone


def test_newnym_for_one_source_closes_only_its_circuits(tmp_path, home, tornet, demo_sites):
    sources = sources_file(tmp_path, [onion_source(tornet, "market", demo_sites, max_pages=3),
                                      onion_source(tornet, "forum", demo_sites, max_pages=3)])
    assert nigran("crawl", "--sources", sources, "--db", f"sqlite:///{home / 'n.db'}",
                  env=tor_env(tornet), timeout=300).returncode == 0
    before = json.loads(nigran("tor", "status", "--json", env=tor_env(tornet)).stdout)["sources"]
    assert before.get("demo-market") and before.get("demo-forum")
    renewed = nigran("tor", "newnym", "--source", "demo-market", env=tor_env(tornet))
    assert renewed.returncode == 0 and b"of source demo-market" in renewed.stdout
    after = json.loads(nigran("tor", "status", "--json", env=tor_env(tornet)).stdout)["sources"]
    assert "demo-market" not in after
    assert {c["id"] for c in after["demo-forum"]} == {c["id"] for c in before["demo-forum"]}


@pytest.mark.browser
def test_javascript_shop_as_an_onion_renders_through_tor(tmp_path, home, tornet, js_shop):
    """Chromium reaches the onion through a SocksPort of its own (no SOCKS credentials in Chromium)."""
    js_shop.log.clear()
    sources = sources_file(tmp_path, [{"name": "js-onion", "kind": "market", "render": "browser", "max_depth": 0,
                                       "timeout": 60, "start_urls": [f"http://{tornet.onion('jsshop')}/"]}])
    db_url = f"sqlite:///{home / 'n.db'}"
    result = nigran("crawl", "--sources", sources, "--db", db_url, "--json", env=tor_env(tornet), timeout=300)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    with Database(db_url).session() as s:
        kinds = {c.kind for c in s.scalars(select(Capture))}
        assert {"dom", "screenshot"} <= kinds
        assert s.scalar(select(func.count()).select_from(Offer)) > 0  # listings that exist only after JavaScript
    assert "/api/listings" in " ".join(js_shop.log)  # the page's own script ran, through Tor
    status = json.loads(nigran("tor", "status", "--json", env=tor_env(tornet)).stdout)
    assert status["socks_ok"]


def test_browser_source_with_dead_tor_sends_nothing(tmp_path, home, js_shop):
    js_shop.log.clear()
    sources = sources_file(tmp_path, [{"name": "js-dead", "render": "browser", "max_depth": 0,
                                       "start_urls": [f"{js_shop.base_url}/"]}])
    result = nigran("crawl", "--sources", sources, "--db", f"sqlite:///{home / 'n.db'}",
                    env={"NIGRAN_TOR_CONTROL": "127.0.0.1:9", "NIGRAN_TOR_SOCKS": "127.0.0.1:9"}, timeout=120)
    assert result.returncode == 1 and "Tor unavailable" in result.stderr.decode()
    assert js_shop.log == []
