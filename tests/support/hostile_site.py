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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
    """The pages above on 127.0.0.1, and one listener per scheme they aim at (`listeners[name]`)."""

    def __init__(self):
        self.listeners = {name: Listener() for name in ("ftp", "gopher", "s3", "internal")}
        self.hits: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def links(self) -> list[str]:
        port = {name: listener.port for name, listener in self.listeners.items()}
        return [f"ftp://localhost:{port['ftp']}/stock.txt", f"ftp://127.0.0.1:{port['ftp']}/stock.txt",
                f"gopher://localhost:{port['gopher']}/1", f"s3://localhost:{port['s3']}/bucket/key",
                "file://localhost/proc/self/environ", "file:///proc/self/environ", "file://localhost/dev/zero",
                "file:///etc/hostname", "data:text/html,<p>CNIC 35202-1234567-1 Rs 500</p>"]

    def _handler(self):
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                site.hits.append(self.path)
                if self.path == "/schemes":
                    body = "".join(f'<p><a href="{url}">{url}</a></p>' for url in site.links())
                    self._send(200, f"<html><body><h1>stock</h1>{body}</body></html>".encode())
                elif self.path == "/redirect-out":
                    self.send_response(302)
                    self.send_header("Location", f"http://localhost:{site.listeners['internal'].port}/admin")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif self.path == "/trickle-head":
                    self._trickle(b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"." * 10_000)
                elif self.path == "/trickle-body":
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n")
                    self._trickle(b"<p>" + b"." * 99_997)
                else:
                    self._send(404, b"no")

            def _trickle(self, data: bytes) -> None:
                ends = time.monotonic() + TRICKLE_FOR
                try:
                    for byte in data:
                        if time.monotonic() > ends:
                            return
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(TRICKLE_EVERY)
                except OSError:  # the crawler gave up: what it should do
                    pass
                self.close_connection = True

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler

    def connections(self) -> dict[str, int]:
        return {name: listener.connections for name, listener in self.listeners.items()}

    def __enter__(self) -> HostileSite:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        for listener in self.listeners.values():
            listener.close()
