"""Pagination does not eat depth: a link continuing the page's listing or thread is followed at its level."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from nigran.spiders.pagination import Listing
from nigran.storage.db import Database
from nigran.storage.models import Capture, Post
from tests.support.paginated_market import PaginatedMarket
from tests.support.run import nigran, sources_file


@pytest.mark.parametrize("page, link, text, rel_next, expected", [
    ("http://m.onion/listings", "http://m.onion/listings?page=2", "2", False, True),
    ("http://m.onion/listings?page=2", "http://m.onion/listings?page=3", "", False, True),
    ("http://m.onion/cat?sort=new", "http://m.onion/cat?sort=new&start=50", "", False, True),
    ("http://f.example/viewtopic.php?t=5", "http://f.example/viewtopic.php?t=5&start=25", "2", False, True),
    ("http://f.example/threads/cnic-dump.12/", "http://f.example/threads/cnic-dump.12/page-3", "3", False, True),
    ("http://f.example/t/123-sim-data", "http://f.example/t/123-sim-data/page2", "", False, True),
    ("http://m.onion/a", "http://m.onion/b", "Next »", False, True),
    ("http://m.onion/a", "http://m.onion/b", "اگلا صفحہ", False, True),
    ("http://m.onion/a", "http://m.onion/b", "", True, True),  # rel="next"
    # not continuations: another thread, another item, a post id, another search, the same page
    ("http://f.example/viewtopic.php?t=5", "http://f.example/viewtopic.php?t=6&start=25", "2", False, False),
    ("http://m.onion/item/1", "http://m.onion/item/2", "2", False, False),
    ("http://blog.example/?p=10", "http://blog.example/?p=11", "", False, False),
    ("http://m.onion/s?q=cnic&page=1", "http://m.onion/s?q=sim&page=2", "2", False, False),
    ("http://m.onion/listings?page=2", "http://m.onion/listings?page=2#top", "", False, False),
    ("http://m.onion/listings", "http://m.onion/vendor/7", "Vendor 7", False, False),
])
def test_what_continues_a_listing(page, link, text, rel_next, expected):
    assert Listing(page).continued_by(link, text, rel_next) is expected


@pytest.fixture(scope="module")
def market():
    with PaginatedMarket(pages=50, per_page=2) as site:
        yield site


def crawl(tmp_path, market, **source) -> tuple[set[str], list[str]]:
    """Crawl the market with `source` settings: the kinds of page fetched, and the items stored as posts."""
    tmp_path.mkdir(exist_ok=True)
    db_url = f"sqlite:///{tmp_path / 'nigran.db'}"
    sources = sources_file(tmp_path, [{"name": "next-market", "via": "direct", "start_urls": [market.url],
                                       "max_pages": 300, **source}])
    result = nigran("crawl", "--sources", sources, "--db", db_url, "--json")
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    with Database(db_url).session() as s:
        kinds = {urlsplit(url).path.split("/")[1] for url in s.scalars(select(Capture.url))}
        items = sorted({url for url in s.scalars(select(Post.url)) if "/item/" in url})
    return kinds, items


def test_a_fifty_page_next_paginated_market_is_stored_whole_at_max_depth_2(tmp_path, home, market):
    kinds, items = crawl(tmp_path, market, max_depth=2)
    assert len(items) == market.items  # every item of every listing page: "Next" cost no depth
    assert kinds == {"listings", "item", "vendor"}  # listing -> item -> vendor


def test_depth_still_bounds_links_away_from_the_listing(tmp_path, home, market):
    kinds, items = crawl(tmp_path / "one", market, max_depth=1)
    assert len(items) == market.items and kinds == {"listings", "item"}  # vendors are a level below items
    kinds, items = crawl(tmp_path / "zero", market, max_depth=0)
    assert items == [] and kinds == {"listings"}  # only the listing's own pages
