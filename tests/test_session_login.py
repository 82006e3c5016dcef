"""Logging in by hand (issue #14): a real headed Chromium on a real Xvfb display, driven as a person would
drive it, against the members-only phpBB fixture; the session it records then opens members' pages to a
plain request, and to Chromium again. `nigran session login` end to end in a child process, too."""
from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from click.testing import CliRunner
import sqlalchemy as sa

from nigran.config.schema import Source
from nigran.crawler.browser import CHROMIUM
from nigran.crawler.cli import main
from nigran.crawler.session_login import browser_proxy, login_source, login_url, record_login
from nigran.crawler.tor import TorConfig, TorError
from nigran.storage.session_import import read_session_file
from nigran.storage.db import Database
from nigran.storage.models import Post
from nigran.storage.sessions import SessionError, SessionStore
from tests.support.members_forum import PASSWORD, SID, MembersForum
from tests.support.run import REPO, nigran, sources_file, tor_env

pytestmark = pytest.mark.browser
KEY = bytes(range(32))


@pytest.fixture(scope="module")
def xvfb():
    """A display of our own: Xvfb picks a free number and tells it (-displayfd). The pipe stays open while
    Xvfb runs, and -noreset keeps it from resetting (and writing its number again) when a client leaves."""
    binary = shutil.which("Xvfb")
    if binary is None:
        pytest.skip("Xvfb is missing: install Debian's xvfb (scripts/install.sh does)")
    read, write = os.pipe()
    proc = subprocess.Popen([binary, "-displayfd", str(write), "-noreset", "-screen", "0", "1280x900x24",
                             "-nolisten", "tcp"], pass_fds=(write,), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    os.close(write)
    ready, _, _ = select.select([read], [], [], 20)
    number = os.read(read, 16).decode().strip() if ready else ""
    if not number.isdigit():
        proc.kill()
        pytest.fail("Xvfb did not report its display within 20 s")
    yield f":{number}", proc
    proc.terminate()
    proc.wait(timeout=10)
    os.close(read)


@pytest.fixture
def display(xvfb, monkeypatch) -> str:
    name, proc = xvfb
    assert proc.poll() is None, f"Xvfb {name} (pid {proc.pid}) has exited: was it killed from outside?"
    monkeypatch.setenv("DISPLAY", name)
    return name


@pytest.fixture
def forum():
    with MembersForum(threads=1, pages=2, per_page=3) as site:
        yield site


def log_in_like_a_person(page, username: str = "analyst", password: str = PASSWORD) -> None:
    """Click the username box, type, Tab to the password, type, Enter: the form submits itself."""
    page.click("#username")
    page.keyboard.type(username, delay=5)
    page.keyboard.press("Tab")
    page.keyboard.type(password, delay=5)
    page.keyboard.press("Enter")
    page.wait_for_selector("#username_logged_in")


def get(url: str, state) -> str:
    """A plain urllib GET carrying the session's cookies for `url`."""
    request = urllib.request.Request(url)
    request.add_header("Cookie", "; ".join(f"{c['name']}={c['value']}" for c in state.cookies_for(url)))
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def source(url: str, **extra) -> Source:
    return Source.model_validate({"name": "members", "kind": "forum", "via": "direct", "start_urls": [url], **extra})


def test_a_login_by_hand_is_kept_and_opens_members_pages_to_a_plain_request(display, forum, tmp_path):
    confirmed = []
    state = record_login(forum.index_url, proxy=None, on_page=log_in_like_a_person,
                         confirm=lambda: confirmed.append(time.monotonic()))
    assert confirmed and state.origin == "login"
    assert {c["name"]: c["httpOnly"] for c in state.cookies} == {"phpbb3_u": True, SID: True}
    store = SessionStore(tmp_path / "sessions", KEY)
    store.save("members", state)
    kept = store.load("members")
    page = get(forum.thread_urls[0] + "&start=3", kept)
    assert "username_logged_in" in page and "Logout [ analyst ]" in page and 'id="p1003"' in page
    posted = [r for r in forum.server.requests if r.method == "POST"]
    assert [r.path for r in posted] == ["/ucp.php?mode=login"] and b"username=analyst" in posted[0].body
    assert forum.unauthenticated == 1  # only the wall the window first met


def test_a_recorded_or_imported_session_opens_the_forum_in_chromium_again(forum, tmp_path):
    """storage_state() is what Playwright takes: a cookies.txt export logs a fresh headless context in."""
    from playwright.sync_api import sync_playwright

    state = read_session_file(forum.cookies_txt(tmp_path / "cookies.txt"))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_context(storage_state=state.storage_state()).new_page()
            page.goto(forum.thread_urls[0])
            assert page.locator("#username_logged_in").count() == 1 and page.locator("div.post").count() == 3
        finally:
            browser.close()


def test_no_display_is_one_line_error_before_tor_is_even_asked(monkeypatch, tmp_path):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("NIGRAN_TOR_CONTROL", "127.0.0.1:9")
    for call in (lambda: record_login("http://127.0.0.1:9/", proxy=None, confirm=lambda: None),
                 lambda: login_source(source("http://abcd.onion/"), SessionStore(tmp_path, KEY), confirm=lambda: None,
                                      on_progress=lambda *_: None)):
        with pytest.raises(SessionError) as exc_info:
            call()
        assert str(exc_info.value).startswith("no display for the login window ($DISPLAY is not set): run it "
                                              "under xvfb-run")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_window_that_cannot_open_or_load_or_is_never_confirmed_is_one_line_error(display, forum, monkeypatch):
    blocked = threading.Event()
    cases = [({"DISPLAY": ":31999"}, forum.index_url, lambda: None,
              "Chromium could not open a window on display :31999: no X server answers there"),
             ({}, f"http://127.0.0.1:{free_port()}/", lambda: None, "net::ERR_CONNECTION_REFUSED"),
             ({}, forum.login_url, lambda: blocked.wait(30), "the login was not confirmed within 1 s; nothing was saved")]
    for env, url, confirm, message in cases:
        with monkeypatch.context() as m:
            for name, value in env.items():
                m.setenv(name, value)
            with pytest.raises(SessionError) as exc_info:
                record_login(url, proxy=None, confirm=confirm, timeout=1)
        assert "\n" not in str(exc_info.value) and message in str(exc_info.value)
    blocked.set()


def test_the_login_url_is_the_form_logins_page_else_the_first_start_url():
    forum_source = source("http://forum.example/index.php")
    assert login_url(forum_source) == "http://forum.example/index.php"
    with_login = source("http://forum.example/index.php", login={
        "url": "http://forum.example/ucp.php?mode=login", "username": "analyst", "password_env": "X"},
        login_page={"url": r"ucp\.php\?mode=login"})
    assert login_url(with_login) == "http://forum.example/ucp.php?mode=login"
    telegram = Source.model_validate({"name": "tg", "kind": "telegram", "channels": ["pk_data_leaks"]})
    with pytest.raises(SessionError, match="has no URL to log in at"):
        login_url(telegram)


def test_the_window_goes_direct_only_for_a_direct_clearnet_source_and_never_without_tor():
    with browser_proxy(source("http://forum.example/"), lambda *_: None) as proxy:
        assert proxy is None
    dead = TorConfig(socks="127.0.0.1:9", control="127.0.0.1:9")
    for tor_source in (source("http://forum.example/", via="tor"), source("http://abcdef.onion/")):
        with pytest.raises(TorError, match="cannot use tor's control port 127.0.0.1:9"):
            with browser_proxy(tor_source, lambda *_: None, dead):
                pytest.fail("a proxy was handed out without Tor")


@pytest.mark.tor
def test_the_login_window_of_an_onion_source_goes_through_tor(display, tornet, monkeypatch):
    onion = f"http://{tornet.onion('forum')}/"
    seen = []
    for name, value in tor_env(tornet).items():
        monkeypatch.setenv(name, value)
    with browser_proxy(source(onion, via="tor"), lambda *_: None) as proxy:
        assert proxy["server"].startswith("socks5://127.0.0.1:") and proxy["bypass"] == "<-loopback>"
        record_login(onion, proxy=proxy, confirm=lambda: None, on_page=lambda page: seen.append(page.url), timeout=90)
    assert seen == [onion]


# --- the command line -------------------------------------------------------------------------------

def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, args, prog_name="nigran", input=input)


