"""Post text as stored: every personal identifier replaced by its masked form (raw values stay in the evidence)."""
from __future__ import annotations

from pipelines.extraction import find_identifiers
from storage.secrets import mask


def redact(text: str | None) -> str | None:
    """`text` with each CNIC, mobile number and passport number masked, e.g. 35202-*******-1."""
    if not text:
        return text
    parts, last = [], 0
    for ident in find_identifiers(text):
        if ident.start < last:
            continue
        parts += [text[last:ident.start], mask(ident.type, ident.value)]
        last = ident.end
    return "".join(parts) + text[last:] if parts else text
