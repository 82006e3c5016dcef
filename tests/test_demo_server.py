"""The bundled demo sites: server behaviour, link integrity, and agreement with sources.yaml and expected.json."""
from __future__ import annotations

import gzip
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections import Counter
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from string import Template
from urllib.parse import urljoin, urlsplit

import pytest
import yaml

from nigran.crawler.demo.server import SITE_NAMES, SITES_DIR, DemoSites, accepts_gzip

DEMO_DIR = SITES_DIR.parent
EXPECTED = json.loads((DEMO_DIR / "expected.json").read_text(encoding="utf-8"))
REPO = Path(__file__).resolve().parents[1]


# --- helpers -------------------------------------------------------------------------------------
class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def text(self) -> str:
        raw = gzip.decompress(self.body) if self.headers.get("content-encoding") == "gzip" else self.body
        return raw.decode("utf-8")


def fetch(base: str, path: str, method: str = "GET", headers: dict[str, str] | None = None) -> Response:
    """One request with the path sent exactly as given (no client-side normalisation)."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)
    finally:
        conn.close()


class Links(HTMLParser):
    """hrefs of <a> and <link>, and ids of elements, from one page."""

    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("a", "link") and attrs.get("href"):
            self.hrefs.append(attrs["href"])
        if tag == "form" and attrs.get("action"):
            self.hrefs.append(attrs["action"])
        if attrs.get("id"):
            self.ids.append(attrs["id"])


def parse_links(html_text: str) -> Links:
    parser = Links()
    parser.feed(html_text)
    return parser


def crawl_site(base: str) -> dict[str, Response]:
    """Every same-site path reachable from the home page (fragments and queries dropped)."""
    seen: dict[str, Response] = {}
    queue = ["/"]
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        resp = fetch(base, path)
        seen[path] = resp
        if resp.status != 200 or not resp.headers["content-type"].startswith("text/html"):
            continue
        for href in parse_links(resp.text()).hrefs:
            url = urljoin(base.rstrip("/") + path, href)
            parts = urlsplit(url)
            if parts.netloc == urlsplit(base).netloc and parts.path not in seen:
                queue.append(parts.path)
    return seen


def demo_sources(urls: dict[str, str]) -> list[dict]:
    text = (DEMO_DIR / "sources.yaml").read_text(encoding="utf-8")
    bases = {name: url.rstrip("/") for name, url in urls.items()}
    return yaml.safe_load(Template(text).substitute(bases))["sources"]


@pytest.fixture(scope="module")
def demo():
    with DemoSites() as sites:
        yield sites


@pytest.fixture(scope="module")
def crawled(demo):
    return {name: crawl_site(demo.urls[name]) for name in SITE_NAMES}


# --- the server ----------------------------------------------------------------------------------
def test_every_site_answers_on_localhost(demo):
    assert set(demo.urls) == {"market", "forum", "paste"}
    assert len(set(demo.ports.values())) == 3
    for name, url in demo.urls.items():
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url), url
        resp = fetch(url, "/")
        assert resp.status == 200, name
        assert resp.headers["content-type"] == "text/html; charset=utf-8"
        assert '<meta charset="utf-8">' in resp.text()


def test_all_internal_links_resolve(demo, crawled):
    for name, pages in crawled.items():
        broken = {path: r.status for path, r in pages.items() if r.status != 200}
        assert not broken, f"{name}: broken links {broken}"
    assert len(crawled["market"]) >= 30  # 3 listing pages, 20 items, 7 vendors, css...
    assert len(crawled["forum"]) >= 20
    assert len(crawled["paste"]) >= 12


def test_pages_are_utf8_html_with_one_stylesheet(crawled):
    for name, pages in crawled.items():
        sheets = {p for p, r in pages.items() if r.headers["content-type"].startswith("text/css")}
        assert len(sheets) == 1, (name, sheets)
        for path, resp in pages.items():
            if resp.headers["content-type"].startswith("text/html"):
                assert '<meta charset="utf-8">' in resp.text(), (name, path)


def test_gzip_only_when_asked(demo):
    base = demo.urls["forum"]
    path = "/thread/cdr-call-history-all-networks-1.html"
    on_disk = (SITES_DIR / "forum" / path.lstrip("/")).read_bytes()

    plain = fetch(base, path)
    assert "content-encoding" not in plain.headers
    assert plain.body == on_disk
    assert int(plain.headers["content-length"]) == len(on_disk)

    zipped = fetch(base, path, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["content-type"] == "text/html; charset=utf-8"
    assert zipped.body != on_disk  # raw bytes on the wire differ from the page
    assert gzip.decompress(zipped.body) == on_disk
    assert int(zipped.headers["content-length"]) == len(zipped.body)
    assert "accept-encoding" in zipped.headers["vary"].lower()
    assert fetch(base, path, headers={"Accept-Encoding": "gzip"}).body == zipped.body  # stable bytes

    for header in ("identity", "deflate, br", "gzip;q=0", "*;q=0"):
        resp = fetch(base, path, headers={"Accept-Encoding": header})
        assert "content-encoding" not in resp.headers, header
        assert resp.body == on_disk

    head = fetch(base, path, method="HEAD", headers={"Accept-Encoding": "gzip"})
    assert head.status == 200 and head.body == b""
    assert head.headers["content-length"] == zipped.headers["content-length"]


def test_accepts_gzip_parsing():
    assert accepts_gzip("gzip")
    assert accepts_gzip("br;q=1.0, gzip;q=0.8, *;q=0.1")
    assert accepts_gzip("*")
    assert accepts_gzip("X-GZIP")
    assert not accepts_gzip(None)
    assert not accepts_gzip("")
    assert not accepts_gzip("identity")
    assert not accepts_gzip("gzip;q=0, *;q=1")
    assert not accepts_gzip("gzip;q=0.0")


def test_unknown_path_is_a_small_html_404(demo):
    for name in SITE_NAMES:
        for headers in ({}, {"Accept-Encoding": "gzip"}):
            resp = fetch(demo.urls[name], "/no/such/page.html", headers=headers)
            assert resp.status == 404
            assert resp.headers["content-type"] == "text/html; charset=utf-8"
            assert "404" in resp.text() and len(resp.text()) < 1000
    assert fetch(demo.urls["market"], "/listings/").status == 404  # a directory without an index
    assert fetch(demo.urls["market"], "/listings/4.html").status == 404


def test_only_get_and_head(demo):
    resp = fetch(demo.urls["paste"], "/", method="POST", headers={"Content-Length": "0"})
    assert resp.status == 405
    assert "GET" in resp.headers["allow"]


@pytest.mark.parametrize("path", [
    "/../server.py",
    "/../../crawler/demo/server.py",
    "/%2e%2e/server.py",
    "/%2E%2E/%2E%2E/demo/server.py",
    "/item/..%2f..%2fserver.py",
    "/static/../../forum/index.html",
    "/..%5cserver.py",
    "/%00index.html",
    "/....//....//server.py",
])
def test_path_traversal_is_refused(demo, path):
    secret = (DEMO_DIR / "server.py").read_bytes()[:200]
    resp = fetch(demo.urls["market"], path)
    assert resp.status in (400, 403, 404), path
    assert secret not in resp.body
    assert b"Andheri Gali" not in resp.body  # not another site's page either


def test_bad_request_targets(demo):
    assert fetch(demo.urls["market"], "/%ff%fe.html").status == 400
    assert fetch(demo.urls["market"], "/index.html?page=2#frag").status == 200


def test_access_log_records_requests(demo):
    demo.clear_log()
    base = demo.urls["market"]
    fetch(base, "/item/cnic-colour-copy-front-back.html")
    fetch(base, "/missing.html")
    fetch(base, "/../etc/passwd")
    log = demo.access_log["market"]
    assert ("127.0.0.1", "GET", "/item/cnic-colour-copy-front-back.html", 200) in log
    assert ("127.0.0.1", "GET", "/missing.html", 404) in log
    assert ("127.0.0.1", "GET", "/../etc/passwd", 403) in log
    assert demo.access_log["forum"] == [] and demo.access_log["paste"] == []
    assert all(isinstance(e, tuple) and len(e) == 4 for e in log)


def test_server_is_quiet(capfd):
    with DemoSites() as sites:
        fetch(sites.urls["paste"], "/")
        fetch(sites.urls["paste"], "/nothing")
        fetch(sites.urls["paste"], "/../x")
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert [e[3] for e in sites.access_log["paste"]] == [200, 404, 403]


def test_given_ports_start_stop_and_restart():
    free = []
    for _ in SITE_NAMES:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            free.append(s.getsockname()[1])
    ports = dict(zip(SITE_NAMES, free))
    sites = DemoSites(ports)
    with pytest.raises(RuntimeError):
        sites.urls  # noqa: B018
    sites.start()
    try:
        assert sites.ports == ports
        assert sites.urls["forum"] == f"http://127.0.0.1:{ports['forum']}/"
        assert fetch(sites.urls["forum"], "/").status == 200
    finally:
        sites.stop()
    with pytest.raises(OSError):
        fetch(f"http://127.0.0.1:{ports['forum']}/", "/")
    with sites:  # restartable, same ports
        assert fetch(sites.urls["forum"], "/").status == 200
    with pytest.raises(ValueError):
        DemoSites({"shop": 0})


def test_module_serves_in_the_foreground():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "nigran.crawler.demo.server"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        urls = {}
        for _ in range(3):
            name, url = proc.stdout.readline().split()
            urls[name] = url
        assert set(urls) == set(SITE_NAMES)
        assert fetch(urls["paste"], "/").status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0


# --- the content ---------------------------------------------------------------------------------
def test_expected_json_is_well_formed():
    keys = {"site", "path", "post_id", "kind", "categories", "language"}
    seen = set()
    for entry in EXPECTED:
        assert set(entry) == keys, entry
        assert entry["site"] in SITE_NAMES
        assert entry["kind"] in ("offer", "request", "other")
        assert entry["language"] in ("en", "roman_ur", "ur", "mixed")
        assert entry["categories"] == sorted(set(entry["categories"]))
        assert set(entry["categories"]) <= {"call_logs", "cnic", "sim", "travel"}
        if entry["kind"] == "other":
            assert entry["categories"] == []
        assert (entry["post_id"] is None) == (entry["site"] == "paste")
        key = (entry["site"], entry["path"], entry["post_id"])
        assert key not in seen, key
        seen.add(key)
    kinds = Counter(e["kind"] for e in EXPECTED)
    assert 40 <= len(EXPECTED) <= 65
    assert kinds["offer"] * 3 >= len(EXPECTED) and kinds["request"] >= 5 and kinds["other"] >= 10
    assert {e["language"] for e in EXPECTED} == {"en", "roman_ur", "ur", "mixed"}
    for cat in ("call_logs", "cnic", "sim", "travel"):
        assert any(cat in e["categories"] for e in EXPECTED if e["kind"] == "offer"), cat


def test_expected_paths_exist_and_are_reachable(demo, crawled):
    for entry in EXPECTED:
        resp = fetch(demo.urls[entry["site"]], entry["path"])
        assert resp.status == 200, entry
        assert entry["path"] in crawled[entry["site"]], f"not linked from the site: {entry}"
        if entry["post_id"] is not None:
            assert entry["post_id"] in parse_links(resp.text()).ids, entry


def test_selectors_find_exactly_the_expected_posts(demo, crawled):
    """sources.yaml's post selector finds every expected post and nothing else, with its fields."""
    from parsel import Selector

    sources = {s["kind"]: s for s in demo_sources(demo.urls)}
    for site in ("market", "forum"):
        source = sources[site]
        wanted = {(e["path"], e["post_id"]) for e in EXPECTED if e["site"] == site}
        found = set()
        for path, resp in crawled[site].items():
            if not resp.headers["content-type"].startswith("text/html"):
                continue
            for block in Selector(text=resp.text()).css(source["post"]):
                found.add((path, block.attrib.get("id")))
                fields = source["fields"]
                assert block.css(fields["text"]).get(), (path, "text")
                assert block.css(fields["author"] + "::text").get().strip(), (path, "author")
                when = datetime.fromisoformat(block.css(fields["posted_at"]).get().replace("Z", "+00:00"))
                assert when.tzinfo is not None, (path, "posted_at")
                if "price" in fields:
                    assert block.css(fields["price"] + "::text").get().strip(), (path, "price")
                if site == "market":
                    assert block.css(fields["title"] + "::text").get().strip(), (path, "title")
        assert found == wanted, site


