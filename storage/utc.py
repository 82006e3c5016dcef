"""Time as nigran writes and reads it: ISO 8601, timezone-aware, UTC."""
from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any


def utc_text(moment: datetime, *, fraction: bool = True) -> str:
    """Fixed-width UTC, `2026-12-03T14:05:09.123456Z` (without the fraction: `...T14:05:09Z`), as evidence
    records it (custody, WARC, WACZ). A naive time is refused: nobody knows its zone."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware (UTC)")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ" if fraction else "%Y-%m-%dT%H:%M:%SZ")


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with `Z`, as JSON output shows times; None stays None."""
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if moment else None


def json_safe(value: Any) -> Any:
    """`value` as a JSON column keeps it: every datetime in it (through dicts and lists) as `iso` text."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def parse_utc(text: str) -> datetime:
    """An ISO-8601 time as aware UTC (`Z` accepted, a naive time taken as UTC); ValueError when unreadable."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def retry_after(value: bytes | None) -> float | None:
    """Seconds to wait from an HTTP Retry-After header (seconds or an HTTP date, never negative); None when
    absent or unreadable."""
    text = (value or b"").decode("latin-1").strip()
    if text.isdecimal():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
