"""Mirrors: a market whose first mirror dies (or is seized) mid-crawl finishes on the second; its posts are
not duplicated, captures name each mirror, and `nigran sources check` says which mirror answered last."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from nigran.config.hosts import origin
from nigran.config.schema import Source
from nigran.crawler.mirrors import Mirrors
from nigran.storage.db import Database
from nigran.storage.models import Capture, Post
from tests.support.mirror_market import MirrorMarket
from tests.support.run import nigran, sources_file


def test_mirrors_are_tried_in_order_and_urls_keep_one_key_across_them():
    source = Source(name="m", start_urls=["http://one.onion/listings"], mirrors=["http://TWO.onion./", "http://three.onion"])
    assert source.origins == ["http://one.onion", "http://two.onion", "http://three.onion"]
    assert set(source.allowed_domains) == {"one.onion", "two.onion", "three.onion"}
    assert source.canonical("http://two.onion/item/7?x=1") == "http://one.onion/item/7?x=1"
    assert source.canonical("http://elsewhere.onion/item/7") == "http://elsewhere.onion/item/7"
    mirrors = Mirrors(source)
    assert mirrors.route("http://one.onion/item/1") == "http://one.onion/item/1"
    assert mirrors.leave("http://one.onion/item/1", "unreachable") == "http://two.onion"
    assert mirrors.route("http://one.onion/item/1") == "http://two.onion/item/1"
    assert mirrors.leave("http://one.onion/item/2", "unreachable") == "http://two.onion"  # already left
    assert mirrors.leave("http://two.onion/item/2", "seized") == "http://three.onion"
    assert mirrors.leave("http://three.onion/item/2", "seized") is None  # none left


@pytest.mark.parametrize("seized", [False, True], ids=["dies", "seized"])
def test_a_market_whose_first_mirror_dies_mid_crawl_finishes_on_the_second(tmp_path, home, seized):
    db_url = f"sqlite:///{home / 'nigran.db'}"
    with MirrorMarket(items=30, per_page=5, die_after=12, seized=seized) as market:
        sources = sources_file(tmp_path, [{
            "name": "mirrored", "kind": "market", "via": "direct", "start_urls": [market.primary + "/listings"],
            "mirrors": [market.secondary + "/"], "max_depth": 2, "max_pages": 200}])
        done = nigran("crawl", "--sources", sources, "--db", db_url, "--json")
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        assert market.served(market.primary) and market.served(market.secondary)
    with Database(db_url).session() as s:
        keys = s.scalars(select(Post.post_key).where(Post.url.contains("/item/"))).all()
        served_by = {origin(url) for url in s.scalars(select(Capture.url))}
    assert len(keys) == len(set(keys)) == market.items  # every item once, whichever mirror served it
    assert {origin(k) for k in keys} == {market.primary}  # one key across mirrors
    assert served_by == {market.primary, market.secondary}  # each capture names its mirror
    checked = nigran("sources", "check", "--sources", sources, "--db", db_url, "--json")
    assert checked.returncode == 0, checked.stderr.decode()
    assert json.loads(checked.stdout)["last_answer"]["mirror"] == market.secondary
