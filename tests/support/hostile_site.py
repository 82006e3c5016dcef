"""A site that tries to make the crawler go where it must not, and listeners that count who came.

- `/schemes`: links to ftp, gopher, file, s3 and data targets (local files included), each aimed at a listener
  or at this machine's own files;
- `/redirect-out`: a redirect to another loopback host (`localhost` instead of 127.0.0.1), request forgery
  against internal hosts;
- `/trickle-head`, `/trickle-body`: a server that answers one byte every `TRICKLE_EVERY` seconds, in its
  headers or in its body, for at most `TRICKLE_FOR` seconds.
"""
from __future__ import annotations

import socket
import threading
import time

from tests.support.fixture_server import FixtureServer, Raw, Request

TRICKLE_EVERY, TRICKLE_FOR = 0.5, 120.0


class Listener:
    """A TCP port on 127.0.0.1 that accepts connections, counts them and closes them."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


class HostileSite:
    """The pages above on 127.0.0.1, and one listener per scheme they aim at (`listeners[name]`).

    The trickling pages write their bytes by hand (`Raw`) through the FixtureServer; `Listener` stays a raw
    socket, as it must accept and drop connections before any HTTP is spoken."""

    def __init__(self):
        self.listeners = {name: Listener() for name in ("ftp", "gopher", "s3", "internal")}
        self.hits: list[str] = []
        self.server = FixtureServer(self.respond, name="hostile-site")
        self.port = self.server.port
        self.url = self.server.base

    def links(self) -> list[str]:
        port = {name: listener.port for name, listener in self.listeners.items()}
        return [f"ftp://localhost:{port['ftp']}/stock.txt", f"ftp://127.0.0.1:{port['ftp']}/stock.txt",
                f"gopher://localhost:{port['gopher']}/1", f"s3://localhost:{port['s3']}/bucket/key",
                "file://localhost/proc/self/environ", "file:///proc/self/environ", "file://localhost/dev/zero",
                "file:///etc/hostname", "data:text/html,<p>CNIC 35202-1234567-1 Rs 500</p>"]

    def respond(self, request: Request):
        self.hits.append(request.path)
        if request.path == "/schemes":
            body = "".join(f'<p><a href="{url}">{url}</a></p>' for url in self.links())
            return _html(200, f"<html><body><h1>stock</h1>{body}</body></html>".encode())
        if request.path == "/redirect-out":
            return 302, {"Location": f"http://localhost:{self.listeners['internal'].port}/admin",
                         "Content-Length": "0"}, b""
        if request.path == "/trickle-head":
            return Raw(lambda wfile: _trickle(wfile, b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"." * 10_000))
        if request.path == "/trickle-body":
            head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n"
            return Raw(lambda wfile: (wfile.write(head), _trickle(wfile, b"<p>" + b"." * 99_997)))
        return _html(404, b"no")

    def connections(self) -> dict[str, int]:
        return {name: listener.connections for name, listener in self.listeners.items()}

    def __enter__(self) -> HostileSite:
        self.server.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop()
        for listener in self.listeners.values():
            listener.close()


def _html(status: int, body: bytes):
    return status, {"Content-Type": "text/html"}, body


def _trickle(wfile, data: bytes) -> None:
    """One byte every TRICKLE_EVERY seconds, for at most TRICKLE_FOR; a write error (the crawler gave up,
    what it should do) ends it in the FixtureServer."""
    ends = time.monotonic() + TRICKLE_FOR
    for byte in data:
        if time.monotonic() > ends:
            return
        wfile.write(bytes([byte]))
        wfile.flush()
        time.sleep(TRICKLE_EVERY)
