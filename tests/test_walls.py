"""Walls (issue #14): detect() names the login, captcha, queue, challenge and seizure pages a crawl runs into, and
never mistakes a real page for one: the forum engines' threads, the demo sites, the paginated market, posts that
talk about captchas or seizures, guest login boxes, error pages, huge, binary and badly decoded bodies."""
from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from nigran.crawler.demo.server import SITES_DIR, DemoSites
from nigran.crawler.walls import BadDeclaration, Wall, detect, parse_refresh
from tests.support.paginated_market import PaginatedMarket

FIXTURES = Path(__file__).parent / "fixtures"
WALLS = FIXTURES / "walls"
HTML = {"Content-Type": "text/html; charset=utf-8"}
URL = "http://board.example/viewtopic.php?t=55"

# fixture -> (kind, refresh, refresh_url)
POSITIVE = {
    "phpbb_login_required.html": ("login", None, None),
    "phpbb_not_authorised.html": ("login", None, None),
    "mybb_no_permission.html": ("login", None, None),
    "xenforo1_login_required.html": ("login", None, None),
    "xenforo2_login.html": ("login", None, None),
    "vbulletin3_no_permission.html": ("login", None, None),
    "vbulletin4_no_permission.html": ("login", None, None),
    "vbulletin5_no_permission.html": ("login", None, None),
    "smf_login_required.html": ("login", None, None),
    "generic_login.html": ("login", None, None),
    "login_with_captcha.html": ("login", None, None),
    "endgame_queue.html": ("queue", 5.0, "http://board.example/queue?token=Zk3vQ9aLm2XcR7tYp0WbN4sJ"),
    "endgame_captcha.html": ("captcha", 300.0, URL),
    "hcaptcha.html": ("captcha", None, None),
    "ddos_guard.html": ("challenge", None, None),
    "cloudflare_just_a_moment.html": ("challenge", None, None),
    "cookie_reload.html": ("challenge", None, None),
    "seized.html": ("seized", None, None),
    "seized_image_only.html": ("seized", None, None),
}
NEGATIVE = sorted(p.name for p in (WALLS / "negative").glob("*.html"))
FORUMS = sorted(str(p.relative_to(FIXTURES / "forums")) for p in (FIXTURES / "forums").glob("*/*.html"))
GUEST_LOGIN_BOX = ('<div class="box"><form action="/login" method="post"><input name="user">'
                   '<input type="password" name="pass"><button>Log in</button></form></div>')


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def positive(name: str) -> str:
    return read(WALLS / "positive" / name)


def fetch(url: str) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode("utf-8", "replace")


# --- walls ----------------------------------------------------------------------------------------------------
def test_every_positive_fixture_has_an_expectation():
    assert sorted(POSITIVE) == sorted(p.name for p in (WALLS / "positive").glob("*.html"))


@pytest.mark.parametrize("name", sorted(POSITIVE))
def test_wall_fixture_is_named(name):
    kind, refresh, refresh_url = POSITIVE[name]
    wall = detect(URL, 200, HTML, positive(name))
    assert wall is not None, name
    assert (wall.kind, wall.refresh, wall.refresh_url) == (kind, refresh, refresh_url)
    assert wall.reason and "\n" not in wall.reason


@pytest.mark.parametrize("name, engine", [
    ("phpbb_login_required.html", "phpBB"), ("mybb_no_permission.html", "MyBB"),
    ("xenforo1_login_required.html", "XenForo"), ("xenforo2_login.html", "XenForo"),
    ("vbulletin3_no_permission.html", "vBulletin"), ("vbulletin4_no_permission.html", "vBulletin"),
    ("vbulletin5_no_permission.html", "vBulletin"), ("smf_login_required.html", "SMF")])
def test_engine_login_pages_say_which_engine(name, engine):
    assert engine in detect(URL, 200, HTML, positive(name)).reason


def test_queue_reason_says_when_it_refreshes():
    assert "refreshes in 5 s" in detect(URL, 200, HTML, positive("endgame_queue.html")).reason


