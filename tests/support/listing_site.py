"""A large synthetic shop for the distributed-crawl tests: `pages` listing pages linked as a binary tree,
each with one offer, served on 127.0.0.1 with an optional delay; logs every path it serves, when each
request came, and the most requests it ever had in progress at once."""
from __future__ import annotations

import threading
import time

from tests.support.fixture_server import FixtureServer, Request


def page(n: int, total: int) -> bytes:
    links = "".join(f'<a href="/p/{c}.html">page {c}</a> ' for c in (2 * n + 1, 2 * n + 2) if c < total)
    return (f"<html><body><main><div class='card'>Listing {n}: CNIC copy front/back, Rs {500 + n}/-, telegram "
            f"@shop_{n:05d}</div></main><footer>{links}</footer></body></html>").encode()


class ListingSite:
    def __init__(self, pages: int, delay: float = 0.0):
        self.pages, self.delay = pages, delay
        self.log: list[str] = []
        self.arrivals: list[float] = []
        self.busy = self.most_busy = 0
        self._lock = threading.Lock()
        self.server = FixtureServer(self.respond, name="listing-site")
        self.url = self.server.url("/p/0.html")

    def respond(self, request: Request):
        with self._lock:
            self.log.append(request.path)
            self.arrivals.append(time.monotonic())
            self.busy += 1
            self.most_busy = max(self.most_busy, self.busy)
        num = request.path.removeprefix("/p/").removesuffix(".html")
        body = page(int(num), self.pages) if num.isdigit() and int(num) < self.pages else None
        time.sleep(self.delay)
        with self._lock:
            self.busy -= 1
        return 200 if body else 404, {"Content-Type": "text/html; charset=utf-8"}, body or b"not found"

    def __enter__(self) -> ListingSite:
        self.server.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop()
