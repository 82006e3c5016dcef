"""Start the private Tor test network N times; print time to ready and to the first onion and exit fetch.

Usage: python benchmarks/tornet_bootstrap.py [--runs N] [--authorities A] [--relays R]
Fetches are tried once (no retry), so the failure count shows how often `start()` returns too early.
"""
from __future__ import annotations

import argparse
import http.server
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.tornet import PrivateTorNetwork, TorNetError  # noqa: E402


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def one_run(authorities: int, relays: int, site_port: int) -> tuple[float, float]:
    """Seconds to `start()` returning, and to the onion plus exit fetch after it."""
    with tempfile.TemporaryDirectory(prefix="tornet-bench-") as workdir:
        net = PrivateTorNetwork(Path(workdir), {"site": site_port}, authorities=authorities, relays=relays)
        began = time.monotonic()
        try:
            net.start()
            ready = time.monotonic() - began
            proxy = f"socks5://bench:x@127.0.0.1:{net.socks_port}"
            for url in (f"http://{net.onion('site')}/", f"http://127.0.0.1:{site_port}/"):
                httpx2.get(url, proxy=proxy, timeout=60).raise_for_status()
            return ready, time.monotonic() - began - ready
        finally:
            net.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--authorities", type=int, default=3)
    parser.add_argument("--relays", type=int, default=2)
    args = parser.parse_args()
    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    ready_times, failures = [], 0
    for run in range(1, args.runs + 1):
        try:
            ready, fetched = one_run(args.authorities, args.relays, site.server_port)
        except (TorNetError, httpx2.HTTPError) as exc:
            failures += 1
            print(f"run {run}: FAILED {type(exc).__name__}: {str(exc)[:2000]}", flush=True)
            continue
        ready_times.append(ready)
        print(f"run {run}: ready {ready:5.1f} s, onion+exit fetch {fetched:4.1f} s", flush=True)
    if ready_times:
        print(f"{len(ready_times)}/{args.runs} ok; ready median {statistics.median(ready_times):.1f} s, "
              f"min {min(ready_times):.1f} s, max {max(ready_times):.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
