"""Post text as stored: every personal identifier masked in place (raw values stay only in the evidence)."""
from __future__ import annotations

from pipelines.extraction import find_identifiers

# How many leading and trailing digits stay readable: enough to locate a record, never the person.
KEEP = {"cnic": (5, 1), "pk_mobile": (4, 2), "passport": (0, 2)}


def mask_span(kind: str, raw: str) -> str:
    """`raw` as written, with its middle digits replaced by '*' (separators and letters kept)."""
    head, tail = KEEP.get(kind, (0, 0))
    digits = sum(c.isdigit() for c in raw)
    out, seen = [], 0
    for c in raw:
        if c.isdigit():
            seen += 1
            out.append(c if seen <= head or seen > digits - tail else "*")
        else:
            out.append(c)
    return "".join(out)


def redact(text: str | None) -> str | None:
    """`text` with each CNIC, mobile number and passport number masked where it stands."""
    if not text:
        return text
    parts, last = [], 0
    for ident in find_identifiers(text):
        if ident.start < last:
            continue
        parts += [text[last:ident.start], mask_span(ident.type, text[ident.start:ident.end])]
        last = ident.end
    return "".join(parts) + text[last:] if parts else text
