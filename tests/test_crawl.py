"""End to end through the real `nigran` CLI: demo sites in, evidence, posts and offers out."""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from nigran.crawler.demo import DEMO_DIR
from nigran.storage.bodies import BodyStore
from nigran.storage.db import Database
from nigran.storage.evidence.custody import SOURCE_CONFIG_CHANGED
from nigran.storage.models import Capture, CustodyEvent, Offer, OfferIdentifier, Post, Run
from tests.support.badsite import BadSite
from tests.support.run import REPO, counts, demo_file, nigran, slow_crawl_with_posts, sources_file


def expected_posts() -> list[dict]:
    return json.loads((DEMO_DIR / "expected.json").read_text())


def test_demo_crawl_twice_adds_evidence_never_duplicates(tmp_path, home, db_url, demo_sites):
    sources = demo_file(tmp_path, demo_sites)
    first = nigran("crawl", "--sources", sources, "--db", db_url, "--json")
    assert first.returncode == 0, first.stderr.decode()
    summary = json.loads(first.stdout)
    assert [s["source"] for s in summary["sources"]] == ["demo-market", "demo-forum", "demo-paste"]
    assert all(s["ok"] and s["errors"] == 0 for s in summary["sources"])

    db = Database(db_url)
    once = counts(db)
    assert once["posts"] == len(expected_posts())  # every listing, reply and paste, each once
    assert once["offers"] > 0

    with open(sources, "a", encoding="utf-8") as fh:
        fh.write("# reviewed by the analyst\n")  # the same sources, another file: a custody event
    second = nigran("crawl", "--sources", sources, "--db", db_url, "--json")
    assert second.returncode == 0, second.stderr.decode()
    twice = counts(db)
    assert twice["captures"] == 2 * once["captures"]  # each fetch is evidence
    assert (twice["posts"], twice["offers"]) == (once["posts"], once["offers"])  # nothing duplicated
    with db.session() as s:
        assert set(s.scalars(select(Post.sightings))) == {2}
        assert set(s.scalars(select(Offer.sightings))) == {2}
        offers_by_source = Counter(s.scalars(select(Offer.source)))
        runs = s.scalars(select(Run).order_by(Run.id)).all()
    assert [r.status for r in runs] == ["finished", "finished"] and all(r.ended_at.tzinfo for r in runs)
    new_second = sum(src["offers_new"] for src in json.loads(second.stdout)["sources"])
    updated_second = sum(src["offers_updated"] for src in json.loads(second.stdout)["sources"])
    assert (new_second, updated_second) == (0, sum(offers_by_source.values()))

    assert nigran("crawl", "--sources", sources, "--db", db_url, "--source", "demo-paste").returncode == 0
    with db.session() as s:  # loading a changed sources file is a custody event; an unchanged one is not
        changes = s.scalars(select(CustodyEvent).where(CustodyEvent.kind == SOURCE_CONFIG_CHANGED)).all()
    assert [c.details["file"] for c in changes] == [str(Path(sources).resolve())] * 2
    assert changes[1].details["sha256"] == hashlib.sha256(Path(sources).read_bytes()).hexdigest() != \
        changes[0].details["sha256"]


def test_captures_are_the_exact_bytes_received(tmp_path, home, db_url, demo_sites):
    result = nigran("crawl", "--sources", demo_file(tmp_path, demo_sites), "--db", db_url, "--source", "demo-paste")
    assert result.returncode == 0, result.stderr.decode()
    store = BodyStore(home / "bodies")
    with Database(db_url).session() as s:
        captures = s.scalars(select(Capture)).all()
    assert captures
    for c in captures:
        raw = store.path(c.body_sha256).read_bytes()
        assert hashlib.sha256(raw).hexdigest() == c.body_sha256 and len(raw) == c.body_size
        assert c.fetched_at.tzinfo is not None and c.fetched_at.utcoffset().total_seconds() == 0
        assert c.transport == "direct" and c.run_id is not None
        # the demo server gzips: what is stored is the compressed wire body, not Scrapy's decoded one
        assert dict((k.lower(), v) for k, v in c.headers).get("content-encoding") == "gzip"
        assert raw[:2] == b"\x1f\x8b" and gzip.decompress(raw)
        assert not os.access(store.path(c.body_sha256), os.W_OK) or os.geteuid() == 0


