"""Recording a session by hand: the analyst logs in to a source in a real Chromium window (captchas, 2FA,
whatever the site asks), then nigran keeps the window's cookies and local storage in the session store.

The window goes where the source's crawl goes: through Tor for a Tor source (never directly when Tor
cannot be had), directly only for a `via: direct` clearnet source.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from nigran.config.schema import Source
from nigran.crawler.browser import CHROMIUM, CHROMIUM_ARGS, CONTEXT_OPTIONS
from nigran.crawler.tor import TorConfig, open_tor
from nigran.storage.sessions import SessionError, SessionInfo, SessionState, SessionStore

NO_DISPLAY = ("no display for the login window ($DISPLAY is not set): run it under xvfb-run, or in a desktop "
              "or VNC session (see README)")


def require_display() -> str:
    """$DISPLAY, where the login window opens; SessionError when there is none."""
    display = os.environ.get("DISPLAY")
    if not display:
        raise SessionError(NO_DISPLAY)
    return display


def login_url(source: Source) -> str:
    """Where a source's login starts: its form login's page, else its first start URL."""
    if source.login is not None:
        return source.login.url
    if not source.start_urls:
        raise SessionError(f"source {source.name!r} has no URL to log in at")
    return source.start_urls[0]


@contextmanager
def browser_proxy(source: Source, on_progress: Callable[[int, str], None],
                  tor: TorConfig | None = None) -> Iterator[dict | None]:
    """The Playwright proxy for a browser working for `source`: None for a direct clearnet source, else
    Tor's browser SOCKS port, opened as crawls open it (a TorError when Tor cannot be had) and closed after."""
    if not source.needs_tor:
        yield None
        return
    session = open_tor(tor or TorConfig.from_env(), on_progress)
    try:
        # "<-loopback>": nothing bypasses the proxy, not even 127.0.0.1
        yield {"server": session.browser_proxy_url(), "bypass": "<-loopback>"}
    finally:
        session.close()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _wait_for(confirm: Callable[[], None], timeout: float) -> None:
    """`confirm()`, given at most `timeout` seconds; its exception, if any, raised here."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            confirm()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            failure.append(exc)

    waiter = threading.Thread(target=run, name="nigran-login-confirm", daemon=True)
    waiter.start()
    waiter.join(timeout)
    if waiter.is_alive():
        raise SessionError(f"the login was not confirmed within {timeout:g} s; nothing was saved")
    if failure:
        raise failure[0]


def record_login(url: str, *, proxy: dict | None, confirm: Callable[[], None], on_page: Callable | None = None,
                 timeout: float = 600) -> SessionState:
    """Open `url` in a headed Chromium (through `proxy`, a Playwright proxy dict, when given), let
    `on_page(page)` act on it, wait for `confirm()` (the analyst has logged in), and return the window's
    cookies and local storage. SessionError, one line, when there is no display, Chromium cannot start,
    the page cannot be opened or the window was closed before `confirm()` returned."""
    display = require_display()
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=False, args=CHROMIUM_ARGS)
        except PlaywrightError as exc:
            why = "no X server answers there" if "Missing X server" in str(exc) else _first_line(exc)
            raise SessionError(f"Chromium could not open a window on display {display}: {why}") from None
        try:
            context = browser.new_context(**CONTEXT_OPTIONS, **({"proxy": proxy} if proxy else {}))
            page = context.new_page()
            try:
                page.goto(url, wait_until="domcontentloaded", timeout=timeout * 1000)
            except PlaywrightError as exc:
                raise SessionError(f"cannot open {url}: {_first_line(exc)}") from None
            if on_page is not None:
                on_page(page)
            _wait_for(confirm, timeout)
            try:
                return SessionState.from_storage_state(context.storage_state(), "login")
            except PlaywrightError as exc:
                raise SessionError(f"could not read the session from the browser (was its window closed?): "
                                   f"{_first_line(exc)}") from None
        finally:
            with suppress(PlaywrightError):
                browser.close()


def login_source(source: Source, store: SessionStore, *, confirm: Callable[[], None],
                 on_progress: Callable[[int, str], None], tor: TorConfig | None = None,
                 timeout: float = 600) -> SessionInfo:
    """Record a login to `source` by hand and keep it in `store` as the source's session."""
    require_display()  # before Tor is opened: there would be no window to log in with
    url = login_url(source)
    with browser_proxy(source, on_progress, tor) as proxy:
        state = record_login(url, proxy=proxy, confirm=confirm, timeout=timeout)
    if not state.cookies and not state.origins:
        raise SessionError(f"nothing saved: the login window held no cookie and no local storage for "
                           f"{source.name!r} (were you logged in?)")
    store.save(source.session_name, state)
    return SessionInfo.of(source.session_name, state)
