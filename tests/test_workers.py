"""Distributed crawls on the real Redis and PostgreSQL of this machine: `nigran crawl --workers` and
`nigran worker` processes sharing one scrapy-redis frontier and one database."""
from __future__ import annotations

import json
import os
import re
import signal
import time
from collections import Counter
from urllib.parse import urlsplit

import pytest
import redis
import yaml
from sqlalchemy import func, select

from nigran.storage.db import Database
from nigran.storage.models import Capture, Offer, Post, Run
from tests.support.databases import REDIS_URL, scratch_pg_url
from tests.support.listing_site import ListingSite
from tests.support.ops import demo_sources_file, spawn
from tests.support.run import nigran

DEMO = ("demo-market", "demo-forum", "demo-paste")


def sources_with_shop(tmp_path, demo_sites, shop: ListingSite, demo: tuple[str, ...] = DEMO, concurrency: int = 8,
                      delay: float = 0.0):
    path = demo_sources_file(tmp_path / "sources.yaml", demo_sites, enabled=demo)
    text = path.read_text() + (f"- name: big-shop\n  kind: market\n  via: direct\n  start_urls: [{shop.url}]\n"
                               f"  max_depth: 30\n  max_pages: {shop.pages}\n  concurrency: {concurrency}\n"
                               f"  download_delay: {delay}\n")
    path.write_text(text)
    return path


def start_run(tmp_path, sources, db_url: str, workers: int, env: dict | None = None):
    """The coordinator and `workers` worker processes, each with its own data directory (as on separate hosts)."""
    coordinator = spawn(tmp_path, "coordinator", "crawl", "--workers", REDIS_URL, "--sources", str(sources),
                        "--db", db_url, "--json", env={"NIGRAN_HOME": str(tmp_path / "home-c"), **(env or {})})
    procs = [spawn(tmp_path, f"worker{i}", "worker", "--redis", REDIS_URL, "--wait", "60",
                   env={"NIGRAN_HOME": str(tmp_path / f"home-{i}"), **(env or {})}) for i in range(workers)]
    return coordinator, procs


def finished(tmp_path, proc, name: str, timeout: float = 300) -> tuple[int, str, str]:
    proc.wait(timeout)
    return proc.returncode, (tmp_path / f"{name}.out").read_text(), (tmp_path / f"{name}.err").read_text()


def busy_worker(workers, after_pages: int, shop: ListingSite):
    """The worker process holding the most leased requests once the shop has served `after_pages` pages."""
    client, deadline = redis.Redis.from_url(REDIS_URL), time.monotonic() + 120
    while True:
        assert time.monotonic() < deadline, "the crawl did not start"
        holders = Counter(int(token.rsplit(b":", 1)[0].rsplit(b"-", 1)[1])
                          for key in client.scan_iter(match="nigran:*:leases") for token in client.zrange(key, 0, -1))
        if len(shop.log) >= after_pages and holders:
            pid = holders.most_common(1)[0][0]
            return next(w for w in workers if w.pid == pid)
        time.sleep(0.05)


def test_three_workers_fetch_every_page_once_and_store_every_offer_once(tmp_path, demo_sites, frontier):
    db_url = scratch_pg_url()
    demo_sites.clear_log()
    with ListingSite(300) as shop:
        coordinator, workers = start_run(tmp_path, sources_with_shop(tmp_path, demo_sites, shop), db_url, 3)
        code, out, err = finished(tmp_path, coordinator, "coordinator")
        worker_codes = [finished(tmp_path, w, f"worker{i}")[0] for i, w in enumerate(workers)]
    assert code == 0, err[-3000:]
    assert worker_codes == [0, 0, 0]
    report = {s["source"]: s for s in json.loads(out.splitlines()[-1])["sources"]}
    assert report["big-shop"]["pages"] == 300 and all(s["ok"] for s in report.values())
    assert Counter(shop.log) == {f"/p/{n}.html": 1 for n in range(300)}  # every page fetched once
    for site in ("market", "forum", "paste"):
        paths = [path for _, method, path, _ in demo_sites.access_log[site] if method == "GET"]
        assert paths and len(paths) == len(set(paths)), site
    db = Database(db_url)
    with db.session() as s:
        assert s.scalar(select(func.count(func.distinct(Capture.url))).where(Capture.source == "big-shop")) == 300
        assert s.scalar(select(func.count()).select_from(Post).where(Post.source == "big-shop")) == 300
        assert s.scalar(select(func.max(Offer.sightings))) == 1  # no offer stored twice
        writers = {re.match(r"nigran-run\d+-(.+)-\d{20}-", name).group(1)  # WARC files are named by writer
                   for name in s.scalars(select(Capture.warc_file).distinct())}
    assert len(writers) >= 2  # the work was really shared


