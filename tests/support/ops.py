"""Helpers for the operations tests (scheduler, sweep, alerts): demo sources files, child processes, waiting."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from string import Template

import yaml
from sqlalchemy import func, select

from nigran.crawler.demo.config import SOURCES_TEMPLATE
from nigran.storage.bodies import BodyStore
from nigran.storage.db import Database
from nigran.storage.models import Capture, Run
from tests.support.run import REPO


def demo_sources_file(path: Path, demo_sites, enabled=("demo-paste",), changes: dict | None = None) -> Path:
    """The demo sources pointing at the running demo sites; only `enabled` ones enabled; `changes`: name -> fields."""
    text = Template(SOURCES_TEMPLATE.read_text(encoding="utf-8")).substitute(
        {name: url.rstrip("/") for name, url in demo_sites.urls.items()})
    raw = yaml.safe_load(text)
    for source in raw["sources"]:
        source["enabled"] = source["name"] in enabled
        source.update((changes or {}).get(source["name"], {}))
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def spawn(log_dir: Path, name: str, *args: str, env: dict | None = None) -> subprocess.Popen:
    """Start the real `nigran` command line in the background; its stdout and stderr go to files in log_dir."""
    with open(log_dir / f"{name}.out", "wb") as out, open(log_dir / f"{name}.err", "wb") as err:
        return subprocess.Popen([sys.executable, "-m", "nigran.crawler", *args], cwd=REPO, stdout=out, stderr=err,
                                env={**os.environ, **(env or {})})


def output(log_dir: Path, name: str) -> tuple[str, str]:
    return ((log_dir / f"{name}.out").read_text(errors="replace"), (log_dir / f"{name}.err").read_text(errors="replace"))


def wait_for(predicate, timeout: float = 60, what: str = "condition"):
    """Poll until predicate() is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def runs(db: Database) -> list[Run]:
    with db.session() as s:
        return list(s.scalars(select(Run).order_by(Run.id)))


def capture_count(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Capture))


def assert_consistent(db: Database, home: Path) -> None:
    """No run left `running`, and every capture row's body is on disk with the bytes its hash names."""
    assert [r.id for r in runs(db) if r.status == "running" or r.ended_at is None] == []
    bodies = BodyStore(home / "bodies")
    with db.session() as s:
        digests = s.scalars(select(Capture.body_sha256)).all()
    assert digests
    for digest in digests:
        bodies.get(digest)  # raises when missing or corrupt
