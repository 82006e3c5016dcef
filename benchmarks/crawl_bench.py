"""Crawl throughput and memory: the full nigran pipeline against a baseline without it, in one run.

Serves N synthetic listing pages from a separate process on 127.0.0.1, then crawls them in child
processes: (a) Scrapy with nigran's spider only (no evidence capture, no pipelines) and (b) the full
pipeline (capture to disk + SQLite, segmentation, extraction, storage). Prints pages/s and peak RSS
for each, and the ratio. Repeats each crawl --rounds times and quotes medians. CPU time per page
(the crawl process's user + system time) is printed too: it varies less with the machine's load than
pages/s does.

    .venv/bin/python benchmarks/crawl_bench.py --pages 5000 --rounds 3

--repo compares checkouts in one run: each round crawls with every checkout in turn, each with its own
crawl child (its own bench file), and the medians are printed per checkout with their ratio to the first:

    git worktree add ../before 0a3c095
    .venv/bin/python benchmarks/crawl_bench.py --repo ../before --repo . --pages 1500 --rounds 7
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing import Process, Queue
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OFFERS = [
    "SIM owner details any network, Rs 500 per number. WhatsApp 0301-2345678",
    "CNIC copy front/back available, 1000 PKR, telegram @cnic_dealer_pk",
    "CDR 30 din ka record milay ga, rabta karein 0321-7654321, rate 3 hazar",
    "Used laptop for sale, Core i5, 45,000 rupees, call after 6pm",
    "Travel history / FIA entry-exit record lookup, $20 in USDT TRC20, DM @travel_lookup",
]


def page(n: int, total: int) -> bytes:
    rnd = random.Random(n)
    cards = "".join(
        f'<div class="card"><h3>Listing {n}-{i}</h3><p>{rnd.choice(OFFERS)} (ref {n}/{i})</p></div>' for i in range(5))
    links = "".join(f'<a href="/p/{c}.html">page {c}</a> ' for c in (2 * n + 1, 2 * n + 2) if c < total)
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>Listings {n}</title></head><body>'
            f'<nav><a href="/p/0.html">home</a></nav><main>{cards}</main><footer>{links}</footer></body></html>').encode()


def serve(total: int, port_queue: Queue) -> None:
    pages = {f"/p/{n}.html": page(n, total) for n in range(total)}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            body = pages.get(self.path)
            self.send_response(200 if body else 404)
            body = body or b"not found"
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


CHILD = r"""
import json, sys, time
from pathlib import Path
from scrapy.crawler import CrawlerProcess
from nigran.config.schema import Source
from nigran.crawler.crawl import scrapy_settings
from nigran.crawler.runtime import Services
from nigran.spiders.site import SiteSpider
from nigran.storage.db import Database
from nigran.storage.recorder import Recorder

url, pages, mode, home = sys.argv[1], int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
source = Source(name="bench", via="direct", start_urls=[url], max_depth=50, max_pages=pages, concurrency=16)
db_url = f"sqlite:///{home / 'bench.db'}"
recorder = Recorder(Database(db_url), home / "bodies")
run_id = recorder.start_run("bench")
overrides = {"CONCURRENT_REQUESTS": 32}
if mode == "baseline":
    overrides.update(ITEM_PIPELINES={}, DOWNLOADER_MIDDLEWARES={
        "scrapy.downloadermiddlewares.httpproxy.HttpProxyMiddleware": None,
        "nigran.crawler.middlewares.RouteMiddleware": 80})
process = CrawlerProcess(scrapy_settings(Services(recorder, run_id), overrides))
crawler = process.create_crawler(SiteSpider.for_source(source))
process.crawl(crawler)
start = time.perf_counter()
process.start()
elapsed = time.perf_counter() - start
stats = crawler.stats.get_stats()
print(json.dumps({"pages": stats.get("response_received_count", 0), "seconds": elapsed,
                  "items": stats.get("item_scraped_count", 0)}))