def test_follow_selectors_reach_every_expected_page(demo):
    """Following only the configured `follow` selectors within max_depth/max_pages reaches all posts."""
    from parsel import Selector

    for source in demo_sources(demo.urls):
        if not source.get("follow"):
            continue
        site = source["kind"]
        base = demo.urls[site]
        frontier, seen = ["/"], {"/"}
        for _depth in range(source["max_depth"]):
            nxt = []
            for path in frontier:
                sel = Selector(text=fetch(base, path).text())
                for selector in source["follow"]:
                    for href in sel.css(selector).xpath("@href").getall():
                        target = urlsplit(urljoin(base, href)).path
                        if target not in seen:
                            seen.add(target)
                            nxt.append(target)
            frontier = nxt
        assert len(seen) <= source["max_pages"], site
        missing = {e["path"] for e in EXPECTED if e["site"] == site} - seen
        assert not missing, (site, missing)


def test_sources_yaml_validates():
    from nigran.config.schema import parse_sources

    urls = {"market": "http://127.0.0.1:8001/", "forum": "http://127.0.0.1:8002/",
            "paste": "http://127.0.0.1:8003/"}
    raw = demo_sources(urls)
    sources = {s.name: s for s in parse_sources({"sources": raw}, "sources.yaml")}
    assert set(sources) == {"demo-market", "demo-forum", "demo-paste"}
    for source in sources.values():
        assert source.via == "direct"
        assert source.kind == source.name.removeprefix("demo-")
        assert source.start_urls == [urls[source.kind]]
        assert source.allowed_domains == ["127.0.0.1"]
    paste = next(s for s in raw if s["kind"] == "paste")
    assert set(paste) <= {"name", "kind", "start_urls", "via", "max_depth", "max_pages", "tags"}


