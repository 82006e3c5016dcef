"""Know when the crawler is not in: tell a login wall, a captcha, a queue, a JavaScript challenge or a seizure
banner from a real page (issue #14).

`detect` runs on every decoded response, so it is cheap by default: non-HTML is never a wall, and the page is
parsed only when a lower-cased substring prefilter on its first `WINDOW` characters finds something a wall
would say, or a source-declared selector needs the tree. Every content rule also demands that the page has
no forum posts (the engines' post markup from spiders/segment.py) and little text besides the gate form
itself, so a thread or a listing with a guest quick-login box, a captcha'd reply form or a post that merely
mentions a seizure is never taken for a wall.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Literal
from urllib.parse import parse_qsl, urljoin, urlsplit

from cssselect import SelectorError
from lxml import etree, html
from lxml.cssselect import CSSSelector

from nigran.spiders.segment import ENGINE_MARKUP
from nigran.spiders.text import element_text

WINDOW = 200_000  # characters looked at: walls are small, and a huge page is content
SMALL = 32_000  # below this size a bare cookie script is worth a parse
# Characters of text besides chrome and the gate forms that a wall may have: THIN when a phrase says what the
# page is, SPARSE when only its markup does (a bare login or captcha form), TINY for a page that is nothing but
# a script. The forum fixtures' and demo sites' pages have 300 to 1900. A page that only asks for JavaScript
# in a <noscript> is a JavaScript site, not a guard: it wants `render: browser`, and is no wall.
THIN = 1500
SPARSE = 500
TINY = 200

Kind = Literal["login", "captcha", "queue", "challenge", "seized"]


@dataclass(frozen=True)
class Wall:
    """What stands between the crawler and the content, and what to tell a person about it."""

    kind: Kind
    reason: str  # one line for a human
    refresh: float | None = None  # seconds, when the page refreshes itself (meta refresh or Refresh header)
    refresh_url: str | None = None  # absolute URL it refreshes to (the page's own URL when none is named)


class BadDeclaration(ValueError):
    """A source-declared selector or pattern that does not compile."""


# --- the prefilter ------------------------------------------------------------------------------------------
# Lower-cased bytes, each scanned for separately: few and short, as every one costs a pass over the window. A
# phrase that only counts next to a password field or a refresh needs no keyword of its own.
KEYWORDS = (b"password", b"captcha", b"turnstile", b"queue", b"waiting room", b"refresh", b"seized", b"beschlagnahmt",
            b"law enforcement", b"checking", b"just a moment", b"ddos", b"challenge", b"logged in", b"logged-in",
            b"registered members")
SMALL_KEYWORDS = (b"document.cookie",)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>")
_LOOKS_HTML = re.compile(r"<(?:!doctype\s+html|html|head|body|meta|title|form|script|div|p)\b", re.I)

# --- login walls ------------------------------------------------------------------------------------------
# (phrase, reason, whether it proves a login wall only next to a password field)
LOGIN_PHRASES = (
    ("the board requires you to be registered and logged in",
     "phpBB 'the board requires you to be registered and logged in' page", False),
    ("you are not authorised to read this forum", "phpBB 'you are not authorised to read this forum' page", True),
    ("in order to login you must be registered", "phpBB login page", True),
    ("you are not logged in or you do not have permission to access this page",
     "vBulletin 'you are not logged in or you do not have permission' page", False),
    ("you do not have permission to access this page", "MyBB 'you do not have permission' page", True),
    ("you must be logged-in to do that", "XenForo 'you must be logged-in to do that' page", False),
    ("only registered members are allowed to access this section",
     "SMF 'only registered members are allowed to access this section' page", False),
)
XENFORO_LOGIN_TEMPLATES = {"login", "login_form", "error_with_login"}
_NAMES_LOGIN = re.compile(r"\b(?:log ?in|sign ?in|log ?on|members only)\b")
_LOGIN_PATH = re.compile(r"/(?:log-?in|log-?on|sign-?in|sign_in|session/new)(?:\.[a-z]{2,5})?$")
_LOGIN_QUERY = re.compile(r"(?:^|&)(?:mode|action|do)=login2?(?:&|$)|^login(?:/|&|$)")

# --- guard pages ------------------------------------------------------------------------------------------
CAPTCHA_WIDGETS = {"h-captcha", "g-recaptcha", "cf-turnstile"}
CAPTCHA_SOURCES = ("hcaptcha.com", "google.com/recaptcha", "recaptcha.net", "challenges.cloudflare.com/turnstile")
TYPED_INPUTS = {"", "text", "number", "tel", "search"}
_QUEUE = re.compile(r"\b(?:you are|you're|you have been placed|you've been placed|placed) (?:now )?in (?:a |the )?"
                    r"(?:waiting )?queue|\bposition in (?:the )?queue|\bqueue position|\bwaiting room\b")
_CHALLENGE = re.compile(r"checking your browser|checking if the site connection is secure|\bjust a moment\b|"
                        r"verifying you are (?:a )?human|ddos protection by|\bddos-guard\b|"
                        r"enable javascript and cookies to continue")
CHALLENGE_MARKUP = (b"cf_chl_opt", b"/cdn-cgi/challenge-platform", b"cf-browser-verification",
                    b"/.well-known/ddos-guard")
_COOKIE_RELOAD = re.compile(r"location\s*(?:\.\s*(?:reload|replace|assign|href)|=)")
_SEIZED = re.compile(r"\bthis (?:hidden |onion |web)?(?:site|website|service|domain|market|marketplace|forum|"
                     r"platform|server) (?:has been|was|is now|is) seized\b|"
                     r"\bunder (?:the )?control of (?:the )?law enforcement\b|\bbeschlagnahmt\b")
_SEIZED_BY = re.compile(r"\b(?:has|have) been seized by\b")
_AUTHORITY = re.compile(r"\b(?:fbi|federal bureau of investigation|europol|interpol|bka|bundeskriminalamt|"
                        r"department of justice|homeland security|national crime agency|police|politie|polizei|"
                        r"law enforcement|seizure warrant)\b")
SESSION_PARAMS = {"sid", "s", "phpsessid", "session", "sessionid", "sess"}
_TOKEN = re.compile(r"[A-Za-z0-9_\-.~%=+/]{16,}")

# --- page anatomy -----------------------------------------------------------------------------------------
CHROME_TAGS = {"head", "script", "style", "noscript", "template", "svg", "iframe", "object", "nav", "header",
               "footer", "aside", "select"}
# A class or id token naming page chrome: "page-footer", "navbar", "p-header", "loginBar", "quick_login"; not
# "widget-no-header-buttons" or "b-post__header", which are inside the content.
_CHROME_TOKEN = re.compile(r"(?:[a-z]{1,3}-)?(?:page|site|main|top)?[-_]?(?:header|footer|nav|sidebar|breadcrumb|"
                           r"copyright|menu|quick[-_]?login|login[-_]?bar|user[-_]?bar|top[-_]?bar)", re.I)
_MAIN = CSSSelector("main, [role=main], #main, #content, #main-content, #maincontent, #page-body")
# The forum engines' post selectors, each with the class, id and attribute names and values it needs: a selector
# is only run on a page whose raw text has them all (one union of them all costs more than the parse).
_POSTS = [(CSSSelector(css), tuple(name.lower().encode() for name in re.findall(r"[.#\[=]([\w-]+)", css)))
          for markup in ENGINE_MARKUP.values() for css in markup["post"]]


def detect(url: str, status: int, headers: Mapping[str, str], text: str | bytes, *,
           logged_in: str | None = None, login_url: str | None = None,
           login_selector: str | None = None) -> Wall | None:
    """The wall this response is, or None for a real page (and for anything that is not HTML).

    `url` is the final URL after redirects; `headers` maps header names (any case) to values; bytes `text` is
    read as UTF-8. The source may declare `logged_in` (a CSS selector on every logged-in page), `login_url` (a
    regex the login page's URL matches) and `login_selector` (a CSS selector on the login page): the last two,
    then a well-known login page URL, win over everything; a missing `logged_in` marker is a login wall unless
    the page is a captcha, queue, challenge or seizure. Login walls are only reported for 2xx, 401 and 403
    answers: an error page is not a login page. Raises BadDeclaration for a declaration that does not compile,
    whatever the response."""
    url_pattern = _pattern(login_url) if login_url else None
    on_login_page = _selector(login_selector, "login_selector") if login_selector else None
    marker = _selector(logged_in, "logged_in") if logged_in else None
    headers = {str(name).lower(): str(value) for name, value in headers.items()}
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    window = text[:WINDOW]
    if not window or window.isspace() or not _is_html(headers.get("content-type", ""), window):
        return None
    may_login = 200 <= status < 300 or status in (401, 403)
    wall = _Walls(url, headers, window)
    if may_login and url_pattern and url_pattern.search(url):
        return wall.make("login", "URL matches the source's login page pattern")
    if may_login and on_login_page and wall.page.select(on_login_page):
        return wall.make("login", f"the source's login page selector {login_selector!r} matches")
    if may_login and _is_login_url(url):
        return wall.make("login", "a login page URL")
    found = wall.guard()
    if found:
        return found
    if may_login and marker:
        if not wall.page.select(marker) and not (len(text) > WINDOW and _Page(text).select(marker)):
            return wall.make("login", f"page lacks the source's logged-in marker {logged_in!r}")
        return None
    return wall.login() if may_login and wall.worth_parsing else None


def parse_refresh(value: str, base: str) -> tuple[float, str | None] | None:
    """(delay in seconds, absolute target) of a Refresh header or meta refresh content; None when unparsable.

    Tolerates `5`, `5;url=/x`, `5; URL = '/x'`, `0,url="x"`; no URL means the page reloads itself (`base`).
    The target is None when it is not a URL urljoin accepts."""
    m = re.match(r"\s*(\d+(?:\.\d*)?|\.\d+)[\d.]*\s*[;,]?\s*(.*)$", value or "", re.S)
    if not m:
        return None
    target = re.sub(r"^url\s*=\s*", "", m.group(2).strip(), flags=re.I)
    if target[:1] in ("'", '"'):
        target = target[1:].split(target[0], 1)[0]
    try:
        return float(m.group(1)), urljoin(base, target.strip()) if target.strip() else base
    except ValueError:
        return float(m.group(1)), None


# --- declarations -------------------------------------------------------------------------------------------
@lru_cache(maxsize=64)
def _pattern(expr: str) -> re.Pattern:
    try:
        return re.compile(expr)
    except re.error as exc:
        raise BadDeclaration(f"login_url: not a regular expression: {expr!r} ({exc})") from None


@lru_cache(maxsize=64)
def _selector(css: str, name: str) -> CSSSelector:
    try:
        return CSSSelector(css)
    except (SelectorError, etree.XPathError) as exc:
        raise BadDeclaration(f"{name}: not a CSS selector: {css!r} ({exc})") from None


# --- cheap checks -------------------------------------------------------------------------------------------
def _is_html(content_type: str, window: str) -> bool:
    """HTML by its Content-Type; by its first characters when the type is missing or says nothing."""
    ctype = content_type.split(";", 1)[0].strip().lower()
    if "\x00" in window[:1024]:
        return False
    if ctype in ("", "application/octet-stream", "binary/octet-stream"):
        return bool(_LOOKS_HTML.search(window[:1024]))
    return "html" in ctype


def _is_login_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return bool(_LOGIN_PATH.search(parts.path.lower().rstrip("/")) or _LOGIN_QUERY.search(parts.query.lower()))


def _has_token(url: str | None) -> bool:
    try:
        query = parse_qsl(urlsplit(url or "").query)
    except ValueError:
        return False
    return any(name.lower() not in SESSION_PARAMS and _TOKEN.fullmatch(value) for name, value in query)


# --- the page, parsed on demand -----------------------------------------------------------------------------
def _attrs(el) -> str:
    return f"{el.get('id', '')} {el.get('class', '')}"


def _is_chrome(el) -> bool:
    return el.tag in CHROME_TAGS or any(_CHROME_TOKEN.match(token) for token in _attrs(el).split())


def _is_password(el) -> bool:
    return el.tag == "input" and (el.get("type") or "").strip().lower() == "password"


def _container(el):
    """The form an input belongs to, else its parent."""
    form = next(el.iterancestors("form"), None)
    return form if form is not None else el.getparent()


class _Page:
    def __init__(self, window: str):
        self.window = window

    @cached_property
    def low(self) -> bytes:
        """The window as UTF-8 with ASCII letters lower-cased: what the prefilter scans (fast on any script)."""
        return self.window.encode("utf-8", "ignore").lower()

    @cached_property
    def root(self):
        """The lxml document (always an <html> root, head kept), or None for markup lxml cannot read."""
        try:
            return html.document_fromstring(_XML_DECLARATION.sub("", self.window, count=1))
        except (etree.ParserError, ValueError):
            return None

    def select(self, selector: CSSSelector) -> bool:
        return self.root is not None and bool(selector(self.root))

    def all(self, tag: str) -> list:
        return [] if self.root is None else list(self.root.iter(tag))

    @cached_property
    def has_posts(self) -> bool:
        return any(self.select(sel) for sel, needs in _POSTS if all(n in self.low for n in needs))

    @cached_property
    def text(self) -> str:
        """Visible text, lower-cased, whitespace collapsed, typographic apostrophes made plain."""
        if self.root is None:
            return ""
        return " ".join(element_text(self.root).split()).lower().replace("\u2019", "'")

    @cached_property
    def title(self) -> str:
        title = self.root.find(".//title") if self.root is not None else None
        return " ".join((title.text_content() if title is not None else "").split()).lower()

    @cached_property
    def headings(self) -> str:
        """Title and h1-h3 headings outside the gate forms, lower-cased: what the page says it is."""
        parts = [self.title] + [h.text_content() for h in self.all(etree.Element) if h.tag in ("h1", "h2", "h3")
                                and not any(a in self.gates for a in h.iterancestors())]
        return " ".join(" ".join(parts).split()).lower()

    @cached_property
    def prominent(self) -> str:
        """Headings and image alt texts: where a banner, often a single image, says what it is."""
        alts = " ".join(img.get("alt") or "" for img in self.all("img"))
        return f"{self.headings} {' '.join(alts.split()).lower()}"

    @cached_property
    def passwords(self) -> list:
        return [el for el in self.all("input") if _is_password(el)]

    @cached_property
    def captchas(self) -> list:
        """The gates of every captcha widget, captcha input or captcha image: their forms (else parents), unless
        the form also takes a message (a textarea): a captcha'd reply or contact form is part of a real page."""
        found = []
        if b"captcha" not in self.low and b"turnstile" not in self.low:
            return found
        for el in self.all(etree.Element):
            attrs = _attrs(el).lower()
            if el.tag in ("script", "iframe"):
                if any(s in (el.get("src") or "").lower() for s in CAPTCHA_SOURCES):
                    found.append(el.getparent())
            elif CAPTCHA_WIDGETS & set(attrs.split()):
                found.append(_container(el))
            elif el.tag in ("input", "textarea") and "captcha" in f"{attrs} {el.get('name', '')}".lower() \
                    and (el.get("type") or "").lower() != "hidden":
                found.append(_container(el))
            elif el.tag == "img" and "captcha" in " ".join(
                    [attrs, *(el.get(a) or "" for a in ("src", "alt", "name", "title"))]).lower():
                box = _container(el)
                if box is not None and any((i.get("type") or "").strip().lower() in TYPED_INPUTS
                                           for i in box.iter("input")):
                    found.append(box)
        return [box for box in found if box is not None and not any(
            "captcha" not in f"{_attrs(t)} {t.get('name', '')}".lower() for t in box.iter("textarea"))]

    @cached_property
    def gates(self) -> set:
        """The forms (or containers) that hold a password field or a captcha."""
        return {_container(el) for el in self.passwords} | set(self.captchas)

    @cached_property
    def chars(self) -> int:
        """Characters of text outside chrome (head, scripts, nav, header, footer, sidebars) and the gates."""
        if self.root is None:
            return 0
        count, stack = 0, list(self.root)
        while stack:
            el = stack.pop()
            count += len((el.tail or "").strip())
            if not isinstance(el.tag, str) or el in self.gates or _is_chrome(el):
                continue
            count += len((el.text or "").strip())
            stack.extend(el)
        return count

    def bare(self, limit: int = THIN) -> bool:
        """No posts and under `limit` characters besides chrome and gate forms: nothing a crawl came for."""
        return not self.has_posts and self.chars < limit

    def in_main(self, el) -> bool:
        """Inside the page's main region (when it marks one) and outside its chrome."""
        mains = set(_MAIN(self.root))
        line = (el, *el.iterancestors())
        return not any(map(_is_chrome, line)) and (not mains or any(a in mains for a in line))

    @cached_property
    def meta_refresh(self) -> str | None:
        if b"refresh" not in self.low:
            return None
        for meta in self.all("meta"):
            if (meta.get("http-equiv") or "").strip().lower() == "refresh" and meta.get("content"):
                return meta.get("content")
        return None


class _Walls:
    """The rules, run over one response."""

    def __init__(self, url: str, headers: dict[str, str], window: str):
        self.url, self.headers, self.page = url, headers, _Page(window)

    @cached_property
    def worth_parsing(self) -> bool:
        """The prefilter: does the raw page (or a Refresh header) say anything a wall would?"""
        low = self.page.low
        return "refresh" in self.headers or any(k in low for k in KEYWORDS) or (
            len(low) < SMALL and any(k in low for k in SMALL_KEYWORDS))

    def make(self, kind: Kind, reason: str) -> Wall:
        refresh = self.refresh
        return Wall(kind, reason, *(refresh or (None, None)))

    @cached_property
    def refresh(self) -> tuple[float, str | None] | None:
        for value in (self.headers.get("refresh"), self.page.meta_refresh):
            parsed = parse_refresh(value, self.url) if value else None
            if parsed:
                return parsed
        return None

    def guard(self) -> Wall | None:
        """A seizure banner, captcha, queue or JavaScript challenge page."""
        page = self.page
        if self.headers.get("cf-mitigated", "").strip().lower() == "challenge":
            return self.make("challenge", "Cloudflare challenge (cf-mitigated header)")
        if not self.worth_parsing or not page.bare():
            return None
        return self._seized() or self._captcha() or self._queue() or self._challenge()

    def _seized(self) -> Wall | None:
        page = self.page
        text = f"{page.prominent} {page.text}"
        m = _SEIZED.search(text)
        if not m and (m := _SEIZED_BY.search(text)) and not _AUTHORITY.search(text):
            m = None
        return self.make("seized", f"seizure banner ('{m.group(0)}')") if m else None

    def _captcha(self) -> Wall | None:
        boxes = [box for box in self.page.captchas if not any(_is_password(el) for el in box.iter("input"))]
        if not boxes or not self.page.bare(SPARSE):
            return None
        widget = next((w for w in ("h-captcha", "g-recaptcha", "cf-turnstile") if w.encode() in self.page.low), None)
        return self.make("captcha", f"{widget} widget" if widget else "captcha form")

    def _queue(self) -> Wall | None:
        page = self.page
        m = _QUEUE.search(page.text)
        if m:
            return self.make("queue", f"queue page ('{m.group(0)}'){self._refreshes()}")
        if self.refresh and ("please wait" in page.text and page.chars < SPARSE
                             or _has_token(self.refresh[1]) and page.chars < TINY):
            return self.make("queue", f"waiting page{self._refreshes()}")
        return None

    def _refreshes(self) -> str:
        return f", refreshes in {self.refresh[0]:g} s" if self.refresh else ""

    def _challenge(self) -> Wall | None:
        page = self.page
        m = _CHALLENGE.search(f"{page.title} {page.text}")
        if m:
            return self.make("challenge", f"JavaScript challenge page ('{m.group(0)}')")
        marker = next((k for k in CHALLENGE_MARKUP if k in page.low), None)
        if marker:
            return self.make("challenge", f"JavaScript challenge page ({marker.decode()})")
        if page.chars < TINY:
            scripts = " ".join(s.text or "" for s in page.all("script"))
            if "document.cookie" in scripts and _COOKIE_RELOAD.search(scripts):
                return self.make("challenge", "page that only sets a cookie and reloads")
        return None

    def login(self) -> Wall | None:
        """An engine's login-required page, or a login form on a page with nothing else."""
        page = self.page
        if not page.bare():
            return None
        for phrase, reason, needs_password in LOGIN_PHRASES:
            if phrase in page.text and (page.passwords or not needs_password):
                return self.make("login", reason)
        if not page.passwords:
            return None
        if page.root.get("data-template") in XENFORO_LOGIN_TEMPLATES or any(
                set(el.get("class", "").split()) & XENFORO_LOGIN_TEMPLATES for el in page.root.iter("div")
                if el.get("id") == "content"):
            return self.make("login", "XenForo login page")
        if page.chars >= SPARSE or page.chars >= TINY and not _NAMES_LOGIN.search(page.headings) \
                or any(next(form.iter("textarea"), None) is not None for form in page.all("form")):
            return None
        forms = {_container(el) for el in page.passwords}
        if any(form is not None and page.in_main(form) and sum(map(_is_password, form.iter("input"))) == 1
               for form in forms):
            return self.make("login", "login form (password field) on a page with nothing else")
        return None
