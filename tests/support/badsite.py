"""A hostile little web site on 127.0.0.1: errors, redirect loops, wrong encodings, huge and binary bodies."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                site.hits.append(self.path)
                if self.path in ("/loop/a", "/loop/b"):
                    self.send_response(302)
                    self.send_header("Location", "/loop/b" if self.path == "/loop/a" else "/loop/a")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif self.path == "/huge":
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(HUGE_BYTES))
                    self.end_headers()
                    chunk = b"<p>" + b"x" * 65529 + b"</p>"
                    try:
                        for _ in range(HUGE_BYTES // len(chunk)):
                            self.wfile.write(chunk)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                elif self.path == "/slow":
                    time.sleep(site.slow_seconds)
                    self._send("200", "text/html", b"<html><body>late</body></html>")
                elif self.path in PAGES:
                    self._send(*PAGES[self.path])
                else:
                    self._send("404", "text/html", b"no")

            def _send(self, status, ctype, body):
                self.send_response(int(status))
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> BadSite:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
