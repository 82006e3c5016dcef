"""Crawl a source logged in: its stored session's cookies (and, for the browser, its local storage) on every
request, or a plain form login before the first request. crawler/guard.py notices when the site stops
accepting the session (status `session_expired`).

Each source is its own crawler, with its own cookie jar and its own Tor isolation (crawler/tor.py): two
sources never share cookies or circuits. The password of a form login is read when the crawl logs in and
goes only into the login POST's body, which no log, capture or WARC record keeps.
"""
from __future__ import annotations

import asyncio
import logging

from scrapy import Request, signals
from scrapy.http import FormRequest, TextResponse

from nigran.config.errors import ConfigError
from nigran.crawler.guard import SourceStop
from nigran.crawler.walls import detect
from nigran.storage.sessions import SessionError, SessionState, SessionStore

log = logging.getLogger(__name__)


class LoginFailed(Exception):
    """A form login that did not log in; the message is one line and never holds the password."""


def login_form(page, form_css: str, username: str, password: str) -> FormRequest:
    """The POST of the login form `form_css` picks on `page`, its text and password inputs filled."""
    if not isinstance(page, TextResponse):
        raise LoginFailed(f"{page.url}: the login page is not a web page")
    form = page.css(form_css)
    password_field = form.css("input[type=password]::attr(name)").get()
    if not form or not password_field:
        raise LoginFailed(f"{page.url}: no form {form_css!r} with a password input")
    user_field = form.css("input[type=text]::attr(name), input[type=email]::attr(name), "
                          "input:not([type])::attr(name)").get()
    if not user_field:
        raise LoginFailed(f"{page.url}: the login form has no user name input")
    return FormRequest.from_response(page, formcss=form_css, formdata={user_field: username, password_field: password},
                                     meta={"nigran_login": True}, dont_filter=True)


def cookie_header(jar_header: bytes | None, state: SessionState, url: str) -> bytes | None:
    """The Cookie header for `url`: the jar's cookies (what the site set during this crawl, which win), then
    the session's cookies of the same names left out."""
    pairs = [p.strip() for p in (jar_header or b"").decode("latin-1").split(";") if p.strip()]
    names = {p.split("=", 1)[0] for p in pairs}
    pairs += [f"{c['name']}={c['value']}" for c in state.cookies_for(url) if c["name"] not in names]
    return "; ".join(pairs).encode("latin-1") if pairs else None


class SessionMiddleware:
    """Carry the source's session: the stored one named `session` (or, when stored, the one named after
    the source), or the one a form login (`login:`) makes before the first request is sent.

    Sits just below Scrapy's CookiesMiddleware (700), so the jar's cookies are in the request already and
    the session adds the rest. Marks each request that carries a session (meta `session`), for the guard.
    """

    def __init__(self, crawler):
        self.crawler = crawler
        self.stops = crawler.get_extension(SourceStop)
        self.state: SessionState | None = None
        self.logged_in = False
        self.lock = asyncio.Lock()
        crawler.signals.connect(self.spider_opened, signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def spider_opened(self, spider) -> None:
        source = spider.source
        store = SessionStore()
        try:
            if source.session is not None or store.exists(source.session_name):
                self.state = store.load(source.session_name)
        except SessionError as exc:
            self.stops.stop("no_session", str(exc))
            return
        if self.state is not None:
            log.info("source %s: crawling with session %s (%s, %d cookies)", spider.name, source.session_name,
                     self.state.origin, len(self.state.cookies))

    async def process_request(self, request):
        if request.meta.get("nigran_login"):
            return None
        source = self.crawler.spider.source
        if source.login is not None and not self.logged_in:
            async with self.lock:
                if not self.logged_in:
                    await self.log_in(source)
            self.stops.check(request)
            return request.replace(dont_filter=True)  # once more through the cookie jar, which has the login now
        if self.state is not None:
            if request.meta.get("playwright"):
                request.meta["storage_state"] = self.state.storage_state()
            else:
                header = cookie_header(request.headers.get(b"Cookie"), self.state, request.url)
                if header is not None:
                    request.headers[b"Cookie"] = header
        if self.state is not None or self.logged_in:
            request.meta["session"] = source.session_name
        return None

    async def log_in(self, source) -> None:
        """Post the login form once; its cookies stay in the crawl's jar. Stop the source on failure."""
        login = source.login
        try:
            password = login.password()
            engine = self.crawler.engine
            page = await engine.download_async(Request(login.url, meta={"nigran_login": True}, dont_filter=True))
            answer = await engine.download_async(login_form(page, login.form, login.username, password))
            if answer.status >= 400:
                raise LoginFailed(f"the login answered HTTP {answer.status}")
            wall = detect(answer.url, answer.status, {}, answer.text) if isinstance(answer, TextResponse) else None
            if wall is not None and wall.kind == "login":
                raise LoginFailed(f"still not logged in after posting the form ({wall.reason}); "
                                  f"check login.username and the password")
            if wall is not None:
                raise LoginFailed(f"the site answered the login with a {wall.kind} page ({wall.reason})")
        except (ConfigError, LoginFailed) as exc:
            self.stops.stop("login_failed", str(exc))
            return
        self.logged_in = True
        self.crawler.stats.inc_value("nigran/logins")
        log.info("source %s: logged in as %s at %s", source.name, login.username, login.url)
