"""A hostile little web site on 127.0.0.1: errors, redirect loops, wrong encodings, huge and binary bodies."""
from __future__ import annotations

import time

from tests.support.fixture_server import FixtureServer, Request

# Urdu as Windows-1256 pages write it: Arabic yeh (U+064A), since the code page has no Farsi yeh.
URDU_OFFER = "شناختي کارڈ کي کاپي دستياب ہے، قيمت 500 روپے، رابطہ واٹس ايپ 0301-2345678"
PAGES = {
    "/": ("200", "text/html; charset=utf-8", "".join(
        f'<p><a href="{p}">{p}</a></p>' for p in
        ("/404", "/500", "/loop/a", "/cp1256", "/badutf8", "/huge", "/binary", "/malformed", "/slow"))
        .join(("<html><body><h1>index</h1>", "</body></html>")).encode()),
    "/404": ("404", "text/html", b"<html><body>gone</body></html>"),
    "/500": ("500", "text/html", b"<html><body>boom</body></html>"),
    "/cp1256": ("200", "text/html; charset=windows-1256",
                f"<html><body><div class='post'>{URDU_OFFER}</div></body></html>".encode("cp1256")),
    "/badutf8": ("200", "text/html; charset=utf-8",
                 b"<html><body><p>CNIC copy for sale \xff\xfe\xc3\x28 Rs 700, telegram @bad_bytes_shop</p></body></html>"),
    "/binary": ("200", "application/octet-stream", bytes(range(256)) * 64),
    "/malformed": ("200", "text/html", b"<html><body><div><p>SIM owner details <b>Rs 300<div></p></span></table>"
                                       b"<<<>>> whatsapp 0345-1234567 <script>while(1){}"),
}
HUGE_BYTES = 60 * 1024 * 1024


class BadSite:
    """Serve PAGES plus /loop/a <-> /loop/b, /huge (60 MB) and /slow (answers after `slow_seconds`)."""

    def __init__(self, slow_seconds: float = 5.0):
        self.slow_seconds = slow_seconds
        self.hits: list[str] = []
        self.server = FixtureServer(self.respond, name="bad-site")
        self.url = self.server.base

    def respond(self, request: Request):
        path = request.path
        self.hits.append(path)
        if path in ("/loop/a", "/loop/b"):
            return 302, {"Location": "/loop/b" if path == "/loop/a" else "/loop/a", "Content-Length": "0"}, b""
        if path == "/huge":
            chunk = b"<p>" + b"x" * 65529 + b"</p>"
            return 200, {"Content-Type": "text/html", "Content-Length": str(HUGE_BYTES)}, (
                chunk for _ in range(HUGE_BYTES // len(chunk)))
        if path == "/slow":
            time.sleep(self.slow_seconds)
            return _page("200", "text/html", b"<html><body>late</body></html>")
        if path in PAGES:
            return _page(*PAGES[path])
        return _page("404", "text/html", b"no")

    def __enter__(self) -> BadSite:
        self.server.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop()


def _page(status: str, ctype: str, body: bytes):
    return int(status), {"Content-Type": ctype}, body
