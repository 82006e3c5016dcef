"""Stored sessions (issue #14): the encrypted store, which cookies a request carries, browser exports read by
their content, `nigran session list/import/remove`, and the members-only forum that the login tests use."""
from __future__ import annotations

import json
import os
import re
import stat
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner

from nigran.crawler.cli import main
from nigran.storage.session_import import MAX_IMPORT, read_session_file
from nigran.storage.sessions import SessionError, SessionInfo, SessionState, SessionStore, check_name, cookie
from tests.support.members_forum import BAD_PASSWORD, PASSWORD, SID, WALL, MembersForum

SECRET = "S3cr3t-c00kie-VALUE-4f9a"
KEY = bytes(range(32))
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def state(*cookies: dict, origins=()) -> SessionState:
    return SessionState(list(cookies) or [cookie("sid", SECRET, "forum.example")], list(origins))


def run(*args: str):
    return CliRunner().invoke(main, args, prog_name="nigran")


def one_line_error(exc_info, *absent: str) -> str:
    message = str(exc_info.value)
    assert "\n" not in message and message
    for text in (SECRET, *absent):
        assert text not in message
    return message


# --- the store --------------------------------------------------------------------------------------

def test_a_saved_session_opens_again_as_it_was(tmp_path):
    store = SessionStore(tmp_path / "sessions", KEY)
    saved = state(cookie("sid", SECRET, ".forum.example", expires=NOW.timestamp() + 3600, http_only=True,
                         secure=True, same_site="Strict"),
                  origins=[{"origin": "https://forum.example", "localStorage": [{"name": "token", "value": SECRET}]}])
    store.save("forum", saved)
    assert store.exists("forum") and not store.exists("other")
    assert store.load("forum") == saved
    assert SessionStore(tmp_path / "sessions", KEY).load("forum").storage_state() == saved.storage_state()


def test_a_session_file_is_private_and_holds_no_cookie_value_in_clear(tmp_path):
    store = SessionStore(tmp_path / "sessions", KEY)
    path = store.save("forum", state())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    data = path.read_bytes()
    assert SECRET.encode() not in data and b"forum.example" not in data
    store.save("forum", state(cookie("sid", "other", "forum.example")))  # replaced whole, nothing left beside
    assert [p.name for p in path.parent.iterdir()] == ["forum.session"]
    assert store.load("forum").cookies[0]["value"] == "other"


def test_the_default_store_is_in_the_data_home_under_the_installation_key(home):
    SessionStore().save("forum", state())
    assert (home / "sessions" / "forum.session").is_file()
    assert SessionStore().load("forum") == SessionStore(home / "sessions").load("forum")
    with pytest.raises(SessionError, match="another installation key"):
        SessionStore(key=KEY).load("forum")


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.rename(p.with_name("other.session")), "renamed from another session"),
    (lambda p: p.write_bytes(p.read_bytes()[:-5]), "does not open"),
    (lambda p: p.write_bytes(p.read_bytes()[:20]), "damaged or truncated"),
    (lambda p: p.write_bytes(b""), "damaged or truncated"),
    (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200)), "not a nigran session file"),
    (lambda p: p.write_bytes(p.read_bytes()[:30] + bytes([p.read_bytes()[30] ^ 1]) + p.read_bytes()[31:]),
     "does not open"),
])
def test_a_damaged_or_renamed_session_file_is_one_line_error(tmp_path, damage, message):
    store = SessionStore(tmp_path, KEY)
    damage(store.save("forum", state()))
    name = "other" if "renamed" in message else "forum"
    with pytest.raises(SessionError) as exc_info:
        store.load(name)
    assert message in one_line_error(exc_info)


def test_a_wrong_key_does_not_open_the_session(tmp_path):
    SessionStore(tmp_path, KEY).save("forum", state())
    with pytest.raises(SessionError) as exc_info:
        SessionStore(tmp_path, bytes(32)).load("forum")
    assert "sealed under another installation key" in one_line_error(exc_info)


def test_a_missing_session_says_how_to_make_one(tmp_path):
    with pytest.raises(SessionError) as exc_info:
        SessionStore(tmp_path, KEY).load("forum")
    assert one_line_error(exc_info) == ("no session 'forum' (run: nigran session login SOURCE, "
                                        "or nigran session import forum FILE)")