def test_a_worker_killed_mid_crawl_loses_nothing(tmp_path, demo_sites, frontier):
    db_url = scratch_pg_url()
    with ListingSite(400, delay=0.02) as shop:
        sources = sources_with_shop(tmp_path, demo_sites, shop, demo=())
        coordinator, workers = start_run(tmp_path, sources, db_url, 3, env={"NIGRAN_LEASE_SECONDS": "3"})
        db = Database(db_url)
        victim = busy_worker(workers, after_pages=80, shop=shop)
        os.kill(victim.pid, signal.SIGKILL)
        code, out, err = finished(tmp_path, coordinator, "coordinator")
        survivors = [f"worker{i}" for i, w in enumerate(workers) if w is not victim]
        for i, w in enumerate(workers):
            if w is not victim:
                finished(tmp_path, w, f"worker{i}")
    assert code == 0, err[-3000:]
    fetched = Counter(shop.log)
    assert set(fetched) == {f"/p/{n}.html" for n in range(400)}  # a complete result
    logs = "".join((tmp_path / f"{name}.err").read_text() for name in ("coordinator", *survivors))
    requeued = sum(int(n) for n in re.findall(r"(\d+) requests of a stopped worker queued again", logs))
    assert requeued > 0  # what the dead worker held came back
    assert sum(n - 1 for n in fetched.values()) <= requeued  # and only those were fetched again
    with db.session() as s:
        urls = s.execute(select(Capture.url, func.count()).group_by(Capture.url)).all()
        assert len(urls) == 400
        assert s.scalar(select(func.count()).select_from(Post)) == 400
        assert s.scalar(select(func.count()).select_from(Offer)) == 400
    # a capture is kept once per fetch: pages fetched twice have two captures, none has more than fetched
    assert all(n <= fetched[urlsplit(url).path] for url, n in urls)


def test_worker_without_a_run_gives_up_after_wait(tmp_path, frontier):
    result = nigran("worker", "--redis", REDIS_URL, "--wait", "1")
    assert result.returncode == 3
    assert f"no run was published on {REDIS_URL} within 1 s" in result.stderr.decode()


def test_unreachable_redis_is_one_clear_error(tmp_path, home):
    result = nigran("worker", "--redis", "redis://127.0.0.1:9/0", "--wait", "1")
    assert result.returncode == 1
    assert result.stderr.decode().startswith("nigran: error: Redis at redis://127.0.0.1:9/0 does not answer")


