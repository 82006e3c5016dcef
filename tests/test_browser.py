"""`render: browser` sources in the system Chromium, through the real `nigran crawl`, on a local JavaScript shop."""
from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from nigran.storage.bodies import BodyStore
from nigran.storage.db import Database
from nigran.storage.models import Capture, Offer, Post
from tests.support.js_shop import JsShop, listings
from tests.support.run import nigran

pytestmark = pytest.mark.browser
PAGES = 3
TIMEOUT = 5  # seconds; the stalled and frozen pages fail after it (2 s was less than a cold Chromium's first load)
TITLES = {item["title"] for key in [*map(str, range(1, PAGES + 1)), "chatty"] for item in listings(key)}


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """One crawl of the shop as two sources: rendered in Chromium (with its troublesome pages too), and over HTTP."""
    home = tmp_path_factory.mktemp("home")
    with JsShop(pages=PAGES) as shop:
        base = shop.base_url
        sources = home / "sources.yaml"
        sources.write_text(yaml.safe_dump({"sources": [
            {"name": "shop-browser", "kind": "market", "via": "direct", "render": "browser", "timeout": TIMEOUT,
             "start_urls": [f"{base}/", f"{base}/chatty", f"{base}/frozen", f"{base}/stalled"]},
            {"name": "shop-http", "kind": "market", "via": "direct", "start_urls": [f"{base}/"]},
        ]}))
        db_url = f"sqlite:///{home / 'nigran.db'}"
        done = nigran("crawl", "--sources", str(sources), "--db", db_url, "--json", env={"NIGRAN_HOME": str(home)})
        summary = json.loads(done.stdout.decode().strip().splitlines()[-1])
        yield {"shop": shop, "home": home, "db": Database(db_url), "stderr": done.stderr.decode().splitlines(),
               "sources": {s["source"]: s for s in summary["sources"]}}


def export(crawled, out: Path):
    done = nigran("export", "--db", crawled["db"].url, "--out", str(out), "--dir", "--source", "shop-browser",
                  "--operator", "alice", "--case", "C-7", env={"NIGRAN_HOME": str(crawled["home"]), "NIGRAN_TSA_URLS": ""})
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return out


def rows(db: Database, model, source: str) -> list:
    with db.session() as session:
        return list(session.scalars(select(model).where(model.source == source)))


def found(texts) -> set[str]:
    """Listing titles (each a line of its post) among the texts."""
    lines = {line for text in texts for line in text.splitlines()}
    return TITLES & lines


def test_listings_built_by_javascript_become_offers_only_in_the_browser(crawled):
    db = crawled["db"]
    browser_posts = rows(db, Post, "shop-browser")
    assert found(post.text for post in browser_posts) == TITLES  # pages 2 and 3 reached through links JS built
    offers = rows(db, Offer, "shop-browser")
    assert {post.id for post in browser_posts if found([post.text])} <= {offer.post_id for offer in offers}
    assert {category for offer in offers for category in offer.categories} == {"cnic", "sim", "call_logs", "travel"}

    assert crawled["sources"]["shop-http"]["ok"]
    assert found(post.text for post in rows(db, Post, "shop-http")) == set()
    assert rows(db, Offer, "shop-http") == []
    assert crawled["shop"].log.count("/page/2") == 1  # only the browser found the link
    assert {c.transport for c in rows(db, Capture, "shop-http")} == {"direct"}


def test_each_rendered_page_keeps_document_dom_and_screenshot_that_verify(crawled):
    db, bodies = crawled["db"], BodyStore(crawled["home"] / "bodies")
    captures = rows(db, Capture, "shop-browser")
    base = crawled["shop"].base_url
    pages = {f"{base}/", f"{base}/page/2", f"{base}/page/3", f"{base}/chatty"}
    assert {c.url for c in captures} == pages
    for url in pages:
        kinds = {c.kind: c for c in captures if c.url == url}
        assert set(kinds) == {"http", "dom", "screenshot"} and {c.transport for c in kinds.values()} == {"direct"}  # the route, not the renderer
        for capture in kinds.values():
            body = bodies.get(capture.body_sha256)
            assert hashlib.sha256(body).hexdigest() == capture.body_sha256 and len(body) == capture.body_size
        document, dom = bodies.get(kinds["http"].body_sha256), bodies.get(kinds["dom"].body_sha256)
        assert b'id="listings"' in document and b'class="listing"' not in document  # as the server sent it
        assert dom.count(b'class="listing"') == (1 if url.endswith("chatty") else 4)  # after scripts ran
        assert bodies.get(kinds["screenshot"].body_sha256).startswith(b"\x89PNG\r\n\x1a\n")
    dom_ids = {c.id for c in captures if c.kind == "dom"}
    assert {post.latest_capture_id for post in rows(db, Post, "shop-browser")} <= dom_ids  # posts cite what was shown


def test_stalled_and_frozen_pages_fail_with_a_clear_error_and_the_crawl_goes_on(crawled):
    base, stderr = crawled["shop"].base_url, crawled["stderr"]
    report = crawled["sources"]["shop-browser"]
    assert report["ok"] and report["errors"] == 2
    (stalled,) = [line for line in stderr if f"{base}/stalled failed" in line]
    assert f"the page did not load within {TIMEOUT} s" in stalled
    (frozen,) = [line for line in stderr if f"{base}/frozen failed" in line]
    assert "the page hung after loading" in frozen
    # A hung page is not retried (Scrapy would fetch it 3 times). Chromium itself may send the navigation
    # twice when it finds a kept-alive connection closed, which the old code did too under load.
    assert crawled["shop"].log.count("/frozen") <= 2


def test_an_exported_rendered_offer_carries_its_document_dom_and_screenshot(crawled, tmp_path):
    bundle = export(crawled, tmp_path / "bundle")
    with zipfile.ZipFile(bundle / "captures.wacz") as wacz:
        warc = wacz.read("archive/data.warc.gz")
    records = {}
    for record in ArchiveIterator(io.BytesIO(warc)):
        h = record.rec_headers
        records[(h.get_header("WARC-Type"), h.get_header("WARC-Target-URI"))] = (
            h.get_header("WARC-Record-ID"), h.get_header("WARC-Concurrent-To"), record.content_stream().read())
    url = f"{crawled['shop'].base_url}/"
    response_id, _, document = records[("response", url)]
    dom_to, shot_to = records[("resource", f"urn:dom:{url}")][1], records[("resource", f"urn:screenshot:{url}")][1]
    assert dom_to == shot_to == response_id  # both artefacts are tied to the page's response record
    assert b'id="listings"' in document and b'class="listing"' in records[("resource", f"urn:dom:{url}")][2]
    assert records[("resource", f"urn:screenshot:{url}")][2].startswith(b"\x89PNG\r\n\x1a\n")

    (tmp_path / "data.warc.gz").write_bytes(warc)
    check = subprocess.run([str(Path(sys.executable).parent / "warcio"), "check", str(tmp_path / "data.warc.gz")],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    verified = nigran("verify", str(bundle), "--key", str(crawled["home"] / "signing.pub"),
                      env={"NIGRAN_HOME": str(crawled["home"])})
    assert verified.returncode == 0 and verified.stdout.decode().rstrip().endswith("VALID"), verified.stdout.decode()
    assert 'src="data:image/png;base64,' in (bundle / "report.html").read_text()  # the report shows the screenshot
