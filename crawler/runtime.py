"""The store a crawl writes to, shared by the middlewares and pipelines of one process."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from storage.db import Database
from storage.home import data_home, default_db_url
from storage.recorder import Recorder


@lru_cache(maxsize=None)
def recorder_at(db_url: str, home: str, writer: str | None = None) -> Recorder:
    """The process's one Recorder for a database and data home (so one set of WARC files per run);
    `writer` names the process in its WARC files' names when several write one run (workers)."""
    return Recorder(Database(db_url), Path(home) / "bodies", writer=writer)


def recorder_for(crawler) -> Recorder:
    """The Recorder named by the crawler's NIGRAN_DB / NIGRAN_HOME settings (defaults: environment)."""
    settings = crawler.settings
    return recorder_at(settings.get("NIGRAN_DB") or default_db_url(), settings.get("NIGRAN_HOME") or str(data_home()),
                       settings.get("NIGRAN_WRITER"))
