"""A large synthetic shop for the distributed-crawl tests: `pages` listing pages linked as a binary tree,
each with one offer, served on 127.0.0.1 with an optional delay; logs every path it serves, when each
request came, and the most requests it ever had in progress at once."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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
        lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                with lock:
                    site.log.append(self.path)
                    site.arrivals.append(time.monotonic())
                    site.busy += 1
                    site.most_busy = max(site.most_busy, site.busy)
                num = self.path.removeprefix("/p/").removesuffix(".html")
                body = page(int(num), site.pages) if num.isdigit() and int(num) < site.pages else None
                time.sleep(site.delay)
                with lock:
                    site.busy -= 1
                self.send_response(200 if body else 404)
                body = body or b"not found"
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/p/0.html"

    def __enter__(self) -> ListingSite:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