def test_a_second_run_is_refused_while_one_is_open(tmp_path, demo_sites, frontier, home):
    sources = demo_sources_file(tmp_path / "sources.yaml", demo_sites)
    first = spawn(tmp_path, "first", "crawl", "--workers", REDIS_URL, "--sources", str(sources),
                  "--db", f"sqlite:///{home / 'n.db'}")
    try:
        client = redis.Redis.from_url(REDIS_URL)
        deadline = time.monotonic() + 30
        while not client.exists("nigran:run"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        second = nigran("crawl", "--workers", REDIS_URL, "--sources", str(sources), "--db", f"sqlite:///{home / 'n.db'}")
        assert second.returncode == 1
        assert "is still open on this frontier" in second.stderr.decode()
    finally:
        first.send_signal(signal.SIGINT)
        first.wait(30)


def test_a_run_whose_coordinator_died_is_replaced_not_resumed(frontier):
    from nigran.crawler.frontier import Frontier, FrontierError

    client = redis.Redis.from_url(REDIS_URL)
    old = Frontier.publish(client, 7, [], "sqlite://", lease_seconds=1)
    client.zadd(old.key("leases"), {"w:1": 0})
    with pytest.raises(FrontierError, match="run 7 is still open on this frontier"):
        Frontier.publish(client, 8, [], "sqlite://", lease_seconds=1)
    client.hset("nigran:run", "beat", time.time() - 10)  # its coordinator fell silent
    Frontier.publish(client, 8, [], "sqlite://", lease_seconds=1)
    assert Frontier.current(client).run_id == 8 and not client.exists(old.key("leases"))


def test_a_stopped_worker_hands_its_requests_back_at_once(tmp_path, demo_sites, frontier):
    db_url = scratch_pg_url()
    with ListingSite(200, delay=0.05) as shop:
        sources = sources_with_shop(tmp_path, demo_sites, shop, demo=())
        coordinator, workers = start_run(tmp_path, sources, db_url, 2)  # leases last the default 30 s
        stopping = busy_worker(workers, 40, shop)  # one that holds requests (not one still starting up)
        stopping.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        code, out, err = finished(tmp_path, coordinator, "coordinator")
        took = time.monotonic() - stopped
        names = {w.pid: f"worker{i}" for i, w in enumerate(workers)}
        stopped_code, _, stopped_err = finished(tmp_path, stopping, names[stopping.pid])
        [finished(tmp_path, w, names[w.pid]) for w in workers if w is not stopping]
    assert code == 0, err[-3000:]
    assert stopped_code == 130 and "ended with exit status 130" in stopped_err
    assert set(shop.log) == {f"/p/{n}.html" for n in range(200)}
    assert took < 25  # not waiting for the stopped worker's leases to expire


def test_sweep_with_workers_crawls_through_them_then_sends_alerts(tmp_path, demo_sites, frontier):
    db_url = scratch_pg_url()
    sources = demo_sources_file(tmp_path / "sources.yaml", demo_sites, enabled=("demo-paste",))
    sweep = spawn(tmp_path, "sweep", "sweep", "--workers", REDIS_URL, "--sources", str(sources), "--db", db_url,
                  "--json", env={"NIGRAN_HOME": str(tmp_path / "home-c")})
    worker = spawn(tmp_path, "worker0", "worker", "--redis", REDIS_URL, "--wait", "60",
                   env={"NIGRAN_HOME": str(tmp_path / "home-0")})
    code, out, err = finished(tmp_path, sweep, "sweep")
    assert code == 0, err[-3000:]
    assert finished(tmp_path, worker, "worker0")[0] == 0
    result = json.loads(out.splitlines()[-1])
    assert result["status"] == "finished" and result["sources"][0]["posts"] > 0 and "alerts" in result
    with Database(db_url).session() as s:
        assert s.scalar(select(Run.trigger).where(Run.id == result["run_id"])) == "sweep"


def test_seeding_passes_to_another_worker_when_the_seeding_one_dies(frontier):
    from nigran.crawler.frontier import Frontier

    run = Frontier.publish(redis.Redis.from_url(REDIS_URL), 3, [], "sqlite://", lease_seconds=0.5)
    assert run.claim_seeding("shop", "a") and not run.claim_seeding("shop", "b")
    time.sleep(0.7)  # "a" died without finishing: its claim lapses
    assert run.claim_seeding("shop", "b") and not run.seeded("shop")
    run.seeding_done("shop")
    time.sleep(0.7)
    assert run.seeded("shop") and not run.claim_seeding("shop", "c")  # done is for good


def test_workers_walk_telegram_channels_too(tmp_path, frontier):
    from tests.support.telegram_site import CHANNELS, THROTTLED_CHANNEL, TelegramSite

    db_url = scratch_pg_url()
    public = [name for name in CHANNELS if name != THROTTLED_CHANNEL]
    with TelegramSite() as site:
        sources = tmp_path / "sources.yaml"
        sources.write_text(yaml.safe_dump({"sources": [{"name": "tg", "kind": "telegram", "via": "direct",
                                                        "base_url": site.base_url, "channels": public}]}))
        coordinator, workers = start_run(tmp_path, sources, db_url, 2)
        code, out, err = finished(tmp_path, coordinator, "coordinator")
        assert [finished(tmp_path, w, f"worker{i}")[0] for i, w in enumerate(workers)] == [0, 0]
    assert code == 0, err[-3000:]
    truth = {f"{c}/{i}" for c in public for i in site.channel_ids(c)}
    with Database(db_url).session() as s:
        assert set(s.scalars(select(Post.post_key))) == truth
    paths = [entry.path for entry in site.log]
    assert len(paths) == len(set(paths))  # each page of each channel fetched once


@pytest.mark.tor
def test_workers_crawl_an_onion_market_through_tor(tmp_path, tornet, demo_sites, frontier):
    from tests.support.run import onion_source, tor_env

    db_url = scratch_pg_url()
    demo_sites.clear_log()
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": [onion_source(tornet, "market", demo_sites, max_pages=20)]}))
    coordinator, workers = start_run(tmp_path, sources, db_url, 2, env=tor_env(tornet))
    code, out, err = finished(tmp_path, coordinator, "coordinator")
    assert [finished(tmp_path, w, f"worker{i}")[0] for i, w in enumerate(workers)] == [0, 0]
    assert code == 0, err[-3000:]
    paths = [path for _, method, path, _ in demo_sites.access_log["market"] if method == "GET"]
    assert len(paths) == 20 and len(set(paths)) == 20
    with Database(db_url).session() as s:
        assert set(s.scalars(select(Capture.transport).distinct())) == {"tor"}


def test_a_sources_concurrency_and_delay_hold_across_workers(tmp_path, demo_sites, frontier):
    db_url = scratch_pg_url()
    with ListingSite(30, delay=0.2) as shop:  # slow pages: each worker alone would open 2 at once
        sources = sources_with_shop(tmp_path, demo_sites, shop, demo=(), concurrency=2)
        coordinator, workers = start_run(tmp_path, sources, db_url, 3)
        assert finished(tmp_path, coordinator, "coordinator")[0] == 0
        [finished(tmp_path, w, f"worker{i}") for i, w in enumerate(workers)]
    assert len(shop.log) == 30 and shop.most_busy == 2  # never 3 workers x 2
    db_url = scratch_pg_url()
    frontier_client = redis.Redis.from_url(REDIS_URL)
    frontier_client.flushdb()
    with ListingSite(12) as shop:
        sources = sources_with_shop(tmp_path, demo_sites, shop, demo=(), concurrency=4, delay=0.3)
        coordinator, workers = start_run(tmp_path, sources, db_url, 3)
        assert finished(tmp_path, coordinator, "coordinator")[0] == 0
        [finished(tmp_path, w, f"worker{i}") for i, w in enumerate(workers)]
    gaps = [b - a for a, b in zip(shop.arrivals, shop.arrivals[1:])]
    # one download_delay between request starts, team-wide (seen at the server, give or take the jitter of
    # the way there); unshared, three workers would each keep their own 0.3 s
    assert len(gaps) == 11 and min(gaps) >= 0.15 and sum(gaps) / len(gaps) >= 0.29