@pytest.mark.parametrize("name", ["..", "../forum", "a/b", ".hidden", "Forum", "forum\n", "", "-x", "x" * 64,
                                  "forum.session", None, 7])
def test_names_that_are_no_slug_are_refused_before_any_file_is_touched(tmp_path, name):
    store = SessionStore(tmp_path / "sessions", KEY)
    for call in (lambda: check_name(name), lambda: store.save(name, state()), lambda: store.load(name),
                 lambda: store.remove(name)):
        with pytest.raises(SessionError, match="not a session name"):
            call()
    assert list(tmp_path.iterdir()) == []


def test_list_describes_sessions_without_values_and_flags_unreadable_ones(tmp_path):
    store = SessionStore(tmp_path, KEY)
    assert SessionStore(tmp_path / "none", KEY).list() == []
    store.save("b-forum", state(cookie("sid", SECRET, ".b.example", expires=NOW.timestamp()),
                                cookie("lang", "en", "www.b.example")))
    store.save("a-forum", state())
    (tmp_path / "broken.session").write_bytes(b"junk")
    (tmp_path / "Bad Name.session").write_bytes(b"junk")
    infos = store.list()
    assert [i.name for i in infos] == ["Bad Name", "a-forum", "b-forum", "broken"]
    assert "not a session name" in infos[0].error and "damaged or truncated" in infos[3].error
    b = infos[2].as_dict()
    assert b["cookies"] == 2 and b["domains"] == ["b.example", "www.b.example"] and b["origin"] == "login"
    assert b["expires_at"] == "2026-01-01T00:00:00Z" and b["expired"] is True and b["error"] is None
    assert SECRET not in json.dumps([i.as_dict() for i in infos])


def test_remove_says_whether_there_was_one(tmp_path):
    store = SessionStore(tmp_path, KEY)
    store.save("forum", state())
    assert store.remove("forum") is True and store.remove("forum") is False and not store.exists("forum")


# --- which cookies a request carries ----------------------------------------------------------------

def test_host_only_and_domain_cookies_go_where_a_browser_sends_them():
    s = state(cookie("host", "1", "forum.example"), cookie("dom", "2", ".forum.example"),
              cookie("ip", "3", "127.0.0.1"), cookie("ipdom", "4", ".0.0.1"))

    def names(url):
        return [c["name"] for c in s.cookies_for(url)]

    assert names("http://forum.example/") == ["host", "dom"]
    assert names("http://www.forum.example/x") == ["dom"]
    assert names("http://FORUM.example./") == ["host", "dom"]
    assert names("http://evilforum.example/") == names("http://example/") == []
    assert names("http://127.0.0.1:8080/index.php") == ["ip"]  # never a domain cookie to an IP address


def test_paths_match_as_rfc_6265_says_longest_first():
    s = state(cookie("root", "1", "f.example"), cookie("forum", "2", "f.example", path="/forum"),
              cookie("slash", "3", "f.example", path="/forum/"))

    def names(url):
        return [c["name"] for c in s.cookies_for(url)]

    assert names("http://f.example/forum/viewtopic.php") == ["slash", "forum", "root"]
    assert names("http://f.example/forum") == ["forum", "root"]
    assert names("http://f.example/forumx") == names("http://f.example") == ["root"]


def test_secure_cookies_go_over_https_and_to_onion_services_only():
    s = state(cookie("sec", "1", ".example.onion", secure=True), cookie("sec", "1", "clear.example", secure=True))
    assert s.cookies_for("http://abc.example.onion/") == [s.cookies[0]]  # as Tor Browser does
    assert s.cookies_for("https://clear.example/") == [s.cookies[1]]
    assert s.cookies_for("http://clear.example/") == []


def test_expired_cookies_are_dropped_session_cookies_kept_and_the_first_expiry_told():
    soon, later = NOW + timedelta(hours=1), NOW + timedelta(days=30)
    s = state(cookie("session", "1", "f.example"), cookie("soon", "2", "f.example", expires=soon.timestamp()),
              cookie("later", "3", "f.example", expires=later.timestamp()))
    assert [c["name"] for c in s.cookies_for("http://f.example/", now=NOW)] == ["session", "soon", "later"]
    assert [c["name"] for c in s.cookies_for("http://f.example/", now=soon)] == ["session", "later"]
    assert s.expires_at == soon and state(cookie("a", "1", "f.example")).expires_at is None
    assert SessionInfo.of("f", s).expired(now=soon) and not SessionInfo.of("f", s).expired(now=NOW)