@pytest.mark.parametrize("status", [403, 429, 503])
def test_guard_pages_are_walls_whatever_the_status(status):
    assert detect(URL, status, HTML, positive("cloudflare_just_a_moment.html")).kind == "challenge"
    assert detect(URL, status, HTML, positive("endgame_queue.html")).kind == "queue"


def test_login_walls_come_with_2xx_401_403_only():
    page = positive("vbulletin3_no_permission.html")
    assert [detect(URL, s, HTML, page) is not None for s in (200, 401, 403, 404, 500)] == \
        [True, True, True, False, False]


def test_cloudflare_header_alone_is_a_challenge():
    headers = {"Content-Type": "text/html", "CF-Mitigated": "challenge"}
    assert detect(URL, 403, headers, "<html><body></body></html>").kind == "challenge"


def test_captcha_wins_over_queue():
    page = ('<html><head><meta http-equiv="refresh" content="10"></head><body><p>You are in queue.</p>'
            '<form method="post"><img src="/captcha.png" alt="captcha"><input name="code"><button>Go</button></form>'
            '</body></html>')
    assert detect(URL, 200, HTML, page).kind == "captcha"


def test_waiting_page_refreshing_to_a_token_is_a_queue():
    page = "<html><head><meta http-equiv='refresh' content='4; url=/?q=9fA2kLm0Qx7Rt3Vb8Nc1'></head><body></body>"
    assert detect(URL, 200, HTML, page) == Wall("queue", "waiting page, refreshes in 4 s", 4.0,
                                                "http://board.example/?q=9fA2kLm0Qx7Rt3Vb8Nc1")


def test_refresh_header_of_a_queue_page():
    headers = {"content-type": "text/html", "refresh": "10;URL=/enter?ticket=Qm9vbGVhbi1xdWV1ZS0xMjM0NQ"}
    wall = detect(URL, 200, headers, "<html><body><h1>Please wait</h1><p>Too many visitors.</p></body></html>")
    assert (wall.kind, wall.refresh, wall.refresh_url) == \
        ("queue", 10.0, "http://board.example/enter?ticket=Qm9vbGVhbi1xdWV1ZS0xMjM0NQ")


@pytest.mark.parametrize("meta", [
    '<meta http-equiv="refresh" content="5;url=/q?t=abc">',
    "<META HTTP-EQUIV=Refresh CONTENT='5; URL=/q?t=abc'>",
    '<meta content=" 5 ,  url = &quot;/q?t=abc&quot; " http-equiv=" REFRESH ">',
    '<meta http-equiv="refresh" content="5.0; /q?t=abc">'])
def test_meta_refresh_is_read_however_written(meta):
    page = f"<html><head>{meta}</head><body><p>You are in the queue, please wait.</p></body></html>"
    wall = detect(URL, 200, HTML, page)
    assert (wall.kind, wall.refresh, wall.refresh_url) == ("queue", 5.0, "http://board.example/q?t=abc")


@pytest.mark.parametrize("value, expected", [
    ("5", (5.0, URL)),
    ("0;url=/x", (0.0, "http://board.example/x")),
    ("5; URL = '/x'", (5.0, "http://board.example/x")),
    ('3,url="http://other.example/y"', (3.0, "http://other.example/y")),
    ("2.5", (2.5, URL)),
    ("5; url=http://[::1", (5.0, None)),
    ("soon", None), ("", None), ("-5; url=/x", None)])
def test_parse_refresh(value, expected):
    assert parse_refresh(value, URL) == expected


# --- source declarations ------------------------------------------------------------------------------------
def test_missing_logged_in_marker_is_a_login_wall():
    page = read(FIXTURES / "forums" / "phpbb" / "page1.html")
    wall = detect(URL, 200, HTML, page, logged_in="a.logout")
    assert wall.kind == "login" and "a.logout" in wall.reason
    marked = page.replace('<body class="">', '<body class=""><a class="logout" href="/ucp.php?mode=logout">Logout</a>')
    assert detect(URL, 200, HTML, marked, logged_in="a.logout") is None