def test_paste_site_is_bare_and_segments_by_itself(crawled):
    """No classes or ids on the paste site; the generic segmenter gets one post per paste, none elsewhere."""
    segment = pytest.importorskip("nigran.spiders.segment").segment
    from nigran.spiders.text import parse_html

    pastes = {e["path"] for e in EXPECTED if e["site"] == "paste"}
    for path, resp in crawled["paste"].items():
        if not resp.headers["content-type"].startswith("text/html"):
            continue
        markup = resp.text()
        assert not re.search(r"\s(class|id)=", markup), path
        blocks = segment(parse_html(markup))
        if path in pastes:
            pre = re.search(r"<pre[^>]*>(.*?)</pre>", markup, re.S).group(1)
            first_line = pre.strip().splitlines()[0]
            assert any(first_line.split()[0] in b.text for b in blocks), path
        else:
            assert blocks == [], path


SYNTHETIC = {
    "cnic": re.compile(r"(?<![0-9])[0-9]{5}-[0-9]{7}-[0-9](?![0-9])"),
    "mobile": re.compile(r"(?<![0-9+])(?:\+92[\s-]?|92|0)3[0-9]{2}[\s-]?[0-9]{7}(?![0-9])"),
}


def test_identifiers_are_well_formed_synthetic_values():
    import phonenumbers

    cnics, mobiles = set(), set()
    for page in SITES_DIR.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        for m in SYNTHETIC["cnic"].finditer(text):
            assert m.group()[0] in "1234567", (page.name, m.group())
            cnics.add(m.group())
        for m in SYNTHETIC["mobile"].finditer(text):
            number = phonenumbers.parse(m.group(), "PK")
            assert phonenumbers.is_valid_number(number), (page.name, m.group())
            assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE, (page.name, m.group())
            mobiles.add(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    assert len(cnics) >= 10 and len(mobiles) >= 15
