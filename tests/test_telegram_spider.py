"""The Telegram spider through the real `nigran crawl`, against the local t.me fixture site."""
from __future__ import annotations

import json
import threading
import time

import pytest
import yaml
from sqlalchemy import select

from nigran.pipelines.redact import redact
from nigran.storage.db import Database
from nigran.storage.models import Capture, Offer, Post
from tests.support.run import nigran
from tests.support.telegram_site import CHANNELS, EMPTY_CHANNEL, HIDDEN_NAMES, THROTTLED_CHANNEL, TelegramSite

PUBLIC = [name for name in CHANNELS if name != THROTTLED_CHANNEL]


class TimedSite(TelegramSite):
    """The fixture site, also noting when each request came; 429s ask for `retry_after` seconds."""

    def __init__(self, *, retry_after: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.retry_after = retry_after
        self.timed: list[tuple[float, str, int]] = []
        self._timed_lock = threading.Lock()

    def respond(self, method, path, headers):
        status, extra, body = super().respond(method, path, headers)
        if status == 429:
            extra = {**extra, "Retry-After": str(self.retry_after)}
        with self._timed_lock:
            self.timed.append((time.monotonic(), path, status))
        return status, extra, body


def write_sources(path, *sources: dict):
    path.write_text(yaml.safe_dump({"sources": [{"kind": "telegram", "via": "direct", **s} for s in sources]}))
    return path


def crawl(sources, db_url, home) -> tuple[dict, list[str]]:
    """Run `nigran crawl --json`; (summary per source, stderr lines)."""
    done = nigran("crawl", "--sources", str(sources), "--db", db_url, "--json", env={"NIGRAN_HOME": str(home)})
    summary = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return {s["source"]: s for s in summary["sources"]}, done.stderr.decode().splitlines()


def stored(db_url, source) -> dict[str, Post]:
    with Database(db_url).session() as session:
        return {p.post_key: p for p in session.scalars(select(Post).where(Post.source == source))}


def requested(site, start: int = 0) -> list[str]:
    return [entry.path for entry in site.log[start:]]


def test_every_message_once_then_only_new_ones(tmp_path, home, db_url):
    with TimedSite() as site:
        sources = write_sources(tmp_path / "sources.yaml", {"name": "tg", "base_url": site.base_url,
                                                           "channels": PUBLIC})
        summary, _ = crawl(sources, db_url, home)
        assert summary["tg"]["ok"] and summary["tg"]["errors"] == 0
        posts = stored(db_url, "tg")
        truth = {f"{c}/{i}": site.message(c, i) for c in PUBLIC for i in site.channel_ids(c)}
        assert len(truth) >= 400 and sorted(posts) == sorted(truth)
        assert summary["tg"]["posts"] == len(truth)  # each message yielded once, not re-sighted
        for key, post in posts.items():
            expected = truth[key]
            assert (post.url, post.posted_at, post.text, post.author) == (  # stored text has identifiers masked
                expected.permalink, expected.date, redact(expected.text), expected.author), key
            assert (post.extra["views"], post.extra["message_id"], post.extra["service"]) == (
                expected.views, expected.id, expected.service), key
            assert post.extra["photos"] == expected.photos and post.extra["reply_to"] == expected.reply_to
        with Database(db_url).session() as session:
            offered = set(session.scalars(select(Post.post_key).join(Offer, Offer.post_id == Post.id)))
        assert not offered & {key for key, post in truth.items() if post.service}

        mark = len(site.log)
        added = [site.add_message("simdata_pk", "Fresh SIM data 🔥 Rs 400 per number\nDM @fresh_seller"),
                 site.add_message("simdata_pk", "CNIC copy front/back, 900 PKR\nWhatsApp 0300-1234567"),
                 site.add_message("pk_data_market", "Kisi bhi number ki CDR, 5k rupay. Inbox @cdr_wala")]
        summary, _ = crawl(sources, db_url, home)
        assert summary["tg"]["ok"] and summary["tg"]["posts"] == len(added)
        assert sorted(requested(site, mark)) == sorted(f"/s/{c}" for c in PUBLIC)  # newest page only
        posts = stored(db_url, "tg")
        assert len(posts) == len(truth) + len(added)
        for message in added:
            post = posts[f"{message.channel}/{message.id}"]
            assert (post.text, post.url, post.sightings) == (redact(message.text), message.permalink, 1)
        listed = nigran("offers", "--db", db_url, "--source", "tg", "--json", env={"NIGRAN_HOME": str(home)})
        offers = {row["post_key"]: row for row in map(json.loads, listed.stdout.decode().splitlines())}
        assert [offers[f"{m.channel}/{m.id}"]["categories"] for m in added] == [["sim"], ["cnic"], ["call_logs"]]


def test_mirror_keeps_permalinks_and_walks_stop_at_max_pages_and_since(tmp_path, home):
    db_url = f"sqlite:///{home / 'nigran.db'}"
    with TimedSite() as site:
        mirror = site.base_url.replace("127.0.0.1", "localhost")
        ids = site.channel_ids("nadra_family_tree")
        since = site.message("nadra_family_tree", ids[-25]).date.date()
        sources = write_sources(
            tmp_path / "sources.yaml",
            {"name": "mirror", "base_url": mirror, "channels": ["cdr_travel_hub"], "max_pages": 2},
            {"name": "recent", "base_url": site.base_url, "channels": ["nadra_family_tree"],
             "since": since.isoformat()})
        summary, _ = crawl(sources, db_url, home)
        assert summary["mirror"]["ok"] and summary["recent"]["ok"]

        newest = site.channel_ids("cdr_travel_hub")[-40:]
        mirrored = stored(db_url, "mirror")
        assert sorted(mirrored) == sorted(f"cdr_travel_hub/{i}" for i in newest)
        assert {p.url for p in mirrored.values()} == {f"https://t.me/cdr_travel_hub/{i}" for i in newest}
        with Database(db_url).session() as session:
            fetched = set(session.scalars(select(Capture.url).where(Capture.source == "mirror")))
        assert len(fetched) == 2 and all(url.startswith(f"{mirror}/s/cdr_travel_hub") for url in fetched)

        recent = stored(db_url, "recent")
        wanted = {f"nadra_family_tree/{i}" for i in ids if site.message("nadra_family_tree", i).date.date() >= since}
        assert set(recent) == wanted and 20 < len(wanted) < 40
        assert sum("nadra_family_tree" in path for path in requested(site)) == 2  # not the whole history


@pytest.fixture(scope="module")
def troubled(tmp_path_factory):
    """One crawl over non-public names, an empty channel and a throttled one (429, then 'No posts found')."""
    home = tmp_path_factory.mktemp("home")
    with TimedSite(retry_after=2) as site:
        channels = [*HIDDEN_NAMES, EMPTY_CHANNEL, THROTTLED_CHANNEL]
        sources = write_sources(home / "sources.yaml", {"name": "tg", "base_url": site.base_url,
                                                        "channels": channels})
        db_url = f"sqlite:///{home / 'nigran.db'}"
        summary, stderr = crawl(sources, db_url, home)
        yield site, summary["tg"], stderr, stored(db_url, "tg")


def test_non_public_names_fail_with_one_line_each_and_the_others_go_on(troubled):
    site, summary, stderr, posts = troubled
    for name in HIDDEN_NAMES:
        lines = [line for line in stderr if f"channel {name} " in line]
        assert len(lines) == 1 and "has no public preview" in lines[0], stderr
        assert requested(site).count(f"/s/{name}") == 1
        assert not any(path.startswith(f"/{name}") for path in requested(site))  # the redirect is not followed
    assert summary["errors"] == len(HIDDEN_NAMES)
    assert len([key for key in posts if key.startswith(f"{THROTTLED_CHANNEL}/")]) == len(
        site.channel_ids(THROTTLED_CHANNEL))


def test_throttling_is_waited_out_with_growing_delays(troubled):
    site, _, stderr, posts = troubled
    first = [(at, status) for at, path, status in site.timed if path == f"/s/{THROTTLED_CHANNEL}"]
    assert [status for _, status in first] == [429, 200, 200, 200]
    gaps = [later - earlier for (earlier, _), (later, _) in zip(first, first[1:])]
    assert gaps[0] >= 2.0  # Retry-After: 2 honoured (no immediate retry by Scrapy's RetryMiddleware)
    assert gaps[1] >= 1.9 and gaps[2] >= 3.9  # "No posts found": backoff doubles
    assert sorted(int(key.split("/")[1]) for key in posts if key.startswith(THROTTLED_CHANNEL)) == \
        site.channel_ids(THROTTLED_CHANNEL)
    assert not any(THROTTLED_CHANNEL in line for line in stderr if "ERROR" in line)


def test_empty_channel_is_fine(troubled):
    site, _, stderr, posts = troubled
    assert requested(site).count(f"/s/{EMPTY_CHANNEL}") == 1
    assert not any(key.startswith(EMPTY_CHANNEL) for key in posts)
    assert not any(EMPTY_CHANNEL in line for line in stderr)


@pytest.mark.tor
def test_telegram_over_tor_retries_a_throttled_channel_once_per_attempt(tmp_path, home, tornet):
    """One retry policy per transport: on a Tor route, Telegram's 429s are retried by the spider alone (after
    Retry-After, on a renewed circuit), never again by BlockMiddleware on top."""
    from tests.support.run import tor_env

    db_url = f"sqlite:///{home / 'n.db'}"
    with TimedSite() as site:
        site.throttle("simdata_pk", too_many=99)
        base = site.base_url.replace("127.0.0.1", "clearnet.test")
        sources = write_sources(tmp_path / "sources.yaml", {"name": "tg-tor", "via": "tor", "base_url": base,
                                                            "channels": ["simdata_pk", "nadra_family_tree"]})
        done = nigran("crawl", "--sources", str(sources), "--db", db_url, "--json",
                      env={**tor_env(tornet), "NIGRAN_HOME": str(home)}, timeout=300)
        summary = json.loads(done.stdout.decode().strip().splitlines()[-1])["sources"][0]
        throttled = [status for _, path, status in site.timed if path == "/s/simdata_pk"]
    attempts = 5  # TelegramSpider.attempts
    assert throttled == [429] * (attempts + 1)  # the first try and one per attempt: no stacked retries
    assert summary["errors"] == 1 and "simdata_pk still throttled (HTTP 429)" in done.stderr.decode()
    assert any(key.startswith("nadra_family_tree/") for key in stored(db_url, "tg-tor"))  # the other channel
