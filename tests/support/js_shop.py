"""A local shop whose listings exist only after JavaScript ran, for the browser tests and benchmark.

`GET /` and `/page/<n>` serve one HTML shell (`js_shop/shop.html`); its script fetches
`/api/listings?page=<n>` and builds the listing cards and the next-page link. Without JavaScript a
page has neither. Troublesome pages: `/chatty` renders, then polls its server for ever (never
network-idle); `/frozen` renders, then its script loops for ever; `/stalled` never answers.
Everything is served from 127.0.0.1; pages reference nothing outside it.
"""
from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.support.fixture_server import FixtureServer, Request

STATIC = Path(__file__).with_name("js_shop")
PER_PAGE = 4
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css"}
_PAGE = re.compile(r"^/page/(\d+)$")
_ASSETS = ("shop.js", "shop.css")

# (title, text, price, seller): unmistakable offers of personal data, in the shop's English.
_OFFERS = (
    ("CNIC colour copy, front and back", "Send any CNIC number and get a colour copy of the NADRA card, front and "
     "back, within 30 minutes.", "Rs {n}00 per CNIC", "@bazaar_cnic on Telegram"),
    ("SIM owner details, all networks", "Owner name, CNIC number and address for any Jazz, Zong, Telenor or Ufone "
     "number.", "Rs {n}50 per number", "@simowner_pk"),
    ("Call data records (CDR), 3 months", "Complete CDR with calls, SMS and tower locations for the last three "
     "months, delivered as Excel.", "{n}000 PKR", "@cdr_records"),
    ("FIA travel history", "Entry and exit records and passport details of any Pakistani traveller.",
     "{n}0 USDT per person", "@travel_records"),
)


def listings(key: str) -> list[dict]:
    """The listings a page shows (ground truth): page "3" -> listings 9..12; chatty and frozen have one each."""
    if key in ("chatty", "frozen"):
        numbers = [1000 + len(key)]
    else:
        numbers = list(range((int(key) - 1) * PER_PAGE + 1, int(key) * PER_PAGE + 1))
    out = []
    for number in numbers:
        title, text, price, seller = _OFFERS[number % len(_OFFERS)]
        out.append({"id": number, "title": f"{title} #{number}", "text": text,
                    "price": price.format(n=number % 9 + 3), "seller": seller})
    return out


class JsShop:
    """The shop server with `pages` listing pages; a context manager. `log` lists every path asked for."""

    def __init__(self, pages: int = 3):
        self.pages = pages
        self.log: list[str] = []
        self._lock = threading.Lock()
        self._server = FixtureServer(self._answer, name="js-shop")

    @property
    def base_url(self) -> str:
        return self._server.base

    def __enter__(self) -> JsShop:
        self._server.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.stop()

    def _answer(self, request: Request):
        answer = self.respond(request.path)
        if answer is None:
            return None
        status, content_type, body = answer
        return status, {"Content-Type": content_type}, body

    def respond(self, path: str) -> tuple[int, str, bytes] | None:
        """(status, content type, body) for a GET; None: never answer."""
        with self._lock:
            self.log.append(path)
        url = urlsplit(path)
        if url.path == "/stalled":
            self._server.stopping.wait(120)
            return None
        if self._shell(url.path):
            return 200, _TYPES[".html"], (STATIC / "shop.html").read_bytes()
        asset = url.path.removeprefix("/static/")
        if asset in _ASSETS:
            return 200, _TYPES[Path(asset).suffix], (STATIC / asset).read_bytes()
        if url.path == "/api/listings":
            return self._api((parse_qs(url.query).get("page") or ["1"])[0])
        if url.path == "/api/ping":
            return 200, "application/json", b"{}"
        return 404, _TYPES[".html"], b"<!DOCTYPE html><title>Not found</title><p>Not found</p>"

    def _shell(self, path: str) -> bool:
        page = _PAGE.match(path)
        return path in ("/", "/chatty", "/frozen") or (page is not None and 1 <= int(page.group(1)) <= self.pages)

    def _api(self, key: str) -> tuple[int, str, bytes]:
        if key not in ("chatty", "frozen") and not (key.isdecimal() and 1 <= int(key) <= self.pages):
            return 404, "application/json", b'{"error": "no such page"}'
        next_page = int(key) + 1 if key.isdecimal() and int(key) < self.pages else None
        data = {"listings": listings(key), "next": f"/page/{next_page}" if next_page else None,
                "poll": key == "chatty", "hang": key == "frozen"}
        return 200, "application/json", json.dumps(data).encode()
