"""The one threaded HTTP server behind the tests' fixture sites, on 127.0.0.1.

A site is a route: a callable taking a `Request` and returning what to answer:
- `(status, headers, body)`: the status line (with the stdlib's Server and Date headers), `headers` in order,
  then `Content-Length` unless `headers` has one or the status is 204/304, then `body`: bytes, or an iterable
  of byte chunks written as they come (give `Content-Length` for those);
- `Raw(write)`: `write(wfile)` writes whatever bytes it likes on the socket itself (no status line is sent),
  then the connection is closed; errors from a client that went away are swallowed;
- `None`: no answer at all, the connection is just closed (to stall first, wait on `server.stopping`).

    with FixtureServer(route) as server:   # or server.start() ... server.stop()
        server.base                         # "http://127.0.0.1:<port>"; server.url("/x"), server.port
        server.requests                     # every Request: method, path, headers, body
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.client import HTTPMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import BinaryIO, Union

# What a client that gave up does to a write: nothing for a fixture to report.
_GONE = (BrokenPipeError, ConnectionResetError)


@dataclass
class Request:
    method: str
    path: str  # as sent, query included
    headers: HTTPMessage  # case-insensitive: headers["Host"]; dict(headers) keeps the names as sent
    body: bytes


@dataclass
class Raw:
    """An answer written by hand on the socket: `write(wfile)`, then the connection closes."""

    write: Callable[[BinaryIO], None]


Answer = Union[tuple[int, dict[str, str], Union[bytes, Iterable[bytes]]], Raw, None]
Route = Callable[[Request], Answer]


class FixtureServer:
    """A `ThreadingHTTPServer` on 127.0.0.1 in a daemon thread, dispatching every request to `route`.

    `port` 0 picks a free one; `protocol` is the handler's protocol_version ("HTTP/1.0" closes after each
    answer); `methods` are the ones answered (others get the stdlib's 501)."""

    def __init__(self, route: Route, *, port: int = 0, protocol: str = "HTTP/1.1",
                 methods: Iterable[str] = ("GET",), name: str = "fixture-server"):
        self.route, self.name = route, name
        self.requests: list[Request] = []
        self.stopping = threading.Event()  # set by stop(): routes that stall wait on it
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(self, protocol, methods))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None
        self.port: int = self._httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "") -> str:
        return self.base + path

    def start(self) -> FixtureServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> FixtureServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)


def _handler(server: FixtureServer, protocol: str, methods: Iterable[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = protocol

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(self.command, self.path, self.headers, self.rfile.read(length) if length else b"")
            server._record(request)
            answer = server.route(request)
            if answer is None:
                self.close_connection = True
                return
            if isinstance(answer, Raw):
                try:
                    answer.write(self.wfile)
                    self.wfile.flush()
                except OSError:  # the client gave up: what a hostile route wants
                    pass
                self.close_connection = True
                return
            status, headers, body = answer
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if isinstance(body, (bytes, bytearray)) and status not in (204, 304) and not any(
                    key.lower() == "content-length" for key in headers):
                self.send_header("Content-Length", str(len(body)))
            try:
                self.end_headers()
                for chunk in (body,) if isinstance(body, (bytes, bytearray)) else body:
                    self.wfile.write(chunk)
            except _GONE:
                self.close_connection = True

        def log_message(self, format, *args) -> None:  # noqa: A002 - the stdlib's signature
            pass

    for method in methods:
        setattr(Handler, f"do_{method}", Handler._serve)
    return Handler
