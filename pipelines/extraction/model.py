"""Result types of the extraction engine (frozen, hashable, JSON-ready via ``to_dict``)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Found:
    """An identifier or contact: normalised value and its span in the text given to ``extract``."""

    type: str
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class Price:
    amount: int | float
    currency: str


@dataclass(frozen=True)
class Cue:
    """Evidence behind a decision: a matched phrase, price, contact, masked identifier..."""

    kind: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Extraction:
    kind: str = "other"
    categories: tuple[str, ...] = ()
    identifiers: tuple[Found, ...] = ()
    prices: tuple[Price, ...] = ()
    contacts: tuple[Found, ...] = ()
    volume: int | None = None
    cues: tuple[Cue, ...] = ()

    def to_dict(self, explain: bool = False) -> dict:
        """The LABELS.md record shape (plus ``volume``; plus ``cues`` when ``explain``)."""
        data = {
            "kind": self.kind,
            "categories": list(self.categories),
            "identifiers": [{"type": f.type, "value": f.value} for f in self.identifiers],
            "prices": [{"amount": p.amount, "currency": p.currency} for p in self.prices],
            "contacts": [{"type": f.type, "value": f.value} for f in self.contacts],
            "volume": self.volume,
        }
        if explain:
            data["cues"] = [{"kind": c.kind, "text": c.text, "start": c.start, "end": c.end} for c in self.cues]
        return data
