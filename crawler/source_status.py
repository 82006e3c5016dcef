"""What `nigran sources check` shows of each source: its configuration, the mirror that answered it last and
when, and the wall or guard that last stopped it."""
from __future__ import annotations

from typing import Any

from nigran.config.hosts import BadHost, origin
from nigran.config.schema import Source
from nigran.storage.db import Database
from nigran.storage.queries import last_answers, last_stops
from nigran.storage.utc import iso


def source_rows(sources: list[Source], db: Database) -> list[dict[str, Any]]:
    """One JSON-able row per source: its settings, `last_answer` {mirror, url, at} and `stopped` {status,
    reason, next, at} (None when there is none)."""
    with db.session() as s:
        answers, stops = last_answers(s), last_stops(s)
    rows = []
    for source in sources:
        row = source.model_dump(mode="json")
        answer, stop = answers.get(source.name), stops.get(source.name)
        row["last_answer"] = answer and {"mirror": _mirror(answer[0]), "url": answer[0], "at": iso(answer[1])}
        row["stopped"] = stop and {"status": stop.status, "reason": stop.reason, "next": stop.next_step,
                                   "at": iso(stop.at)}
        rows.append(row)
    return rows


def _mirror(url: str) -> str:
    try:
        return origin(url)
    except BadHost:
        return url
