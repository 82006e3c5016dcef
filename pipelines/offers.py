"""Item pipeline: run the extraction engine over each post."""
from __future__ import annotations

from nigran.pipelines.extraction import extract


def post_text(item) -> str:
    """What the engine reads: title, body and the price field, each once."""
    parts = [item.get("title"), item.get("text"), item.get("price_text")]
    seen: list[str] = []
    for part in parts:
        if part and not any(part in s for s in seen):
            seen.append(part)
    return "\n".join(seen)


class ExtractionPipeline:
    def process_item(self, item):
        if not (item.get("extra") or {}).get("service"):  # "Channel created", pins: kept as posts, never offers
            item["extraction"] = extract(post_text(item))
        return item
