"""`scrapy crawl SOURCE` (a real `scrapy` child process on the demo paste site): the run is recorded and closed as
`nigran crawl` closes it, `-s` beats the environment, and feed exports carry masked identifiers only."""
from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys

from sqlalchemy import select

from nigran.crawler.demo import DEMO_DIR
from nigran.storage.db import Database
from nigran.storage.evidence.custody import SOURCE_CONFIG_CHANGED
from nigran.storage.models import CustodyCheckpoint, CustodyEvent, Run
from tests.support.run import REPO, demo_file, sources_file

RAW = re.compile(r"\b[0-9]{5}-[0-9]{7}-[0-9]\b|\b03[0-9]{2}-?[0-9]{7}\b")  # CNICs and mobiles as the pages write them


def scrapy_crawl(home, *args: str, env: dict):
    return subprocess.run([sys.executable, "-m", "scrapy", "crawl", "demo-paste", *args], cwd=REPO, capture_output=True,
                          env={**os.environ, "NIGRAN_DB": f"sqlite:///{home / 'nigran.db'}", **env}, timeout=120)


def raw_identifiers() -> set[str]:
    return {m for page in (DEMO_DIR / "sites" / "paste").rglob("*.html") for m in RAW.findall(page.read_text())}


def test_scrapy_crawl_closes_its_run_like_nigran_crawl_and_exports_masked_items(tmp_path, home, demo_sites):
    sources = demo_file(tmp_path, demo_sites)
    jsonl, table = tmp_path / "items.jsonl", tmp_path / "items.csv"
    done = scrapy_crawl(home, "-o", str(jsonl), "-o", str(table), env={"NIGRAN_SOURCES": sources})
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    with Database(f"sqlite:///{home / 'nigran.db'}").session() as s:
        [run] = s.scalars(select(Run)).all()
        assert (run.trigger, run.status, run.exit_code) == ("scrapy", "finished", 0)
        assert run.stats["sources"]["demo-paste"]["pages"] > 0 and run.ended_at.tzinfo is not None
        assert s.scalars(select(CustodyCheckpoint)).all()  # signed at the run's end
        [config] = s.scalars(select(CustodyEvent).where(CustodyEvent.kind == SOURCE_CONFIG_CHANGED)).all()
        assert config.details["file"] == sources

    raw = raw_identifiers()
    assert raw
    for feed in (jsonl, table):
        text = feed.read_text(encoding="utf-8")
        leaked = {v for v in raw if v in text or v.replace("-", "") in text}
        assert leaked == set(), feed.name
    items = [json.loads(line) for line in jsonl.read_text().splitlines()]
    shown = [i["value"] for item in items for i in (item.get("extraction") or {}).get("identifiers", [])]
    assert shown and all("*******" in v for v in shown)
    assert any("*******" in row["text"] for row in csv.DictReader(table.open(encoding="utf-8")))


def test_command_line_setting_beats_the_environment(tmp_path, home, demo_sites):
    chosen = demo_file(tmp_path, demo_sites)
    (tmp_path / "other").mkdir()
    empty = sources_file(tmp_path / "other", [])  # were it read, there would be no demo-paste to crawl
    done = scrapy_crawl(home, "-s", f"NIGRAN_SOURCES={chosen}", env={"NIGRAN_SOURCES": empty})
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert b"Spider not found" not in done.stderr


def test_a_run_that_fetched_nothing_exits_non_zero(tmp_path, home):
    dead = sources_file(tmp_path, [{"name": "demo-paste", "via": "direct", "start_urls": ["http://127.0.0.1:9/"],
                                    "timeout": 2}])
    done = scrapy_crawl(home, "-s", "RETRY_TIMES=0", env={"NIGRAN_SOURCES": dead})
    assert done.returncode == 1
    with Database(f"sqlite:///{home / 'nigran.db'}").session() as s:
        [run] = s.scalars(select(Run)).all()
    assert (run.status, run.exit_code) == ("failed", 1)
    assert run.stats["sources"]["demo-paste"]["failure"] == "no page could be fetched"
