"""A crawl's run record, opened and closed the same way by `nigran crawl`, workers and `scrapy crawl`."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nigran.storage.db import Database
from nigran.storage.recorder import Recorder

log = logging.getLogger(__name__)
STAT_KEYS = {
    "pages": "nigran/pages_ok", "captures": "nigran/captures", "posts": "nigran/posts",
    "offers_new": "nigran/offers_new", "offers_updated": "nigran/offers_updated", "errors": "nigran/errors",
}


@dataclass
class SourceReport:
    source: str
    pages: int = 0
    captures: int = 0
    posts: int = 0
    offers_new: int = 0
    offers_updated: int = 0
    errors: int = 0
    finish_reason: str = ""
    failure: str | None = None
    next_step: str | None = None  # what a human runs next, for a source a wall or guard stopped

    @property
    def ok(self) -> bool:
        return self.failure is None

    @classmethod
    def from_stats(cls, source: str, stats: dict[str, Any]) -> SourceReport:
        report = cls(source, **{k: int(stats.get(v, 0)) for k, v in STAT_KEYS.items()})
        report.finish_reason = str(stats.get("finish_reason", "not finished"))
        report.next_step = stats.get("nigran/next")
        if stats.get("nigran/failure"):
            report.failure = str(stats["nigran/failure"])
        elif report.finish_reason != "finished":
            report.failure = f"stopped: {report.finish_reason}"
        elif report.pages == 0:
            report.failure = "no page could be fetched"
        return report


@dataclass
class CrawlResult:
    run_id: int
    reports: list[SourceReport] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 0 if all(r.ok for r in self.reports) else 1

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "exit_code": self.exit_code,
                "sources": [{**vars(r), "ok": r.ok} for r in self.reports]}


def open_run(db_url: str, home: Path, trigger: str, sources_file: Path | None) -> tuple[Recorder, int]:
    """The recorder of a new run and the run's id (see `start_run`)."""
    recorder = Recorder(Database(db_url), home / "bodies")
    return recorder, start_run(recorder, trigger, sources_file)


def start_run(recorder: Recorder, trigger: str, sources_file: Path | None) -> int:
    """A new run recorded by `recorder`; the sources file goes into custody first when it changed."""
    if sources_file is not None:
        recorder.record_config(sources_file)
    return recorder.start_run(trigger)


def finish(recorder, result: CrawlResult, status: str, log_file: Path | None) -> int:
    """Record the run's end (which signs a custody checkpoint), log one line per source; the exit status."""
    if status == "finished" and result.exit_code:
        status = "failed"
    code = result.exit_code if status != "interrupted" else 130
    stats = {r.source: vars(r) for r in result.reports}
    recorder.finish_run(result.run_id, status, code, {"sources": stats, "log": log_file and str(log_file)})
    for r in result.reports:
        level = logging.INFO if r.ok else logging.ERROR
        log.log(level, "source %s: %s; %d pages, %d captures, %d posts, %d new / %d updated offers, %d errors",
                r.source, "ok" if r.ok else f"FAILED ({r.failure})", r.pages, r.captures, r.posts,
                r.offers_new, r.offers_updated, r.errors)
    return code