def test_logged_in_marker_ignored_on_errors_non_html_and_guard_pages():
    assert detect(URL, 404, HTML, "<html><body><h1>404</h1></body></html>", logged_in="a.logout") is None
    assert detect(URL, 200, {"content-type": "image/png"}, "\x89PNG", logged_in="a.logout") is None
    assert detect(URL, 200, HTML, positive("endgame_queue.html"), logged_in="a.logout").kind == "queue"


def test_logged_in_marker_found_beyond_the_prefilter_window():
    rows = "<p>row of a long listing, CNIC records</p>" * 6000
    page = f'<html><body>{rows}<a class="logout">x</a></body></html>'
    assert len(page) > 200_000
    assert detect(URL, 200, HTML, page, logged_in="a.logout") is None


def test_declared_login_url_and_selector():
    page = read(SITES_DIR / "market" / "index.html")
    assert detect(URL, 200, HTML, page) is None
    assert detect("http://m.example/auth/?next=/x", 200, HTML, page, login_url=r"/auth/").kind == "login"
    assert detect(URL, 200, HTML, page, login_url=r"/auth/") is None
    assert detect(URL, 200, HTML, page, login_selector=".session").kind == "login"
    assert detect(URL, 200, HTML, page, login_selector="form#gate") is None


@pytest.mark.parametrize("kwargs, message", [
    ({"logged_in": "div["}, "logged_in: not a CSS selector"),
    ({"login_selector": "a:::b"}, "login_selector: not a CSS selector"),
    ({"login_url": "(unclosed"}, "login_url: not a regular expression")])
@pytest.mark.parametrize("status, headers", [(200, HTML), (404, HTML), (200, {"content-type": "image/png"})])
def test_bad_declarations_fail_in_one_line_whatever_the_response(kwargs, message, status, headers):
    with pytest.raises(BadDeclaration) as err:
        detect(URL, status, headers, positive("generic_login.html"), **kwargs)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


@pytest.mark.parametrize("url", [
    "http://b.example/ucp.php?mode=login&redirect=index.php", "http://b.example/login", "http://b.example/login/",
    "http://b.example/member.php?action=login", "http://b.example/login/login",
    "http://b.example/index.php?action=login",
    "http://b.example/index.php?action=login2", "http://b.example/session/new", "http://b.example/login.php?do=login",
    "http://b.example/users/sign_in", "http://b.example/index.php?login/"])
def test_login_page_urls(url):
    assert detect(url, 200, HTML, "<html><body><p>Welcome back.</p></body></html>").kind == "login"


@pytest.mark.parametrize("url", [
    "http://b.example/threads/login.55/", "http://b.example/login-problems-after-move/", "http://b.example/logout",
    "http://b.example/ucp.php?mode=register", "http://b.example/viewtopic.php?t=5&action=loginhelp"])
def test_urls_that_only_look_like_login(url):
    assert detect(url, 200, HTML, "<html><body><p>Welcome back.</p></body></html>") is None


# --- real pages are not walls ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NEGATIVE)
def test_negative_fixture_is_no_wall(name):
    status = 404 if name.startswith("not_found") else 200
    assert detect(URL, status, HTML, read(WALLS / "negative" / name)) is None


@pytest.mark.parametrize("name", FORUMS)
def test_forum_engine_threads_are_no_walls(name):
    assert detect(URL, 200, HTML, read(FIXTURES / "forums" / name)) is None


REAL_PAGES = [FIXTURES / "forums" / name for name in FORUMS] + [
    SITES_DIR / "paste" / "paste" / "Gk7wPz2q.html", SITES_DIR / "forum" / "board" / "lounge.html"]


@pytest.mark.parametrize("path", REAL_PAGES, ids=lambda p: f"{p.parent.name}/{p.name}")
@pytest.mark.parametrize("where", ["top", "after the first block", "bottom"])
def test_guest_login_box_on_a_real_page_is_no_wall(path, where):
    page = read(path)
    body = page.index(">", page.index("<body")) + 1
    at = {"top": body, "after the first block": page.index("</div>", body) + 6, "bottom": page.index("</body>")}[where]
    assert detect(URL, 200, HTML, page[:at] + GUEST_LOGIN_BOX + page[at:]) is None


