"""Decide offer / request / other and the data categories from the evidence.

1. Data: the post must name personal data (a ``category:*``, ``lookup:owner``
   or ``data:other`` phrase, or a CNIC/SIM mention in a dump or bulk claim) or
   carry rows of identifiers or masked samples.  Otherwise: other.
2. Deal: request score = request phrases; offer score = selling phrases.
   The post is a request when its request score is at least 3 and beats the
   offer score.  Both add the same "actionable" evidence: a contact, a
   price, a payment method, a call to action, masked samples, identifier
   rows, a dump or bulk claim.
3. Look-alikes: the weights of negative families (news, warnings, notices,
   official services, how-tos, victims, ads, jobs, required documents,
   templates, discussion, code; each capped) are subtracted.  Below the threshold the post is other.

Categories (offers and requests only) are the strong categories, plus
``sim`` for SIM/location mentions, ``cnic`` for CNICs named in a dump, table
or bulk claim (or next to CNICs in data rows) or two CNICs in the post, and
``travel`` for two passports.  Owner lookups are ``sim`` unless the post is
about vehicles.
"""
from __future__ import annotations

from typing import NamedTuple

CATEGORIES = ("call_logs", "cnic", "sim", "travel")
_CAP = {"sell": 8, "request": 12, "payment": 3, "cta": 2}
_NEG_CAP = 10
THRESHOLD = 4


class Evidence(NamedTuple):
    weights: dict[str, int]   # cue kind -> summed weight
    contacts: int
    prices: int
    masked: int
    id_rows: int              # lines of delimited data holding identifiers
    id_counts: dict[str, int]  # identifier type -> distinct values
    bulk: bool                # the post talks about a dump or table, or claims 1000+ records
    bulk_cnic: bool           # ... and names CNICs


class Decision(NamedTuple):
    kind: str
    categories: tuple[str, ...]
    score: int                # deal evidence minus look-alike weight (0 when no data is named)
    negative: int             # the look-alike weight

    def summary(self) -> str:
        """One line for the analyst: the verdict and the numbers behind it."""
        return f"{self.kind}: score {self.score} (look-alike weight {self.negative}, threshold {THRESHOLD})"


def _capped(w: dict[str, int], kind: str) -> int:
    return min(w.get(kind, 0), _CAP[kind])


def negative_score(w: dict[str, int]) -> int:
    return sum(min(v, _NEG_CAP) for k, v in w.items() if k.startswith("negative:"))


def _categories(ev: Evidence, vehicle: bool) -> set[str]:
    w, ids = ev.weights, ev.id_counts
    cats = {c for c in CATEGORIES if f"category:{c}" in w}
    if ("lookup:owner" in w and not vehicle) or "mention:sim" in w:
        cats.add("sim")
    if ev.bulk_cnic or "mention:cnic" in w and ev.id_rows and "cnic" in ids or ids.get("cnic", 0) >= 2:
        cats.add("cnic")
    if ids.get("passport", 0) >= 2:
        cats.add("travel")
    return cats


NOT_A_DEAL = Decision("other", (), 0, 0)
_DATA_KINDS = frozenset([f"category:{c}" for c in CATEGORIES] + ["lookup:owner", "data:other"])


def has_data(w: dict[str, int], bulk: bool = False) -> bool:
    """The post names personal data (step 1); with ``bulk``, a CNIC or SIM mention is enough."""
    return not _DATA_KINDS.isdisjoint(w) or bulk and ("mention:cnic" in w or "mention:sim" in w)


def decide(ev: Evidence) -> Decision:
    w = ev.weights
    vehicle = "vehicle" in w
    negative = negative_score(w)
    if not has_data(w, ev.bulk) and ev.id_rows < 2 and not ev.masked:
        return Decision("other", (), 0, negative)
    sell, request = _capped(w, "sell"), _capped(w, "request")
    actionable = (3 * bool(ev.contacts) + 3 * bool(ev.prices) + _capped(w, "payment") + _capped(w, "cta")
                  + 2 * bool(ev.masked) + (3 if ev.id_rows >= 2 else ev.id_rows) + 2 * ev.bulk)
    is_request = request >= 3 and request > sell
    score = (request if is_request else sell) + actionable - negative
    if score < THRESHOLD:
        return Decision("other", (), score, negative)
    kind = "request" if is_request else "offer"
    return Decision(kind, tuple(sorted(_categories(ev, vehicle))), score, negative)


def names_third_parties(w: dict[str, int]) -> bool:
    """A warning or a news report: the handles and numbers it names belong to others, not the poster."""
    return w.get("negative:warning", 0) >= 5 or w.get("negative:news", 0) >= 6