def test_session_login_of_an_unknown_source_or_without_display_exits_with_one_line(home, tmp_path, monkeypatch):
    sources = sources_file(tmp_path, [{"name": "members", "via": "direct", "start_urls": ["http://127.0.0.1:9/"]}])
    unknown = run("session", "login", "nowhere", "--sources", sources)
    assert unknown.exit_code == 2 and unknown.stderr.startswith("nigran: error: unknown source 'nowhere'")
    monkeypatch.delenv("DISPLAY", raising=False)
    headless = run("session", "login", "members", "--sources", sources)
    assert headless.exit_code == 1 and headless.stderr.count("\n") == 1
    assert headless.stderr.startswith("nigran: error: no display for the login window") and headless.stdout == ""


def test_session_login_end_to_end_the_analyst_logs_in_and_presses_enter(display, forum, home, tmp_path):
    """The real command in a child process. The test is the analyst: `chromium` on PATH (crawler/browser.py
    looks it up there) is a wrapper starting the real one with a DevTools port, through which the test types
    into the window; then it presses Enter on the command's standard input."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "chromium").write_text(f'#!/bin/sh\nexec {CHROMIUM} --remote-debugging-port={port} "$@"\n')
    (bin_dir / "chromium").chmod(0o755)
    sources = sources_file(tmp_path, [{"name": "members", "kind": "forum", "engine": "phpbb", "via": "direct",
                                       "start_urls": [forum.index_url], "session": "members-forum",
                                       "max_depth": 3}])
    command = [sys.executable, "-m", "nigran.crawler", "session", "login", "members", "--sources", sources]
    proc = subprocess.Popen(command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    try:
        with sync_playwright() as playwright:
            wait_for_window(port, forum.index_url, proc)
            page = page_showing(playwright.chromium.connect_over_cdp(f"http://127.0.0.1:{port}"), forum.index_url)
            page.wait_for_selector("#username")
            log_in_like_a_person(page)
        out, err = proc.communicate(b"\n", timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert "Log in to members in the Chromium window, then press Enter" in err.decode()
    lines = out.decode().splitlines()
    assert lines[0].startswith("session members-forum: 2 cookies for 127.0.0.1 (login, ")
    assert lines[1] == f"next: nigran crawl --source members --sources {sources}"
    state = SessionStore(home / "sessions").load("members-forum")
    assert "username_logged_in" in get(forum.index_url, state)
    sid = next(c["value"] for c in state.cookies if c["name"] == SID)
    assert sid.encode() not in out + err and PASSWORD.encode() not in out + err
    strangers = forum.unauthenticated
    crawled = nigran(*lines[1].split()[2:], "--db", f"sqlite:///{home / 'nigran.db'}")  # the next step it named
    assert crawled.returncode == 0, crawled.stderr.decode()[-2000:]
    assert forum.unauthenticated == strangers  # the crawl was logged in on every page
    with Database(f"sqlite:///{home / 'nigran.db'}").session() as s:
        assert len(set(s.scalars(sa.select(Post.post_key).where(Post.url.contains("viewtopic"))))) == forum.posts_total


def wait_for_window(port: int, url: str, proc: subprocess.Popen) -> None:
    """Until the browser the command started shows `url` (DevTools' list of its pages)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as response:
                if any(t.get("type") == "page" and t.get("url") == url for t in json.load(response)):
                    return
        except OSError:  # not listening yet
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"no login window showed {url}: {proc.communicate()[1].decode()[-2000:]}")
        time.sleep(0.2)


def page_showing(browser, url: str):
    return next(page for context in browser.contexts for page in context.pages if page.url == url)
