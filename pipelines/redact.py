"""Post fields as stored: every personal identifier the extraction engine finds masked in place
(raw values stay only in the evidence); the mask itself is storage.privacy's."""
from __future__ import annotations

from typing import Any

from nigran.pipelines.extraction import find_identifiers
from nigran.storage import privacy


def redact(text: str | None) -> str | None:
    """`text` with each CNIC, mobile number and passport number masked where it stands."""
    return privacy.redact(text, find_identifiers)


def redact_all(value: Any) -> Any:
    """Every string in `value` (dicts and lists included) redacted."""
    return privacy.redact_all(value, find_identifiers)
