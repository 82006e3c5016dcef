"""Serve the bundled demo sites (a market, a forum and a paste site) on 127.0.0.1.

Each site gets its own ThreadingHTTPServer in a daemon thread::

    with DemoSites() as demo:
        demo.urls              # {"market": "http://127.0.0.1:PORT/", "forum": ..., "paste": ...}
        demo.access_log["market"]   # [(client_ip, method, path, status), ...]

Bodies are gzip-compressed when the client accepts gzip, so a crawler's raw capture of the bytes on the
wire differs from the decoded page. Nothing is printed: requests go to the in-memory access log.
`python -m nigran.crawler.demo.server` serves the sites in the foreground for a person to browse.
Standard library only.
"""
from __future__ import annotations

import argparse
import gzip
import html
import sys
import threading
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

SITES_DIR = Path(__file__).with_name("sites")
SITE_NAMES = ("market", "forum", "paste")
HOST = "127.0.0.1"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
    ".js": "text/javascript; charset=utf-8",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".ico": "image/x-icon",
}
COMPRESSIBLE = ("text/", "application/json")

LogEntry = tuple[str, str, str, int]


def accepts_gzip(header: str | None) -> bool:
    """True when an Accept-Encoding header allows gzip (`gzip`, `x-gzip` or `*` with q > 0)."""
    if not header:
        return False
    quality: dict[str, float] = {}
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        quality[coding] = q
    for coding in ("gzip", "x-gzip"):
        if coding in quality:
            return quality[coding] > 0
    return quality.get("*", 0.0) > 0


def error_page(status: HTTPStatus) -> bytes:
    """A small HTML page for an error status."""
    title = f"{status.value} {html.escape(status.phrase)}"
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>\n'
            f"<body><h1>{title}</h1><hr><p>nginx</p></body></html>\n").encode("utf-8")


class Forbidden(Exception):
    """The request path tries to leave the site's directory."""


class BadPath(Exception):
    """The request target is not an absolute path or does not decode as UTF-8."""


def resolve(root: Path, raw_path: str) -> Path | None:
    """The file a request path names inside `root`; None when there is none.

    Raises Forbidden for traversal attempts: `..` segments (also percent-encoded), backslashes,
    NUL bytes, or a path that resolves (through symlinks) outside the root; BadPath for a target
    that is not an absolute path or whose percent-escapes are not UTF-8.
    """
    path = raw_path.split("?", 1)[0].split("#", 1)[0]
    if not path.startswith("/"):
        raise BadPath(raw_path)
    try:
        decoded = unquote(path, errors="strict")
    except UnicodeDecodeError:
        raise BadPath(raw_path) from None
    if "\x00" in decoded or "\\" in decoded:
        raise Forbidden(raw_path)
    segments = decoded.split("/")
    if any(seg == ".." for seg in segments):
        raise Forbidden(raw_path)
    parts = [seg for seg in segments if seg and seg != "."]
    if any(seg.startswith(".") for seg in parts):
        return None  # no hidden files
    root = root.resolve()
    target = root.joinpath(*parts)
    if decoded.endswith("/") or not parts:
        target = target / "index.html"
    try:
        real = target.resolve()
    except (OSError, RuntimeError):
        return None
    if not real.is_relative_to(root):
        raise Forbidden(raw_path)
    if real.is_dir():
        real = real / "index.html"
    return real if real.is_file() else None


class _SiteServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], name: str, root: Path, log: list[LogEntry],
                 lock: threading.Lock, on_request: Callable[[str, LogEntry], None] | None):
        self.site_name = name
        self.root = root
        self.log = log
        self.log_lock = lock
        self.on_request = on_request
        super().__init__(address, _Handler)

    def record(self, entry: LogEntry) -> None:
        with self.log_lock:
            self.log.append(entry)
        if self.on_request is not None:
            self.on_request(self.site_name, entry)

    def handle_error(self, request, client_address) -> None:
        """A client that hangs up mid-response is not worth a traceback on stderr."""