@pytest.mark.parametrize("fields, message", [
    ({"name": "", "value": ""}, "both empty"), ({"name": "a=b"}, "'name'"), ({"name": 3}, "'name'"),
    ({"value": "a;b"}, "'value'"),
    ({"value": "x\r\nSet-Cookie: y"}, "'value'"), ({"domain": ""}, "'domain'"), ({"domain": "a/b"}, "'domain'"),
    ({"path": "forum"}, "'path'"), ({"expires": "soon"}, "'expires'"), ({"expires": float("nan")}, "'expires'"),
    ({"same_site": "sometimes"}, "'sameSite'"), ({"secure": "yes"}, "'secure'"),
])
def test_a_bad_cookie_field_is_named_never_its_value(fields, message):
    given = {"name": "sid", "value": SECRET, "domain": "f.example", **fields}
    with pytest.raises(SessionError) as exc_info:
        cookie(given.pop("name"), given.pop("value"), given.pop("domain"), **given)
    assert message in one_line_error(exc_info)


def test_same_site_none_without_secure_is_kept_as_lax_as_chromium_would():
    assert cookie("a", "1", "f.example", same_site="none")["sameSite"] == "Lax"
    assert cookie("a", "1", "f.example", same_site="none", secure=True)["sameSite"] == "None"


# --- imports ----------------------------------------------------------------------------------------

COOKIES_TXT = (
    "# Netscape HTTP Cookie File\n# This is a generated file! Do not edit.\n\n"
    f"#HttpOnly_.market.example.onion\tTRUE\t/\tFALSE\t0\tsid\t{SECRET}\n"
    "market.example.onion\tFALSE\t/forum\tTRUE\t1999999999\tlang\ten\n"
    "shop.example\tTRUE\t/\tFALSE\t1999999999.5\tempty\t\n")


def test_cookies_txt_reads_httponly_lines_comments_and_session_expiry(tmp_path):
    path = tmp_path / "export.json"  # the name does not matter: the content does
    path.write_text(COOKIES_TXT.replace("\n", "\r\n"), encoding="utf-8-sig")
    s = read_session_file(path)
    assert s.origin == "import:cookies.txt"
    assert s.cookies == [
        {"name": "sid", "value": SECRET, "domain": ".market.example.onion", "path": "/", "expires": -1,
         "httpOnly": True, "secure": False, "sameSite": "Lax"},
        {"name": "lang", "value": "en", "domain": "market.example.onion", "path": "/forum", "expires": 1999999999.0,
         "httpOnly": False, "secure": True, "sameSite": "Lax"},
        {"name": "empty", "value": "", "domain": ".shop.example", "path": "/", "expires": 1999999999.5,
         "httpOnly": False, "secure": False, "sameSite": "Lax"}]
    assert [c["name"] for c in s.cookies_for("http://www.market.example.onion/forum/x")] == ["sid"]


def test_a_cookie_extension_export_is_read_with_its_same_site_and_host_only(tmp_path):
    exported = [
        {"domain": ".forum.example", "expirationDate": 1999999999.25, "hostOnly": False, "httpOnly": True,
         "name": "sid", "path": "/", "sameSite": "no_restriction", "secure": True, "session": False,
         "storeId": "0", "value": SECRET, "id": 1},
        {"domain": ".forum.example", "hostOnly": True, "httpOnly": False, "name": "style", "path": "/",
         "sameSite": "unspecified", "secure": False, "session": True, "value": "dark"},
        {"domain": "forum.example", "hostOnly": False, "name": "lax", "value": "1", "sameSite": "lax"},
        {"domain": "forum.example", "name": "strict", "value": "1", "sameSite": "strict", "path": "/x"},
        {"domain": "forum.example", "name": "null", "value": "1", "sameSite": None, "path": None}]
    path = tmp_path / "cookies.txt"
    path.write_text(json.dumps(exported, indent=2), encoding="utf-8")
    s = read_session_file(path)
    assert s.origin == "import:cookie-json" and s.origins == []
    assert [(c["domain"], c["expires"], c["sameSite"], c["httpOnly"], c["secure"]) for c in s.cookies] == [
        (".forum.example", 1999999999.25, "None", True, True), ("forum.example", -1, "Lax", False, False),
        (".forum.example", -1, "Lax", False, False), ("forum.example", -1, "Strict", False, False),
        ("forum.example", -1, "Lax", False, False)]


