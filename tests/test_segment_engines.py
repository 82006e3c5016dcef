"""Segmentation without selectors on thread pages in the markup of real forum engines (fixtures in
tests/fixtures/forums/<engine>/, synthetic data, expected posts in expected.json next to the pages)."""
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import get_args

import pytest
from sqlalchemy import select

from nigran.config.schema import ForumEngine
from nigran.spiders.segment import ENGINES, parse_date, segment
from nigran.spiders.text import parse_html
from nigran.storage.db import Database
from nigran.storage.models import Post
from tests.support.fixture_server import FixtureServer
from tests.support.run import nigran, sources_file

FORUMS = Path(__file__).parent / "fixtures" / "forums"
PAGES = [(d.name, page, json.loads((d / "expected.json").read_text())["engine"])
         for d in sorted(FORUMS.iterdir()) for page in json.loads((d / "expected.json").read_text())["pages"]]


def _found(blocks):
    return [(b.author, b.posted_at.isoformat() if b.posted_at else None) for b in blocks]


@pytest.mark.parametrize("forum,page,engine", PAGES, ids=[f"{f}-{p['file']}" for f, p, _ in PAGES])
def test_forum_threads_segment_into_their_posts_with_author_and_date(forum, page, engine):
    markup = (FORUMS / forum / page["file"]).read_text(encoding="utf-8")
    blocks = segment(parse_html(markup))
    expected = [(p["author"], p["posted_at"]) for p in page["posts"]]
    assert len(blocks) == len(expected)
    assert len({id(b.element) for b in blocks}) == len(blocks)
    assert not any(b.element.tag == "blockquote" or "quote" in (b.element.get("class") or "") for b in blocks)
    found = _found(blocks)
    for key in (0, 1):  # author, posted_at
        right = sum(f[key] == e[key] for f, e in zip(found, expected))
        assert right >= 0.95 * len(expected), (key, found, expected)
    assert _found(segment(parse_html(markup), engine=engine)) == found
    assert [b.text for b in segment(parse_html(markup), engine=engine)] == [b.text for b in blocks]


def test_every_engine_has_a_fixture_and_unknown_engines_are_refused():
    assert {json.loads((d / "expected.json").read_text())["engine"] for d in FORUMS.iterdir()} == set(ENGINES)
    with pytest.raises(ValueError):
        segment(parse_html("<p>x</p>"), engine="ipb")


@pytest.mark.parametrize("value,when", [
    ("2024-03-04T08:15:00+05:00", datetime(2024, 3, 4, 3, 15, tzinfo=timezone.utc)),
    ("2024-03-04T08:15:00", datetime(2024, 3, 4, 8, 15, tzinfo=timezone.utc)),
    ("1709540100", datetime(2024, 3, 4, 8, 15, tzinfo=timezone.utc)),
    ("1709540100000", datetime(2024, 3, 4, 8, 15, tzinfo=timezone.utc)),
    ("« Reply #3 on: March 04, 2024, 08:15:00 AM »", datetime(2024, 3, 4, 8, 15, tzinfo=timezone.utc)),
    ("yesterday", None), ("", None), ("99999999999999999999", None),
])
def test_dates_are_read_as_utc_or_left_empty(value, when):
    assert parse_date(value) == when


def test_market_cards_and_table_rows_segment_as_before():
    cards = "".join(f'<div class="card" id="item-{i}"><h3>SIM owner lookup {i}</h3><p>All networks, delivery in one '
                    f'hour, price {i}00 PKR, WhatsApp 0300-123456{i}</p></div>' for i in range(5))
    blocks = segment(parse_html(f"<html><body><nav><a href=/>Home</a></nav><main>{cards}</main></body></html>"))
    assert [b.anchor for b in blocks] == [f"item-{i}" for i in range(5)]
    assert all(b.author is None and b.posted_at is None for b in blocks)
    rows = "".join(f'<tr class="{"odd" if i % 2 else "even"}"><td>CDR one month {i}</td><td>all networks, location '
                   f'included, 5000 PKR</td></tr>' for i in range(4))
    assert len(segment(parse_html(f"<table>{rows}</table>"))) == 4


def test_a_plain_article_is_one_post_and_a_link_list_none():
    article = "<html><body><header><a href=/>Site</a></header><article><h1>News</h1><p>" + \
        "The authority warned citizens about sellers of CNIC copies. " * 5 + "</p></article></body></html>"
    blocks = segment(parse_html(article))
    assert [(b.anchor, b.author) for b in blocks] == [("page", None)] and "warned citizens" in blocks[0].text
    links = "<html><body>" + "".join(f'<p><a href="/{i}">A link to page number {i}</a></p>' for i in range(9)) + \
        "</body></html>"
    assert segment(parse_html(links)) == []


@pytest.mark.parametrize("forum", ["phpbb", "xenforo1", "smf", "nodebb"])
def test_a_last_page_with_one_post_still_yields_that_post_with_its_author(forum):
    page = json.loads((FORUMS / forum / "expected.json").read_text())["pages"][-1]
    root = parse_html((FORUMS / forum / page["file"]).read_text(encoding="utf-8"))
    posts = segment(root)
    for block in posts[1:]:
        block.element.drop_tree()
    [post] = segment(root)
    assert (post.author, post.posted_at.isoformat()) == (page["posts"][0]["author"], page["posts"][0]["posted_at"])


def test_the_engines_config_accepts_are_the_engines_segmentation_knows():
    assert set(get_args(ForumEngine)) == set(ENGINES)


@pytest.mark.parametrize("engine", [None, "xenforo"])
def test_a_crawled_xenforo_thread_stores_every_post_with_author_and_date(tmp_path, home, engine):
    """The 3-page XenForo 1 fixture served as XenForo serves it (`<base href="/">`): at max_depth 0 the crawl
    follows only the thread's own pages, and stores each post once with its author and time."""
    folder = FORUMS / "xenforo1"
    pages = [(folder / p["file"]).read_bytes().replace(b"<head>", b'<head><base href="/">', 1)
             for p in json.loads((folder / "expected.json").read_text())["pages"]]
    expected = [post for p in json.loads((folder / "expected.json").read_text())["pages"] for post in p["posts"]]

    def route(request):
        m = re.fullmatch(r"/threads/cnic-copy\.55/(?:page-(\d+))?", request.path)
        n = int(m.group(1) or 1) if m else 0
        return (200, {"Content-Type": "text/html; charset=utf-8"}, pages[n - 1]) if 1 <= n <= len(pages) \
            else (404, {}, b"not found")

    with FixtureServer(route) as site:
        source = {"name": "xf", "via": "direct", "start_urls": [site.url("/threads/cnic-copy.55/")], "max_depth": 0,
                  **({"engine": engine} if engine else {})}
        db_url = f"sqlite:///{tmp_path / 'nigran.db'}"
        result = nigran("crawl", "--sources", sources_file(tmp_path, [source]), "--db", db_url, "--json")
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    with Database(db_url).session() as s:
        stored = s.execute(select(Post.author, Post.posted_at).order_by(Post.posted_at)).all()
    assert len(stored) == len(expected) == 30
    assert sorted((a, t.isoformat()) for a, t in stored) == sorted((p["author"], p["posted_at"]) for p in expected)