def test_offers_and_posts_json_contract(tmp_path, home, demo_sites):
    db_url = f"sqlite:///{home / 'nigran.db'}"
    assert nigran("crawl", "--sources", demo_file(tmp_path, demo_sites), "--db", db_url).returncode == 0
    offers = [json.loads(line) for line in nigran("offers", "--db", db_url, "--json").stdout.splitlines()]
    assert offers
    for o in offers:
        assert set(o) >= {"id", "source", "url", "post_key", "kind", "categories", "identifiers", "prices",
                          "contacts", "first_seen", "last_seen", "sightings", "capture_sha256"}
        assert o["kind"] in ("offer", "request")
        assert o["first_seen"].endswith("Z")
    cnic = [json.loads(line) for line in
            nigran("offers", "--db", db_url, "--json", "--category", "cnic").stdout.splitlines()]
    assert cnic and all("cnic" in o["categories"] for o in cnic) and len(cnic) < len(offers)
    posts = [json.loads(line) for line in
             nigran("posts", "--db", db_url, "--json", "--source", "demo-forum").stdout.splitlines()]
    assert len(posts) == sum(1 for e in expected_posts() if e["site"] == "forum")
    assert all(p["source"] == "demo-forum" and p["posted_at"] and p["author"] for p in posts)
    future = nigran("offers", "--db", db_url, "--json", "--since", "2999-01-01")
    assert future.returncode == 0 and future.stdout == b""
    bad = nigran("offers", "--db", db_url, "--since", "yesterday")
    assert bad.returncode == 2 and b"not an ISO-8601" in bad.stderr


def test_identifiers_are_stored_masked_and_revealed_only_from_evidence(tmp_path, home, demo_sites):
    db_url = f"sqlite:///{home / 'nigran.db'}"
    assert nigran("crawl", "--sources", demo_file(tmp_path, demo_sites), "--db", db_url).returncode == 0
    masked = [json.loads(line) for line in nigran("offers", "--db", db_url, "--json").stdout.splitlines()]
    with_ids = [o for o in masked if any(i["type"] == "cnic" for i in o["identifiers"])]
    assert with_ids, "the demo sites carry CNICs in offers"
    masked_cnics = {i["value"] for o in with_ids for i in o["identifiers"] if i["type"] == "cnic"}
    assert all("*******" in v for v in masked_cnics)

    revealed = [json.loads(line) for line in
                nigran("offers", "--db", db_url, "--json", "--reveal", "--operator", "inspector-7").stdout.splitlines()]
    raw_cnics = {i["value"] for o in revealed for i in o["identifiers"] if i["type"] == "cnic"}
    assert raw_cnics and not any("*" in v for v in raw_cnics)
    assert {f"{v[:5]}-*******-*" for v in raw_cnics} == masked_cnics
    db_bytes = b"".join(p.read_bytes() for p in home.glob("nigran.db*"))
    assert not any(v.encode() in db_bytes or v.replace("-", "").encode() in db_bytes for v in raw_cnics)
    with Database(db_url).session() as s:
        from nigran.storage.models import Reveal

        audit = s.scalars(select(Reveal)).all()
        assert len(audit) == 1 and audit[0].operator == "inspector-7" and len(audit[0].offer_ids) == len(revealed)
        assert s.scalar(select(func.count()).select_from(OfferIdentifier)) >= len(raw_cnics)


def test_scrapy_list_and_crawl_work_from_the_repo(tmp_path, home, demo_sites):
    env = {"NIGRAN_SOURCES": demo_file(tmp_path, demo_sites), "NIGRAN_DB": f"sqlite:///{home / 'nigran.db'}"}
    scrapy = [sys.executable, "-m", "scrapy"]
    listed = subprocess.run([*scrapy, "list"], cwd=REPO, capture_output=True, env={**os.environ, **env})
    assert listed.stdout.decode().split() == ["demo-forum", "demo-market", "demo-paste"]
    crawled = subprocess.run([*scrapy, "crawl", "demo-paste"], cwd=REPO, capture_output=True,
                             env={**os.environ, **env}, timeout=120)
    assert crawled.returncode == 0, crawled.stderr.decode()[-2000:]
    db = Database(env["NIGRAN_DB"])
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Post)) == sum(1 for e in expected_posts() if e["site"] == "paste")
        assert [r.trigger for r in s.scalars(select(Run))] == ["scrapy"]


# --- bad input ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bad_site():
    with BadSite(slow_seconds=4) as site:
        yield site


def bad_source(bad_site, **extra) -> dict:
    return {"name": "bad", "via": "direct", "start_urls": [bad_site.url + "/"], "max_depth": 1, **extra}