def test_a_playwright_storage_state_keeps_its_local_storage(tmp_path):
    data = {"cookies": [{"name": "sid", "value": SECRET, "domain": "127.0.0.1", "path": "/", "expires": -1,
                         "httpOnly": True, "secure": False, "sameSite": "Lax", "partitionKey": "ignored"}],
            "origins": [{"origin": "http://127.0.0.1:8080", "localStorage": [{"name": "jwt", "value": "abc"}]}]}
    path = tmp_path / "state"
    path.write_text(json.dumps(data), encoding="utf-8")
    s = read_session_file(path)
    assert s.origin == "import:storage-state" and s.origins == data["origins"]
    assert s.storage_state() == {"cookies": [{k: v for k, v in data["cookies"][0].items() if k != "partitionKey"}],
                                 "origins": data["origins"]}
    local_only = tmp_path / "local.json"
    local_only.write_text(json.dumps({"cookies": [], "origins": data["origins"]}), encoding="utf-8")
    assert read_session_file(local_only).cookies == []


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b" \n\t\n", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + SECRET.encode(), "binary data"),
    ("caf\xe9 sid=".encode("latin-1") + SECRET.encode(), "not UTF-8"),
    (b"# Netscape HTTP Cookie File\n# only comments\n", "no cookie in it"),
    (f"forum.example\tTRUE\t/\t{SECRET}\n".encode(), "line 1: not a cookies.txt line (expected 7 tab-separated"),
    (f"forum.example\tyes\t/\tFALSE\t0\tsid\t{SECRET}\n".encode(), "line 1: the include-subdomains"),
    (f"forum.example\tTRUE\t/\tFALSE\tnever\tsid\t{SECRET}\n".encode(), "line 1: the expiry is not a number"),
    (f"# c\nforum.example\tTRUE\t/\tFALSE\t0\tsid\t{SECRET}\x01\n".encode(), "line 2: 'value'"),
    (b"<!doctype html><html><body>Login</body></html>", "not a cookies.txt line"),
    (f'[{{"name": "sid", "value": "{SECRET}"'.encode(), "not valid JSON"),
    (b"[" * 100_000, "not valid JSON"),
    (b"[]", "an empty list"),
    (b'{"sid": "x"}', "JSON of the wrong shape"),
    (b'"just a string"', "not a cookies.txt line"),
    (b"[1, 2]", "item 1: not a cookie object"),
    (f'[{{"name": "sid", "value": "{SECRET}"}}]'.encode(), "item 1: 'domain'"),
    (f'{{"cookies": {{"sid": "{SECRET}"}}}}'.encode(), "'cookies' is not a list"),
    (b'{"cookies": [], "origins": [{"origin": 3}]}', "origin 1: not {origin, localStorage"),
    (b'{"cookies": [], "origins": []}', "no cookie and no local storage"),
])
def test_bad_exports_are_one_line_naming_the_file_never_a_value(tmp_path, content, message):
    path = tmp_path / "export.txt"
    path.write_bytes(content)
    with pytest.raises(SessionError) as exc_info:
        read_session_file(path)
    text = one_line_error(exc_info)
    assert text.startswith(f"{path}: ") and message in text


def test_a_huge_file_a_directory_or_no_file_is_refused(tmp_path):
    huge = tmp_path / "huge.txt"
    huge.write_bytes(b"# " + b"x" * MAX_IMPORT + b"\n")
    for path, message in ((huge, "too big for a cookie export"), (tmp_path, "cannot read"),
                          (tmp_path / "missing.txt", "cannot read: No such file")):
        with pytest.raises(SessionError) as exc_info:
            read_session_file(path)
        assert message in one_line_error(exc_info)