"""


class Checkout:
    """A nigran checkout to crawl with: its own crawl child, importable as `nigran` (or, before the
    package layout, as top-level packages from its directory)."""

    def __init__(self, path: Path, scratch: str):
        self.path = path.resolve()
        spec = importlib.util.spec_from_file_location("crawl_bench_of_checkout", self.path / "benchmarks/crawl_bench.py")
        bench = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench)
        self.child = bench.CHILD
        self.import_root = tempfile.mkdtemp(dir=scratch)
        os.symlink(self.path, Path(self.import_root) / "nigran")


def crawl(checkout: Checkout, url: str, pages: int, mode: str, scratch: str) -> dict:
    home = tempfile.mkdtemp(dir=scratch)
    env = {**os.environ, "NIGRAN_HOME": home,
           "PYTHONPATH": os.pathsep.join(filter(None, [checkout.import_root, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-c", checkout.child, url, str(pages), mode, home], cwd=checkout.path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    out, err = proc.stdout.read(), proc.stderr.read()
    if status != 0:
        raise SystemExit(f"{mode} crawl failed:\n{err.decode()[-2000:]}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    result["rss_mb"] = usage.ru_maxrss / 1024
    result["pages_per_s"] = result["pages"] / result["seconds"]
    result["cpu_ms"] = (usage.ru_utime + usage.ru_stime) * 1000 / max(result["pages"], 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repo", type=Path, action="append",
                        help="a nigran checkout to crawl with; repeat to compare checkouts (default: this one)")
    args = parser.parse_args()
    repos = args.repo or [REPO]
    ports: Queue = Queue()
    server = Process(target=serve, args=(args.pages, ports), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{ports.get(timeout=30)}/p/0.html"
    # Every round's data stays until the end, as a crawl's bodies stay in production: deleting thousands
    # of files makes creating files on a journal-less ext4 (this VM's disk) 20-50x slower for minutes.
    try:
        with tempfile.TemporaryDirectory(prefix="crawl-bench-") as scratch:
            checkouts = [Checkout(path, scratch) for path in repos]
            results = {(c.path, mode): [] for c in checkouts for mode in ("baseline", "full")}
            for n in range(args.rounds):
                # Alternating the order cancels drift (load, the disk filling) between checkouts.
                for checkout in checkouts if n % 2 == 0 else checkouts[::-1]:
                    for mode in ("baseline", "full"):
                        r = crawl(checkout, url, args.pages, mode, scratch)
                        results[checkout.path, mode].append(r)
                        print(f"{label(checkout.path, repos)}{mode:8s} {r['pages']} pages in {r['seconds']:.1f}s = "
                              f"{r['pages_per_s']:.0f} pages/s, {r['cpu_ms']:.2f} CPU ms/page, "
                              f"peak RSS {r['rss_mb']:.0f} MB, {r['items']} posts", flush=True)
    finally:
        server.terminate()
    med = {key: {k: statistics.median(r[k] for r in rs) for k in ("pages_per_s", "cpu_ms", "rss_mb")}
           for key, rs in results.items()}
    print(f"\nmedian over {args.rounds} rounds, {args.pages} pages:")
    for (path, mode), m in med.items():
        print(f"  {label(path, repos)}{mode:8s} {m['pages_per_s']:7.0f} pages/s   {m['cpu_ms']:5.2f} CPU ms/page   "
              f"peak RSS {m['rss_mb']:5.0f} MB")
    first = checkouts[0].path
    for checkout in checkouts:
        base, full = med[checkout.path, "baseline"], med[checkout.path, "full"]
        line = f"  {label(checkout.path, repos)}full / baseline = {full['pages_per_s'] / base['pages_per_s']:.0%}"
        if checkout.path != first:
            line += "; CPU ms/page vs the first checkout (ratio of medians, median of paired rounds): " + ", ".join(
                f"{mode} {med[checkout.path, mode]['cpu_ms'] / med[first, mode]['cpu_ms']:.3f}x, "
                f"{paired(results[checkout.path, mode], results[first, mode]):.3f}x" for mode in ("baseline", "full"))
        print(line)


def label(path: Path, repos: list[Path]) -> str:
    return f"{path.name:12.12s} " if len(repos) > 1 else ""


def paired(after: list[dict], before: list[dict]) -> float:
    """Median of the rounds' CPU ratios: each pair ran back to back, under much the same load."""
    return statistics.median(a["cpu_ms"] / b["cpu_ms"] for a, b in zip(after, before))

if __name__ == "__main__":
    main()