def test_hostile_site_is_crawled_without_losing_anything(tmp_path, home, db_url, bad_site):
    result = nigran("crawl", "--sources", sources_file(tmp_path, [bad_source(bad_site, timeout=2)]),
                    "--db", db_url, "--json", timeout=240)
    log = result.stderr.decode()
    report = json.loads(result.stdout)["sources"][0]
    assert result.returncode == 0 and report["ok"], log  # the index page and good pages were fetched
    with Database(db_url).session() as s:
        by_path = {c.url.removeprefix(bad_site.url): c for c in s.scalars(select(Capture))}
        texts = {p.url.removeprefix(bad_site.url): p.text for p in s.scalars(select(Post))}
    assert by_path["/404"].status == 404 and by_path["/500"].status == 500  # error pages are evidence too
    assert "/404 answered HTTP 404" in log
    assert {"/loop/a", "/loop/b"} <= set(by_path) and by_path["/loop/a"].status == 302
    assert "شناختي کارڈ کي کاپي" in texts["/cp1256"]  # windows-1256 decoded as the server declared
    assert "CNIC copy for sale" in texts["/badutf8"] and "\ufffd" in texts["/badutf8"]  # invalid UTF-8 replaced
    assert "SIM owner details" in texts["/malformed"]
    assert by_path["/binary"].body_size == 256 * 64 and "/binary" not in texts  # kept as evidence, not parsed
    assert "/huge" not in by_path and "/huge" in log and "maxsize" in log.lower().replace(" ", "")  # capped, said
    assert "/slow" not in by_path and "/slow failed" in log and "took longer than 2.0 seconds" in log  # timeout, said
    assert "/500 failed: HTTP 500 after retries" in log
    assert report["errors"] == 3  # /500, /huge, /slow: the 404 is an answer, not an error


def test_unreachable_host_fails_the_source_with_one_clear_line(tmp_path, home, db_url):
    sources = sources_file(tmp_path, [{"name": "gone", "via": "direct", "start_urls": ["http://127.0.0.1:9/"]}])
    result = nigran("crawl", "--sources", sources, "--db", db_url, timeout=120)
    assert result.returncode == 1
    err = result.stderr.decode()
    assert "source gone: http://127.0.0.1:9/ failed: " in err
    assert "FAILED" in err or "failed" in result.stdout.decode()


def test_tor_source_with_dead_tor_fails_closed_and_direct_sources_still_run(tmp_path, home, bad_site):
    sources = sources_file(tmp_path, [bad_source(bad_site, via="tor", name="needs-tor"),
                                      bad_source(bad_site, name="direct-one", max_depth=0)])
    hits = len(bad_site.hits)
    result = nigran("crawl", "--sources", sources, "--db", f"sqlite:///{home / 'n.db'}", "--json",
                    env={"NIGRAN_TOR_CONTROL": "127.0.0.1:9", "NIGRAN_TOR_SOCKS": "127.0.0.1:9"}, timeout=60)
    assert result.returncode == 1
    err = result.stderr.decode()
    assert "source needs-tor: Tor unavailable: cannot use tor's control port 127.0.0.1:9" in err
    assert "nothing is sent directly" in err
    reports = {r["source"]: r for r in json.loads(result.stdout)["sources"]}
    assert not reports["needs-tor"]["ok"] and reports["direct-one"]["ok"]
    assert len(bad_site.hits) == hits + 1  # only the direct source's page; nothing of the Tor source went direct


def test_sigkill_mid_crawl_then_rerun_keeps_everything(tmp_path, home, db_url, demo_sites):
    proc, sources, db = slow_crawl_with_posts(tmp_path, demo_sites, db_url)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = counts(db)
    assert before["posts"] >= 5
    with db.session() as s:
        kept = {(c.id, c.body_sha256) for c in s.scalars(select(Capture))}
        assert s.scalars(select(Run.status)).all() == ["running"]  # the killed run stays visibly unfinished

    rerun = nigran("crawl", "--sources", sources, "--db", db_url, timeout=240)
    assert rerun.returncode == 0, rerun.stderr.decode()
    store = BodyStore(home / "bodies")
    with db.session() as s:
        after = {(c.id, c.body_sha256) for c in s.scalars(select(Capture))}
        assert kept <= after  # nothing stored before the kill was lost or changed
        for _, digest in after:
            store.get(digest)  # every capture's bytes exist and still hash to their name
        keys = s.scalars(select(Post.post_key)).all()
        assert len(keys) == len(set(keys)) == len(expected_posts())
