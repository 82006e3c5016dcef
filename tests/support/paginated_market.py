"""A market whose listing is paginated only with "Next": `pages` listing pages of `per_page` items each, every
item linking to its vendor's page, served on 127.0.0.1. Each item is one synthetic offer."""
from __future__ import annotations

import re

from tests.support.fixture_server import FixtureServer, Request

VENDORS = 5


def _html(title: str, body: str) -> bytes:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
            f"<nav><a href='/listings'>Listings</a></nav><main>{body}</main></body></html>").encode()


class PaginatedMarket:
    def __init__(self, pages: int = 50, per_page: int = 2):
        self.pages, self.per_page = pages, per_page
        self.server = FixtureServer(self.respond, name="paginated-market")
        self.url = self.server.url("/listings")

    @property
    def items(self) -> int:
        return self.pages * self.per_page

    def listing(self, page: int) -> bytes:
        first = (page - 1) * self.per_page
        rows = "".join(f"<div class='row'><a href='/item/{n}'>Item {n}: CNIC record lookup</a></div>"
                       for n in range(first, first + self.per_page))
        nxt = f"<a class='pager' href='/listings?page={page + 1}'>Next »</a>" if page < self.pages else ""
        return _html(f"Listings, page {page}", rows + nxt)

    def item(self, n: int) -> bytes:
        return _html(f"Item {n}", f"<article><h1>Item {n}</h1><p>CNIC copy front and back, Rs {500 + n} each, "
                                  f"SIM owner details too, telegram @seller_{n:03d}</p>"
                                  f"<a href='/vendor/{n % VENDORS}'>vendor {n % VENDORS}</a></article>")

    def respond(self, request: Request):
        path = request.path
        if m := re.fullmatch(r"/listings(?:\?page=(\d+))?", path):
            page = int(m.group(1) or 1)
            body = self.listing(page) if 1 <= page <= self.pages else None
        elif m := re.fullmatch(r"/item/(\d+)", path):
            body = self.item(int(m.group(1))) if int(m.group(1)) < self.items else None
        elif m := re.fullmatch(r"/vendor/(\d+)", path):
            body = _html("Vendor", f"<p>Vendor {m.group(1)}: trusted seller of NADRA and SIM data since 2023.</p>")
        else:
            body = None
        return (200, {"Content-Type": "text/html; charset=utf-8"}, body) if body else (404, {}, b"not found")

    def __enter__(self) -> PaginatedMarket:
        self.server.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop()