def test_utf16_exports_with_a_byte_order_mark_are_read(tmp_path):
    path = tmp_path / "cookies.txt"
    path.write_text(COOKIES_TXT, encoding="utf-16")
    assert len(read_session_file(path).cookies) == 3


# --- the command line -------------------------------------------------------------------------------

def test_session_import_list_remove_never_show_a_cookie_value(home, tmp_path):
    export = tmp_path / "cookies.txt"
    export.write_text(COOKIES_TXT, encoding="utf-8")
    imported = run("session", "import", "market", str(export))
    assert imported.exit_code == 0, imported.stderr
    assert imported.stdout.startswith("session market: 3 cookies for market.example.onion, shop.example "
                                      "(import:cookies.txt, ")
    assert f"{export} holds the session unencrypted: delete it now (shred -u {export})" in imported.stderr
    as_json = run("session", "import", "shop", str(export), "--json")
    assert as_json.exit_code == 0 and json.loads(as_json.stdout)["name"] == "shop"

    listed = run("session", "list")
    assert listed.exit_code == 0 and "2 sessions" in listed.stdout and "market.example.onion" in listed.stdout
    rows = [json.loads(line) for line in run("session", "list", "--json").stdout.splitlines()]
    assert [(r["name"], r["cookies"], r["origin"], r["error"]) for r in rows] == [
        ("market", 3, "import:cookies.txt", None), ("shop", 3, "import:cookies.txt", None)]
    assert rows[0]["expires_at"] == "2033-05-18T03:33:19Z"

    removed = run("session", "remove", "shop")
    assert removed.exit_code == 0 and removed.stdout == "session shop removed\n"
    again = run("session", "remove", "shop")
    assert again.exit_code == 1 and again.stderr == "nigran: error: no session 'shop' (see: nigran session list)\n"
    assert [r["name"] for r in map(json.loads, run("session", "list", "--json").stdout.splitlines())] == ["market"]
    for result in (imported, as_json, listed, removed, again):
        assert SECRET not in result.stdout + result.stderr


@pytest.mark.parametrize("args, code, message", [
    (("session", "import", "../up", "{export}"), 2, "not a session name: '../up'"),
    (("session", "import", "market", "{tmp}/missing.txt"), 2, "missing.txt: cannot read"),
    (("session", "import", "market", "{tmp}/bad.txt"), 2, "bad.txt: line 1: not a cookies.txt line"),
    (("session", "remove", "Market"), 2, "not a session name: 'Market'"),
    (("session", "remove", "market"), 1, "no session 'market'"),
    (("session", "import", "market"), 2, "Missing argument 'FILE'"),
])
def test_session_command_errors_are_one_line_with_their_exit_status(home, tmp_path, args, code, message):
    (tmp_path / "export.txt").write_text(COOKIES_TXT, encoding="utf-8")
    (tmp_path / "bad.txt").write_text(f"sid={SECRET}\n", encoding="utf-8")
    result = run(*(a.format(export=tmp_path / "export.txt", tmp=tmp_path) for a in args))
    assert result.exit_code == code and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("nigran: error: ") and message in result.stderr
    assert SECRET not in result.stderr and not (home / "sessions" / "market.session").exists()


def test_session_list_lists_an_unreadable_session_and_exits_1(home):
    SessionStore().save("good", state())
    (home / "sessions" / "broken.session").write_bytes(b"nigran-session\x01" + os.urandom(64))
    result = run("session", "list", "--json")
    assert result.exit_code == 1
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["name"], r["error"] is None) for r in rows] == [("broken", False), ("good", True)]
    assert "does not open" in rows[0]["error"]
    assert json.loads(result.stderr) == {"error": "cannot read session broken (see the list; remove it, "
                                                  "then log in or import again)"}
    table = run("session", "list")
    assert table.exit_code == 1 and "2 sessions" in table.stdout and "broken" in table.stdout


# --- the members-only forum fixture -------------------------------------------------------------------

@pytest.fixture
def forum():
    with MembersForum(threads=2, pages=3, per_page=4) as site:
        yield site


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str, cookies: dict[str, str] | None = None, data: dict | None = None):
    """(status, headers, body) of one request, redirects not followed."""
    request = urllib.request.Request(url, data=urlencode(data).encode() if data else None)
    if cookies:
        request.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()))
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode()


