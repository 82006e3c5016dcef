"""Crawling over an onion service on a private Tor network: one circuit vs several isolated circuits.

Starts the test suite's private Tor network on loopback (3 authorities, 2 relays, a client, an onion
service) in front of a synthetic listing site, reports the time to bootstrap it, then crawls the
site through `nigran crawl` twice per round: as one source (one SOCKS identity, so one circuit) and
as --split sources over disjoint parts of the site (one isolated circuit each). Quotes medians.

    .venv/bin/python benchmarks/tor_bench.py --pages 400 --split 4 --rounds 3
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing import Process, Queue
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.crawl_bench import serve  # noqa: E402
from tests.support.tornet import PrivateTorNetwork  # noqa: E402


def crawl(net: PrivateTorNetwork, onion: str, pages: int, split: int, workdir: Path) -> float:
    """Pages per second for one `nigran crawl` of `pages` pages as `split` isolated sources."""
    if split == 1:
        starts = [[0]]
    else:  # page n links to 2n+1 and 2n+2: the subtrees under one level of the tree are disjoint
        level = [1, 2]
        while len(level) < split:
            level = [c for n in level for c in (2 * n + 1, 2 * n + 2)]
        starts = [level[i::split] for i in range(split)]
    sources = [{"name": f"part{i}", "max_depth": 50, "max_pages": pages // split, "concurrency": 8, "timeout": 60,
                "start_urls": [f"http://{onion}/p/{n}.html" for n in group]} for i, group in enumerate(starts)]
    path = workdir / f"sources-{split}.yaml"
    path.write_text(yaml.safe_dump({"sources": sources}))
    home = Path(tempfile.mkdtemp(dir=workdir))
    env = {**os.environ, "NIGRAN_HOME": str(home), "NIGRAN_TOR_SOCKS": f"127.0.0.1:{net.socks_port}",
           "NIGRAN_TOR_CONTROL": f"127.0.0.1:{net.control_port}"}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "nigran.crawler", "crawl", "--sources", str(path), "--json",
                             "--db", f"sqlite:///{home / 'n.db'}"], cwd=REPO, env=env, capture_output=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"crawl failed:\n{result.stderr.decode()[-2000:]}")
    fetched = sum(s["captures"] for s in json.loads(result.stdout)["sources"])
    return fetched / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--split", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ports: Queue = Queue()
    server = Process(target=serve, args=(args.pages * 2, ports), daemon=True)
    server.start()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        net = PrivateTorNetwork(workdir / "tornet", onion_targets={"shop": ports.get(timeout=30)})
        started = time.perf_counter()
        net.start(timeout=120)
        print(f"private Tor network ready in {time.perf_counter() - started:.1f} s", flush=True)
        try:
            rates: dict[int, list[float]] = {1: [], args.split: []}
            for _ in range(args.rounds):
                for split in rates:
                    rate = crawl(net, net.onion("shop"), args.pages, split, workdir)
                    rates[split].append(rate)
                    print(f"  {split} circuit(s): {rate:.1f} pages/s", flush=True)
        finally:
            net.stop()
            server.terminate()
    one, many = statistics.median(rates[1]), statistics.median(rates[args.split])
    print(f"\nmedian over {args.rounds} rounds, {args.pages} pages (process start included):")
    print(f"  1 circuit:            {one:6.1f} pages/s")
    print(f"  {args.split} isolated circuits: {many:6.1f} pages/s  ({many / one:.2f}x)")


if __name__ == "__main__":
    main()
