"""An EndGame-style anti-DDoS front, as onion markets put before their site, guarding a tiny market on 127.0.0.1.

One server (GET and POST), one scenario per path prefix:
- `/short/…`: without the pass cookie, a queue page (HTTP 200) whose meta refresh, after 2 s, asks for
  `/short/?queue_token=<token>`. That token, used once and no sooner than 2 s after its queue page was first
  served (sooner: the same queue page again), sets the pass cookie `dcap` and redirects (302) to the path first
  asked for. With the cookie every `/short/` page is the market: `/short/` lists `/short/item/1` to `/3`.
- `/long/…`: the same, but the queue asks for 300 s: too long to wait out.
- `/captcha/…`: the EndGame captcha form (an inline PNG, POSTed to `/captcha/verify`) for every request:
  nobody gets through.

`hits(scenario)` counts the guard pages (queue or captcha) a scenario answered, `passes(scenario)` the pass
cookies it gave; `reset()` zeroes both and empties `server.requests`.
"""
from __future__ import annotations

import base64
import collections
import re
import secrets
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

from tests.support.fixture_server import FixtureServer, Request

QUEUE_WAIT = {"short": 2, "long": 300}  # seconds a scenario's queue asks for (and enforces)
PASS_COOKIE = "dcap"
ITEMS = 3
_HTML = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
_ITEM = re.compile(r"item/(\d+)")


def _png(width: int = 48, height: int = 16) -> bytes:
    """A valid greyscale PNG of noisy stripes, the captcha's picture."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\0" + bytes((x * 37 + y * 91) % 256 for x in range(width)) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


CAPTCHA_PNG = _png()


def _page(title: str, body: str, head: str = "") -> bytes:
    return (f"<!doctype html><html><head><meta charset='utf-8'>{head}<title>{title}</title></head>"
            f"<body>{body}</body></html>").encode()


def queue_page(scenario: str, token: str) -> bytes:
    refresh = f"<meta http-equiv='refresh' content='{QUEUE_WAIT[scenario]};url=/{scenario}/?queue_token={token}'>"
    return _page("Queue", "<div class='queue'><h1>Queue</h1><p>You are in queue, please wait. "
                          "This page refreshes automatically.</p></div>", refresh)


def captcha_page() -> bytes:
    image = base64.b64encode(CAPTCHA_PNG).decode()
    return _page("Captcha", "<form class='captcha' method='post' action='/captcha/verify'>"
                            "<p>Solve the captcha to enter the site.</p>"
                            "<label for='captcha'>Captcha</label>"
                            f"<img src='data:image/png;base64,{image}' alt='captcha'>"
                            "<input id='captcha' name='captcha' type='text' autocomplete='off' required>"
                            "<button type='submit'>Verify</button></form>")


def market_page(scenario: str, rest: str) -> bytes | None:
    """The guarded market's page at `/<scenario>/<rest>`, None if there is none."""
    if rest == "":
        rows = "".join(f"<div class='row'><a href='/{scenario}/item/{n}'>Item {n}: CNIC copy</a></div>"
                       for n in range(1, ITEMS + 1))
        return _page("Guarded market", f"<main>{rows}</main>")
    if (m := _ITEM.fullmatch(rest)) and 1 <= (n := int(m.group(1))) <= ITEMS:
        return _page(f"Item {n}", f"<article><h1>Item {n}</h1><p>CNIC copy front and back, Rs {400 + 100 * n}, "
                                  f"telegram @seller_{n:03d}</p></article>")
    return None


def _cookies(header: str) -> dict[str, str]:
    pairs = (part.strip().partition("=") for part in header.split(";"))
    return {name: value for name, _, value in pairs if name}


@dataclass
class _Visit:
    """One queue visit: its scenario, the path first asked for, and when its queue page was first served."""

    scenario: str
    wanted: str
    since: float


class GuardSite:
    def __init__(self):
        self._lock = threading.Lock()
        self._visits: dict[str, _Visit] = {}  # queue token -> visit, until used
        self._passes: dict[str, str] = {}  # pass cookie -> the scenario it opens
        self._hits: collections.Counter[str] = collections.Counter()
        self._passed: collections.Counter[str] = collections.Counter()
        self.server = FixtureServer(self.respond, methods=("GET", "POST"), name="guard-site")
        self.port, self.base = self.server.port, self.server.base

    def hits(self, scenario: str) -> int:
        """Guard pages (queue or captcha) answered under `/<scenario>/` since the last reset()."""
        return self._hits[scenario.strip("/")]

    def passes(self, scenario: str) -> int:
        """Pass cookies given under `/<scenario>/` since the last reset()."""
        return self._passed[scenario.strip("/")]

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
            self._passed.clear()
            self.server.requests.clear()

    def respond(self, request: Request):
        url = urlsplit(request.path)
        scenario, _, rest = url.path.lstrip("/").partition("/")
        if scenario == "captcha":
            return self._guard(scenario, captcha_page())
        if scenario not in QUEUE_WAIT:
            return 404, {}, b"not found"
        if self._passes.get(_cookies(request.headers.get("Cookie", "")).get(PASS_COOKIE)) == scenario:
            body = market_page(scenario, rest)
            return (200, _HTML, body) if body else (404, {}, b"not found")
        query = parse_qsl(url.query, keep_blank_values=True)
        token = dict(query).get("queue_token", "")
        with self._lock:
            visit = self._visits.get(token)
            if visit is None or visit.scenario != scenario:
                others = [(key, value) for key, value in query if key != "queue_token"]
                token = secrets.token_urlsafe(16)
                self._visits[token] = _Visit(scenario, url.path + (f"?{urlencode(others)}" if others else ""),
                                             time.monotonic())
            elif time.monotonic() - visit.since >= QUEUE_WAIT[scenario]:
                del self._visits[token]
                cookie = secrets.token_urlsafe(16)
                self._passes[cookie] = scenario
                self._passed[scenario] += 1
                return 302, {"Location": visit.wanted, "Set-Cookie": f"{PASS_COOKIE}={cookie}; Path=/; HttpOnly"}, b""
        return self._guard(scenario, queue_page(scenario, token))

    def _guard(self, scenario: str, body: bytes):
        with self._lock:
            self._hits[scenario] += 1
        return 200, _HTML, body

    def __enter__(self) -> GuardSite:
        self.server.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop()
