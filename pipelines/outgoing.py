"""Item pipeline, last: an item leaves nigran (feed exports of any format, any item_scraped listener) as the post
is stored, every identifier masked. The pipelines before it (extraction, store) saw the raw values."""
from __future__ import annotations

from nigran.pipelines.redact import redact_all
from nigran.storage.privacy import identifier_key, mask
from nigran.storage.recorder import protect_contacts


class MaskPipeline:
    def __init__(self):
        self.key = identifier_key()

    def process_item(self, item):
        out = item.__class__({k: redact_all(v) for k, v in item.items() if k != "extraction"})
        if item.get("extraction") is not None:
            out["extraction"] = self.masked(item["extraction"])
        return out

    def masked(self, ex) -> dict:
        """An extraction as `nigran offers --json` shows an offer: identifiers and phone-like contacts masked;
        no cues (they quote the text)."""
        contacts = protect_contacts([{"type": c.type, "value": c.value} for c in ex.contacts], self.key)
        return {**ex.to_dict(), "contacts": [{"type": c["type"], "value": c["value"]} for c in contacts],
                "identifiers": [{"type": i.type, "value": mask(i.type, i.value)} for i in ex.identifiers]}
