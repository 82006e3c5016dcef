"""A small shop that starts blocking: after `allow` requests it answers 429 `block` times."""
from __future__ import annotations

import threading

from tests.support.fixture_server import FixtureServer, Request

PAGES = 12


def page(n: int) -> bytes:
    links = "".join(f'<a href="/item/{i}.html">item {i}</a> ' for i in range(PAGES) if i != n)
    return (f"<html><body><div class='offer'>Item {n}: SIM owner details any network, Rs {300 + n}/-, "
            f"telegram @blocky_shop_{n:02d}</div><nav>{links}</nav></body></html>").encode()


class BlockSite:
    def __init__(self, allow: int = 4, block: int = 2):
        self.allow, self.block = allow, block
        self.log: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self.server = FixtureServer(self.respond, name="block-site")
        self.port = self.server.port

    def respond(self, request: Request):
        with self._lock:
            n = len(self.log)
            blocked = self.allow <= n < self.allow + self.block
            status = 429 if blocked else 200
            self.log.append((request.path, status))
        if blocked:
            body = b"Too Many Requests"
        else:
            num = request.path.rsplit("/", 1)[-1].split(".")[0]
            body = page(int(num) if num.isdigit() else 0)
        headers = {"Content-Type": "text/html; charset=utf-8", "Content-Length": str(len(body))}
        if status == 429:
            headers["Retry-After"] = "1"
        return status, headers, body

    def __enter__(self) -> BlockSite:
        self.server.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop()
