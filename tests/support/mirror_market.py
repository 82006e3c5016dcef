"""Two mirrors of one market, as onion markets publish them, each its own server on 127.0.0.1 serving the same
pages: `/listings?page=N` (paginated only with "Next") and `/item/N` (N = 1..items, one synthetic offer each).
Every link is host-relative, so a crawl stays on whichever mirror it is on.

The first mirror dies after answering `die_after` requests (its last answer leaves once it is dead). Then it
refuses connections: its listening socket is closed and a socket that never listens stays bound to the port, so
no server asking for a free port (port 0, as every fixture does) can be given it while the market lives. With
`seized=True` it instead answers every path with a law-enforcement seizure banner, HTTP 200.
"""
from __future__ import annotations

import re
import socket
import threading
from functools import partial
from urllib.parse import urlsplit

from tests.support.fixture_server import FixtureServer, Request

_HTML = {"Content-Type": "text/html; charset=utf-8"}
_LISTINGS = re.compile(r"/listings(?:\?page=(\d+))?")
_ITEM = re.compile(r"/item/(\d+)")

SEIZED = ("<!doctype html><html><head><meta charset='utf-8'><title>Seized</title></head><body>"
          "<div class='seizure'><h1>THIS HIDDEN SITE HAS BEEN SEIZED</h1>"
          "<p>by the Federal Investigation Agency (FIA) Cyber Crime Wing as part of a coordinated law "
          "enforcement action with the Federal Bureau of Investigation and Europol.</p>"
          "<img src='/seized/fia.png' alt='FIA Cyber Crime Wing logo'>"
          "<img src='/seized/fbi.png' alt='FBI logo'><img src='/seized/europol.png' alt='Europol logo'>"
          "</div></body></html>").encode()


def _html(title: str, body: str) -> bytes:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
            f"<nav><a href='/listings'>Listings</a></nav><main>{body}</main></body></html>").encode()


class MirrorMarket:
    def __init__(self, items: int = 30, per_page: int = 5, die_after: int | None = 12, seized: bool = False):
        if items < 1 or per_page < 1:
            raise ValueError(f"a mirror market needs at least one item and one per page, not {items} and {per_page}")
        if die_after is not None and die_after < 1:
            raise ValueError(f"die_after must be at least 1 (or None: never), not {die_after}")
        self.items, self.per_page, self.die_after, self.seized = items, per_page, die_after, seized
        self.pages = -(-items // per_page)
        self.dead = False
        self._lock = threading.Lock()
        self._answered = [0, 0]
        self._served: list[set[int]] = [set(), set()]
        self._tombstone: socket.socket | None = None
        self.servers = [FixtureServer(partial(self.respond, i), name=f"mirror-{i}") for i in range(2)]
        self.mirrors = [server.base for server in self.servers]
        self.primary, self.secondary = self.mirrors

    def answered(self, mirror: str) -> int:
        """How many requests the mirror at `mirror` (its base URL, or any URL on it) answered."""
        return self._answered[self._index(mirror)]

    def served(self, mirror: str) -> set[int]:
        """The items whose page the mirror at `mirror` served (seizure banners do not count)."""
        return set(self._served[self._index(mirror)])

    def listing(self, page: int) -> bytes:
        first = (page - 1) * self.per_page + 1
        rows = "".join(f"<div class='row'><a href='/item/{n}'>Item {n}: SIM owner and CNIC lookup</a></div>"
                       for n in range(first, min(first + self.per_page, self.items + 1)))
        nxt = f"<a class='pager' href='/listings?page={page + 1}'>Next »</a>" if page < self.pages else ""
        return _html(f"Listings, page {page}", rows + nxt)

    def item(self, n: int) -> bytes:
        return _html(f"Item {n}", f"<article><h1>Item {n}</h1><p>SIM owner details with CNIC and address, "
                                  f"any network, Rs {200 + 10 * n} per number, telegram @mirror_seller_{n:03d}</p>"
                                  "</article>")

    def respond(self, index: int, request: Request):
        with self._lock:
            if index == 0 and self.dead:
                if not self.seized:
                    return None  # a request on a connection kept alive from before: closed unanswered
                self._answered[0] += 1
                return 200, _HTML, SEIZED
            answer = self._page(index, request.path)
            self._answered[index] += 1
            if index == 0 and self._answered[0] == self.die_after:
                self._die()
        return answer

    def _page(self, index: int, path: str):
        if m := _LISTINGS.fullmatch(path):
            page = int(m.group(1) or 1)
            if 1 <= page <= self.pages:
                return 200, _HTML, self.listing(page)
        elif (m := _ITEM.fullmatch(path)) and 1 <= (n := int(m.group(1))) <= self.items:
            self._served[index].add(n)
            return 200, _HTML, self.item(n)
        return 404, {}, b"not found"

    def _die(self) -> None:
        self.dead = True
        if self.seized:
            return
        server = self.servers[0]
        server.stop()
        self._tombstone = socket.socket()
        self._tombstone.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past the TIME_WAITs just left
        self._tombstone.bind(("127.0.0.1", server.port))

    def _index(self, mirror: str) -> int:
        netloc = urlsplit(mirror).netloc
        for index, base in enumerate(self.mirrors):
            if urlsplit(base).netloc == netloc:
                return index
        raise ValueError(f"not a mirror of this market: {mirror}")

    def __enter__(self) -> MirrorMarket:
        for server in self.servers:
            server.start()
        return self

    def __exit__(self, *exc) -> None:
        for server in self.servers:
            server.stop()
        if self._tombstone is not None:
            self._tombstone.close()
