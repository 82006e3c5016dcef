"""`nigran extract`: the extraction engine over a document, or over JSON lines of posts, as JSON objects."""
from __future__ import annotations

import json
from typing import Iterator

from nigran.spiders.text import html_to_text
from nigran.storage.privacy import mask

from .engine import extract


class BadRecord(ValueError):
    """A JSON line that is not an object with 'id' and 'text'."""


def extraction_dict(text: str, *, explain: bool = False, reveal: bool = False) -> dict:
    """The extraction of `text` as a JSON object; identifiers and contacts masked unless `reveal`."""
    data = extract(text, explain=explain).to_dict(explain=explain)
    if not reveal:
        for key in ("identifiers", "contacts"):
            data[key] = [{**i, "value": mask(i["type"], i["value"])} for i in data[key]]
    return data


def extract_input(raw: bytes, *, jsonl: bool = False, explain: bool = False, reveal: bool = False) -> Iterator[dict]:
    """One object for the document `raw` (text, or HTML made text), or with `jsonl` one per non-blank line
    {"id", "text"} (with its id); raises BadRecord at the first malformed line, after the lines before it."""
    text = raw.decode("utf-8", "replace")
    if not jsonl:
        yield extraction_dict(html_to_text(text) if text.lstrip()[:1] == "<" else text, explain=explain, reveal=reveal)
        return
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            post = record["text"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise BadRecord(f"line {n}: expected a JSON object with 'id' and 'text'") from None
        yield {"id": record.get("id"), **extraction_dict(post, explain=explain, reveal=reveal)}
