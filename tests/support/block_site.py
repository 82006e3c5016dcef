"""A small shop that starts blocking: after `allow` requests it answers 429 (or a captcha page) `block` times."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGES = 12


def page(n: int) -> bytes:
    links = "".join(f'<a href="/item/{i}.html">item {i}</a> ' for i in range(PAGES) if i != n)
    return (f"<html><body><div class='offer'>Item {n}: SIM owner details any network, Rs {300 + n}/-, "
            f"telegram @blocky_shop_{n:02d}</div><nav>{links}</nav></body></html>").encode()


class BlockSite:
    def __init__(self, allow: int = 4, block: int = 2, captcha: bool = False):
        self.allow, self.block, self.captcha = allow, block, captcha
        self.log: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                with site._lock:
                    n = len(site.log)
                    blocked = site.allow <= n < site.allow + site.block
                    status = 200 if not blocked or site.captcha else 429
                    site.log.append((self.path, status))
                if blocked and site.captcha:
                    body = b"<html><body><h1>Are you a robot?</h1><p>Solve the captcha to continue.</p></body></html>"
                elif blocked:
                    body = b"Too Many Requests"
                else:
                    num = self.path.rsplit("/", 1)[-1].split(".")[0]
                    body = page(int(num) if num.isdigit() else 0)
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                if status == 429:
                    self.send_header("Retry-After", "1")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def __enter__(self) -> BlockSite:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
