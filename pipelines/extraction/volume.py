"""Claimed number of records: "2.3M rows", "10 lakh records", "40M+ records", "~38k rows".

A count needs a record noun after it (up to one qualifying word between:
"61,402 pax records") and must reach 100; the largest claim in the post is
its volume.
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Collection

from .cues import occurrences
from .lexicon import URDU_LETTERS

_SCALE = {
    **dict.fromkeys(("k", "thousand", "hazar", "ہزار"), 1_000),
    **dict.fromkeys(("lakh", "lakhs", "lac", "lacs", "لاکھ"), 100_000),
    **dict.fromkeys(("m", "mn", "million", "millions"), 1_000_000),
    **dict.fromkeys(("crore", "crores", "کروڑ"), 10_000_000),
    **dict.fromkeys(("b", "bn", "billion"), 1_000_000_000),
}
_MIN = 100
_MAX_CLAIMS = 2000          # counts examined per post
_NOUNS = ("records", "record", "rows", "row", "entries", "lines", "numbers", "sims", "cnics", "nics", "customers",
          "users", "subscribers", "profiles", "accounts", "people", "persons", "citizens", "pax", "families",
          "contacts", "mobiles", "msisdns", "leads", "passengers", "members", "ریکارڈ", "ریکارڈز", "افراد", "نمبرز",
          "سمیں", "شہریوں")
# The count that ends right before a record noun (at most one qualifying word between).
_COUNT_BEFORE = re.compile(
    r"[0-9](?<![0-9.,][0-9])(?P<rest>(?>[0-9]{0,2}(?:,[0-9]{2,3}){1,4}|[0-9]{0,11}(?:\.[0-9]{1,4})?))[ \t]{0,2}"
    r"(?P<scale>k|thousand|hazar|ہزار|lakhs?|lacs?|لاکھ|millions?|mn|m|crores?|کروڑ|billion|bn|b)?\+?[ \t]{0,2}"
    rf"(?:[a-z{URDU_LETTERS}]{{1,12}}[ \t]{{1,2}})?$"
)
_REACH = 40


def find_volume(text: str, tokens: Collection[str] | None = None) -> tuple[int, int, int] | None:
    """(count, start, end) of the largest record count in normalised ``text``, or None.

    ``tokens`` (the post's canonical tokens) lets absent nouns be skipped cheaply.
    """
    best = None
    for at, end in occurrences(text, _NOUNS, tokens)[:_MAX_CLAIMS]:
        m = _COUNT_BEFORE.search(text, max(0, at - _REACH), at)
        if m:
            number = text[m.start():m.end("rest")].replace(",", "")
            count = int(Decimal(number) * _SCALE.get(m.group("scale") or "", 1))
            if count >= _MIN and (best is None or count > best[0]):
                best = (count, m.start(), end)
    return best