def test_a_guest_meets_the_login_wall_as_phpbb_shows_it(forum):
    for url in (forum.index_url, forum.base + "/viewforum.php?f=1"):
        status, headers, body = fetch(url)
        assert status == 200 and WALL in body and "username_logged_in" not in body
        assert '<form action="./ucp.php?mode=login" method="post" id="login"' in body
        assert all(f in body for f in ('name="username"', 'type="password"', 'name="password"', 'name="sid"',
                                       'name="redirect"', 'name="form_token"', 'name="login"'))
        assert "phpbb3_sid=" in " ".join(headers.get_all("Set-Cookie"))  # anonymous, as phpBB gives every guest
    status, headers, _ = fetch(forum.thread_urls[1] + "&start=4")
    assert status == 302 and headers["Location"] == "./ucp.php?mode=login&redirect=viewtopic.php%3Ft%3D2%26start%3D4"
    assert forum.unauthenticated == 3 and forum.authenticated == 0


def test_the_login_form_logs_in_with_the_right_password_only(forum):
    _, _, page = fetch(forum.login_url)
    token = re.search(r'name="form_token" value="(\w+)"', page).group(1)
    form = {"username": "analyst", "password": PASSWORD, "login": "Login", "form_token": token,
            "redirect": "./viewforum.php?f=1"}
    status, _, body = fetch(forum.login_url, data={**form, "password": "guess"})
    assert status == 200 and BAD_PASSWORD in body
    assert "The submitted form was invalid" in fetch(forum.login_url, data={**form, "form_token": "x"})[2]
    status, headers, _ = fetch(forum.login_url, data=form)
    assert status == 302 and headers["Location"] == "./viewforum.php?f=1"
    cookies = dict(c.split(";")[0].split("=", 1) for c in headers.get_all("Set-Cookie"))
    assert all("HttpOnly" in c for c in headers.get_all("Set-Cookie")) and cookies["phpbb3_u"] == "2"
    _, _, listing = fetch(forum.base + "/viewforum.php?f=1", cookies)
    assert "username_logged_in" in listing and "Logout [ analyst ]" in listing and 'class="topictitle"' in listing
    assert not any(PASSWORD.encode() in r.body for r in forum.server.requests)


def test_a_browser_export_of_the_forum_opens_every_post_to_a_plain_request(forum, tmp_path):
    session = read_session_file(forum.cookies_txt(tmp_path / "cookies.txt"))
    assert {c["name"]: c["httpOnly"] for c in session.cookies} == {"phpbb3_u": True, SID: True}

    def get(url):
        header = {c["name"]: c["value"] for c in session.cookies_for(url)}
        return fetch(url, header)

    status, _, index = get(forum.index_url)
    assert status == 200 and "username_logged_in" in index and "./viewforum.php?f=1" in index
    seen = set()
    for url in forum.thread_urls:
        while url:
            _, _, page = get(url)
            seen |= set(re.findall(r'<div id="p(\d+)" class="post has-profile bg[12]">', page))
            assert page.count('class="username"') >= 4 and page.count("<time datetime=") == 4
            assert "CNIC copy front and back, Rs " in page and "telegram @seller_" in page
            following = re.search(r'href="\./(viewtopic\.php\?[^"]+)" rel="next"', page)
            url = following and forum.base + "/" + following.group(1).replace("&amp;", "&")
    assert len(seen) == forum.posts_total == 24 and forum.unauthenticated == 0


def test_a_session_dies_after_its_page_views_and_logout_ends_it(tmp_path):
    with MembersForum(expire_after=2) as forum:
        cookies = dict([forum.session_cookie()])
        assert ["username_logged_in" in fetch(forum.index_url, cookies)[2] for _ in range(3)] == [True, True, False]
        assert WALL in fetch(forum.index_url, cookies)[2] and fetch(forum.thread_urls[0], cookies)[0] == 302
        assert (forum.authenticated, forum.unauthenticated) == (2, 3)
        other = dict([forum.session_cookie()])
        logout = re.search(r'href="\./(ucp\.php\?mode=logout[^"]+)"', fetch(forum.index_url, other)[2]).group(1)
        fetch(forum.base + "/" + logout.replace("&amp;", "&"), other)
        assert WALL in fetch(forum.index_url, other)[2]