class _Handler(BaseHTTPRequestHandler):
    server: _SiteServer
    server_version = "nginx"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 15  # idle keep-alive connections are closed after this many seconds

    # --- methods ---------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802
        self._serve(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(send_body=False)

    def _not_allowed(self) -> None:
        # A request body is never read, so the connection cannot carry another request.
        self.close_connection = True
        status = HTTPStatus.METHOD_NOT_ALLOWED
        self._respond(status, error_page(status), CONTENT_TYPES[".html"],
                      extra={"Allow": "GET, HEAD", "Connection": "close"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed  # noqa: N815

    # --- serving ---------------------------------------------------------------------------------
    def _serve(self, send_body: bool) -> None:
        try:
            target = resolve(self.server.root, self.path)
            data = target.read_bytes() if target is not None else None
        except Forbidden:
            return self._error(HTTPStatus.FORBIDDEN, send_body)
        except BadPath:
            return self._error(HTTPStatus.BAD_REQUEST, send_body)
        except OSError:
            data = None
        if data is None:
            return self._error(HTTPStatus.NOT_FOUND, send_body)
        ctype = CONTENT_TYPES.get(target.suffix.lower(), "application/octet-stream")
        self._respond(HTTPStatus.OK, data, ctype, send_body)

    def _error(self, status: HTTPStatus, send_body: bool = True) -> None:
        self._respond(status, error_page(status), CONTENT_TYPES[".html"], send_body)

    def _respond(self, status: HTTPStatus, data: bytes, ctype: str, send_body: bool = True,
                 extra: Mapping[str, str] | None = None) -> None:
        compress = ctype.startswith(COMPRESSIBLE) and accepts_gzip(self.headers.get("Accept-Encoding"))
        if compress:
            data = gzip.compress(data, mtime=0)  # same bytes every time: stable evidence hashes
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        if compress:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if send_body:
            self.wfile.write(data)

    # --- logging: into the site's in-memory access log, never to stderr -------------------------
    def log_request(self, code="-", size="-") -> None:
        try:
            status = int(code)
        except (TypeError, ValueError):
            status = 0
        self.server.record((self.client_address[0], self.command or "-",
                            getattr(self, "path", "") or "-", status))

    def log_message(self, format, *args) -> None:  # noqa: A002
        pass


class DemoSites:
    """The three demo sites, each on its own port of 127.0.0.1; a context manager.

    `ports` maps site name to port (0 or missing = any free port).
    """

    def __init__(self, ports: Mapping[str, int] | None = None, host: str = HOST, root: Path | str = SITES_DIR,
                 on_request: Callable[[str, LogEntry], None] | None = None):
        unknown = set(ports or {}) - set(SITE_NAMES)
        if unknown:
            raise ValueError(f"unknown demo site(s): {', '.join(sorted(unknown))} (known: {', '.join(SITE_NAMES)})")
        self.host = host
        self.root = Path(root)
        self.requested_ports = {name: int((ports or {}).get(name, 0)) for name in SITE_NAMES}
        self.on_request = on_request
        self.access_log: dict[str, list[LogEntry]] = {name: [] for name in SITE_NAMES}
        self._lock = threading.Lock()
        self._servers: dict[str, _SiteServer] = {}
        self._threads: dict[str, threading.Thread] = {}

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> DemoSites:
        if self._servers:
            return self
        try:
            for name in SITE_NAMES:
                root = self.root / name
                if not root.is_dir():
                    raise FileNotFoundError(f"demo site directory missing: {root}")
                server = _SiteServer((self.host, self.requested_ports[name]), name, root,
                                     self.access_log[name], self._lock, self.on_request)
                self._servers[name] = server
                thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                          name=f"demo-{name}", daemon=True)
                self._threads[name] = thread
                thread.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for name, server in list(self._servers.items()):
            if name in self._threads:
                server.shutdown()
            server.server_close()
        for thread in self._threads.values():
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> DemoSites:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- addresses -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return bool(self._servers)

    @property
    def ports(self) -> dict[str, int]:
        if not self._servers:
            raise RuntimeError("demo sites are not running (call start() or use `with DemoSites()`)")
        return {name: server.server_address[1] for name, server in self._servers.items()}

    @property
    def urls(self) -> dict[str, str]:
        return {name: f"http://{self.host}:{port}/" for name, port in self.ports.items()}

    def clear_log(self) -> None:
        with self._lock:
            for entries in self.access_log.values():
                entries.clear()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nigran.crawler.demo.server",
                                     description="Serve nigran's demo sites on 127.0.0.1 until Ctrl-C.")
    for name in SITE_NAMES:
        parser.add_argument(f"--{name}-port", type=int, default=0, metavar="PORT",
                            help=f"port of the {name} site (default: any free port)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each request to stdout")
    args = parser.parse_args(argv)

    def show(site: str, entry: LogEntry) -> None:
        ip, method, path, status = entry
        print(f"{site:<6} {ip} {method} {path} {status}", flush=True)

    ports = {name: getattr(args, f"{name}_port") for name in SITE_NAMES}
    try:
        sites = DemoSites(ports, on_request=show if args.verbose else None).start()
    except OSError as exc:
        print(f"cannot start the demo sites: {exc}", file=sys.stderr)
        return 1
    try:
        for name, url in sites.urls.items():
            print(f"{name:<6} {url}", flush=True)
        print("Serving the demo sites; Ctrl-C to stop.", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sites.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
