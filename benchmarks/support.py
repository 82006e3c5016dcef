"""Shared by the benchmarks: crawl one source in a child process, timing it and sampling its memory.

The memory figure is the peak of the summed PSS (resident memory, shared pages split among their
sharers) of the child and all its descendants, Chromium's processes included, sampled every 0.1 s
from /proc (Linux).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
from pathlib import Path
from scrapy.crawler import CrawlerProcess
from nigran.config.schema import Source
from nigran.crawler.crawl import scrapy_settings
from nigran.crawler.runtime import Services
from nigran.spiders.loader import spider_class
from nigran.storage.db import Database
from nigran.storage.recorder import Recorder

source, overrides, home = Source(**json.loads(sys.argv[1])), json.loads(sys.argv[2]), Path(sys.argv[3])
db_url = f"sqlite:///{home / 'bench.db'}"
recorder = Recorder(Database(db_url), home / "bodies")
run_id = recorder.start_run("bench")
process = CrawlerProcess(scrapy_settings(Services(recorder, run_id), overrides))
crawler = process.create_crawler(spider_class(source))
process.crawl(crawler)
start = time.perf_counter()
process.start()
print(json.dumps({"seconds": time.perf_counter() - start, "stats": crawler.stats.get_stats()}, default=str))
"""


def _tree_pss(root: int) -> int:
    """Bytes of PSS of a process and its descendants: RSS with each shared page split among its sharers,
    so Chromium's many processes are not counted many times over."""
    parents = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdecimal():
            try:
                parents[int(entry.name)] = int(Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            total += int(rollup.split("\nPss:", 1)[1].split()[0]) * 1024
        except (OSError, IndexError):
            pass
        todo.extend(child for child, parent in parents.items() if parent == pid)
    return total


def crawl(source: dict, overrides: dict | None = None, timeout: float = 1800) -> dict:
    """Crawl a source (a sources-file entry) once; seconds, Scrapy stats and peak_mb (summed PSS)."""
    with tempfile.TemporaryDirectory() as home, open(Path(home, "stderr.log"), "w+b") as log:
        proc = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(source), json.dumps(overrides or {}), home],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=log, env={**os.environ, "NIGRAN_HOME": home},
                                start_new_session=True)
        peak, deadline = 0, time.monotonic() + timeout
        while proc.poll() is None:
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)  # the child, its browser and driver: a session of their own
                raise SystemExit(f"crawl of {source['name']} did not finish within {timeout:g} s")
            peak = max(peak, _tree_pss(proc.pid))
            time.sleep(0.1)
        out = proc.stdout.read()
        log.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"crawl of {source['name']} failed:\n{log.read().decode()[-2000:]}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    result["peak_mb"] = peak / 2**20
    return result
