"""Time as nigran writes and reads it: ISO 8601, timezone-aware, UTC."""
from __future__ import annotations

from datetime import datetime, timezone


def utc_text(moment: datetime, *, fraction: bool = True) -> str:
    """Fixed-width UTC, `2026-12-03T14:05:09.123456Z` (without the fraction: `...T14:05:09Z`), as evidence
    records it (custody, WARC, WACZ). A naive time is refused: nobody knows its zone."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware (UTC)")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ" if fraction else "%Y-%m-%dT%H:%M:%SZ")


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with `Z`, as JSON output shows times; None stays None."""
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if moment else None


def parse_utc(text: str) -> datetime:
    """An ISO-8601 time as aware UTC (`Z` accepted, a naive time taken as UTC); ValueError when unreadable."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