def test_demo_sites_serve_no_walls():
    with DemoSites() as demo:
        for site, base in demo.urls.items():
            files = [p.relative_to(SITES_DIR / site).as_posix() for p in (SITES_DIR / site).rglob("*") if p.is_file()]
            for path in [*files, "", "no-such-page.html"]:
                status, headers, text = fetch(base + path)
                assert detect(base + path, status, headers, text) is None, base + path


def test_paginated_market_pages_are_no_walls():
    with PaginatedMarket(pages=3, per_page=2) as market:
        base = market.server.base
        for path in ["/listings", "/listings?page=2", "/listings?page=3", "/item/0", "/item/5", "/vendor/1", "/nope"]:
            status, headers, text = fetch(base + path)
            assert detect(base + path, status, headers, text) is None, path


def test_big_normal_page_is_no_wall():
    posts = read(FIXTURES / "forums" / "phpbb" / "page1.html")
    head, body = posts.split("<body", 1)
    page = head + "<body" + body.replace("</body>", "") * 60 + positive("phpbb_login_required.html")
    assert len(page) > 1_000_000
    assert detect(URL, 200, HTML, page) is None


# --- what is never a wall, and never raises --------------------------------------------------------------------
@pytest.mark.parametrize("ctype, body", [
    ("image/png", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR captcha password"),
    ("application/json", '{"error": "You must be logged-in to do that.", "captcha": true}'),
    ("text/css", ".h-captcha { display: block } /* you are in queue */"),
    ("text/plain", positive("endgame_queue.html")),
    ("", "\x00\x01\x02 binary <html> password \xff\xfe" * 50),
    ("application/octet-stream", "PK\x03\x04\x00\x00 zip of seized.html"),
])
def test_non_html_is_never_a_wall(ctype, body):
    assert detect(URL, 200, {"Content-Type": ctype} if ctype else {}, body) is None


def test_missing_content_type_is_sniffed():
    assert detect(URL, 200, {}, positive("hcaptcha.html")).kind == "captcha"


def test_bytes_and_wrong_encodings():
    queue = positive("endgame_queue.html").encode("utf-8")
    assert detect(URL, 200, HTML, queue).kind == "queue"
    assert detect(URL, 200, HTML, queue.decode("cp1252", "replace")).kind == "queue"
    thread = read(FIXTURES / "forums" / "vbulletin3" / "page1.html")
    assert detect(URL, 200, HTML, thread.encode("utf-8").decode("latin-1")) is None
    assert detect(URL, 200, HTML, thread.encode("utf-16")) is None
    xml = '<?xml version="1.0" encoding="utf-8"?>\n' + positive("smf_login_required.html")
    assert detect(URL, 200, {"content-type": "application/xhtml+xml"}, xml).kind == "login"


@pytest.mark.parametrize("text", [
    "", "   ", "<!-- only a comment -->", "<<<>>><form><input type=password><input type=password",
    "<html><body>\x00\x0b\ud800 password \udfff captcha</body></html>",
    "<div>" * 100_000 + "password captcha queue",
    positive("vbulletin4_no_permission.html")[:3000],
    "<html><body><p>" + "é❤ please wait refresh " * 200_000 + "</p></body></html>",
])
def test_malformed_and_huge_bodies_do_not_raise(text):
    result = detect(URL, 200, HTML, text)
    assert result is None or isinstance(result, Wall)


@pytest.mark.parametrize("filler, kind", [(100_000, "seized"), (300_000, None)])
def test_only_the_first_200_kb_are_looked_at(filler, kind):
    page = f"<html><head><script>var pad = '{'x' * filler}';</script></head>{positive('seized.html')}</html>"
    wall = detect(URL, 200, HTML, page)
    assert (wall.kind if wall else None) == kind
