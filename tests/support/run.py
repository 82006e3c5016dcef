"""Running the real `nigran` in child processes, on sources files the tests write."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import yaml
from sqlalchemy import func, select

from nigran.crawler.demo.config import demo_sources
from nigran.storage.db import Database
from nigran.storage.models import Capture, Offer, Post

REPO = Path(__file__).resolve().parents[2]


def nigran(*args: str, env: dict | None = None, timeout: float = 180, input: bytes | None = None):
    """Run the real `nigran` command line in a child process."""
    return subprocess.run([sys.executable, "-m", "nigran.crawler", *args], cwd=REPO, capture_output=True,
                          env={**os.environ, **(env or {})}, timeout=timeout, input=input)


def sources_file(tmp_path, sources: list[dict]) -> str:
    """A sources file holding `sources` (sources-file entries), as a path string."""
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": sources}, allow_unicode=True), encoding="utf-8")
    return str(path)


def demo_file(tmp_path, demo_sites) -> str:
    """A sources file of the demo sites as the running `demo_sites` fixture serves them."""
    return sources_file(tmp_path, [s.model_dump(mode="json", exclude_defaults=True, exclude={"allowed_domains"})
                                   for s in demo_sources(demo_sites.urls)])


def counts(db: Database) -> dict[str, int]:
    """How many captures, posts and offers the store holds."""
    with db.session() as s:
        return {m.__tablename__: s.scalar(select(func.count()).select_from(m)) for m in (Capture, Post, Offer)}


def slow_crawl_with_posts(tmp_path, demo_sites, db_url) -> tuple[subprocess.Popen, str, Database]:
    """A slowed-down demo crawl in a child process, once it has stored a few posts: (process, sources, db)."""
    slow = [{**s, "download_delay": 0.3, "concurrency": 1} for s in yaml.safe_load(
        open(demo_file(tmp_path, demo_sites)))["sources"]]
    sources = sources_file(tmp_path, slow)
    proc = subprocess.Popen([sys.executable, "-m", "nigran.crawler", "crawl", "--sources", sources, "--db", db_url],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = Database(db_url)
    deadline = time.monotonic() + 60
    while counts(db)["posts"] < 5 and time.monotonic() < deadline:
        time.sleep(0.2)
    return proc, sources, db


def tor_env(net, **extra) -> dict:
    """The environment that points nigran at the private Tor network `net`."""
    return {"NIGRAN_TOR_SOCKS": f"127.0.0.1:{net.socks_port}", "NIGRAN_TOR_CONTROL": f"127.0.0.1:{net.control_port}",
            **extra}


def onion_source(net, site: str, demo_sites, **extra) -> dict:
    """The demo source for `site`, pointed at its onion address instead of 127.0.0.1."""
    [source] = [s for s in demo_sources({k: f"http://{net.onion(k)}/" if k == site else v
                                         for k, v in demo_sites.urls.items()}) if s.name == f"demo-{site}"]
    data = source.model_dump(mode="json", exclude_defaults=True, exclude={"allowed_domains", "via"})
    return {"timeout": 30, **data, **extra}  # a stalled onion fetch is retried after NEWNYM, not waited on
