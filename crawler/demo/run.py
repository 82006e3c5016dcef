"""`nigran demo`: crawl the running demo sites into a fresh database of their own."""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from nigran.crawler.crawl import CrawlResult, run_crawl
from nigran.crawler.demo.config import demo_sources
from nigran.storage import queries
from nigran.storage.db import Database
from nigran.storage.home import data_home


@dataclass
class DemoRun:
    """A finished demo crawl: its result, its database and data home, the offers it found."""
    result: CrawlResult
    db_url: str
    home: Path
    offers: list[dict]  # as `nigran offers --json` shows them


def crawl_demo(urls: dict[str, str]) -> DemoRun:
    """Crawl the demo sites at `urls` into a new data home (<data home>/demo/<UTC time>, made this process's
    NIGRAN_HOME) and read back the offers found."""
    home = data_home() / "demo" / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    home.mkdir(parents=True)
    os.environ["NIGRAN_HOME"] = str(home)
    db_url = f"sqlite:///{home / 'nigran.db'}"
    result = run_crawl(demo_sources(urls), db_url, trigger="demo", home=home)
    with Database(db_url).session() as session:
        offers = [queries.offer_dict(o) for o in queries.offers(session)]
    return DemoRun(result, db_url, home, offers)
