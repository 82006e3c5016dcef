"""Browser path throughput and memory: pages/s and peak memory rendering JavaScript pages in Chromium.

Serves the JavaScript shop (tests/support/js_shop.py) with --pages listing pages and crawls them
all as one `render: browser` source from a child process: navigation, network-idle wait, DOM and
full-page screenshot captures, segmentation, extraction, SQLite storage. Peak memory is summed
PSS over the crawler and its browser processes (see benchmarks/support.py). Each
--pages-per-context value is one run, to show what closing and replacing contexts does to memory.

    .venv/bin/python benchmarks/browser_bench.py --pages 200 --pages-per-context 50 100000 --concurrency 8
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.support import crawl  # noqa: E402
from tests.support.js_shop import PER_PAGE, JsShop  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--pages-per-context", type=int, nargs="+", default=[50, 100_000])
    parser.add_argument("--concurrency", type=int, default=8, help="pages rendered at once (the source's concurrency)")
    args = parser.parse_args()
    with JsShop(pages=args.pages) as shop:
        source = {"name": "browser-bench", "kind": "market", "via": "direct", "render": "browser", "max_depth": 0,
                  "concurrency": args.concurrency,
                  "max_pages": args.pages, "start_urls": [f"{shop.base_url}/page/{n}" for n in range(1, args.pages + 1)]}
        for per_context in args.pages_per_context:
            result = crawl(source, {"NIGRAN_BROWSER_PAGES_PER_CONTEXT": per_context})
            stats, seconds = result["stats"], result["seconds"]
            pages = stats.get("nigran/pages_ok", 0)
            assert pages == args.pages and stats.get("nigran/posts", 0) >= args.pages * PER_PAGE, stats
            print(f"pages per context {per_context:>6}: {pages} pages in {seconds:.1f} s = {pages / seconds:.2f} "
                  f"pages/s, peak memory {result['peak_mb']:.0f} MB, {stats.get('nigran/captures')} captures, "
                  f"{stats.get('nigran/browser/contexts_closed', 0)} contexts closed", flush=True)


if __name__ == "__main__":
    main()
