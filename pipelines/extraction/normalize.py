"""Text normalisation for matching, with a map back to the caller's offsets.

The output is lower-cased NFKC text in which Urdu/Arabic-Indic digits are
ASCII, Arabic letter forms are folded to their Urdu forms (ي/ى->ی, ك->ک,
ه/ە->ہ), dash variants are ``-``, emoji variation selectors read as spaces
and invisible marks (zero-width, bidi, soft hyphen, tatweel, harakat) are
removed.  Most posts need only length-preserving replacements of the few
distinct characters they hold; the offset map is built only when characters
are deleted or expand.
"""
from __future__ import annotations

import bisect
import re
import unicodedata
from array import array
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, repeat
from operator import add
from typing import Sequence

_FOLD = {
    **{chr(0x06F0 + i): str(i) for i in range(10)},   # Extended Arabic-Indic (Urdu) digits
    **{chr(0x0660 + i): str(i) for i in range(10)},   # Arabic-Indic digits
    "\u064a": "\u06cc", "\u0649": "\u06cc",             # Arabic yeh / alef maksura -> Farsi yeh
    "\u0643": "\u06a9",                                # Arabic kaf -> keheh
    "\u0647": "\u06c1", "\u06d5": "\u06c1",             # heh / ae -> heh goal
    "\u0130": "I",                                     # keeps str.lower() length-preserving
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-"),
    # Emoji presentation selectors and the keycap mark read as spaces
    # ("3\ufe0f\u20e3" -> "3  "), which keeps emoji posts on the fast path.
    **dict.fromkeys([chr(c) for c in range(0xFE00, 0xFE10)] + ["\u20e3"], " "),
}
# Invisible marks removed outright: soft hyphen, Arabic letter mark,
# tatweel, harakat, superscript alef, zero-width and bidi controls, BOM.
_DELETE = frozenset(chr(c) for lo, hi in (
    (0x00AD, 0x00AD), (0x061C, 0x061C), (0x0640, 0x0640), (0x064B, 0x065F), (0x0670, 0x0670),
    (0x180E, 0x180E), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064), (0x2066, 0x2069), (0xFEFF, 0xFEFF),
) for c in range(lo, hi + 1))

# Code points NFKC changes, scanned where they occur in practice: the BMP,
# mathematical alphanumerics (bold/italic letter obfuscation) and enclosed
# alphanumerics.  Single-character results join the one-to-one map;
# longer ones (ligatures, "Rs" from U+20A8) change the length.
_SCAN = (range(0x80, 0x10000), range(0x1D400, 0x1D800), range(0x1F100, 0x1F200), range(0x1FBF0, 0x1FBFA))


def _fold(s: str) -> str:
    return "".join(_FOLD.get(c, c) for c in s)


def _build() -> tuple[dict[str, str], dict[str, str]]:
    one, expand = dict(_FOLD), {}
    for block in _SCAN:
        for cp in block:
            ch = chr(cp)
            if ch in _DELETE or ch in _FOLD or 0xD800 <= cp < 0xE000:
                continue
            nf = unicodedata.normalize("NFKC", ch)
            if nf != ch:
                nf = _fold(nf)
                (one if len(nf) == 1 else expand)[ch] = nf
    return one, expand


_ONE, _EXPAND = _build()
_RESIZE = _DELETE | frozenset(_EXPAND)
_CHANGE = _RESIZE | frozenset(_ONE)


@dataclass(frozen=True)
class Normalized:
    """Matching text plus what it takes to map its indices back to the original's.

    Deleted or expanded characters are edits.  ``starts[i]`` is where edit i's
    replacement begins in the normalised text; ``lengths[i]`` is that
    replacement's length (None: every edit is a deletion); ``positions[i]`` is
    the edit's place in the original (None: derivable, ``starts[i] + i``).
    """

    text: str
    starts: Sequence[int] = ()
    lengths: Sequence[int] | None = None
    positions: Sequence[int] | None = None

    def position(self, k: int) -> int:
        """The original index of normalised index ``k``."""
        i = bisect.bisect_right(self.starts, k) - 1
        if i < 0:
            return k
        q = self.starts[i]
        pos = q + i if self.positions is None else self.positions[i]
        length = 0 if self.lengths is None else self.lengths[i]
        return pos if k < q + length else pos + 1 + (k - q - length)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original (start, end) for a span of the normalised text."""
        if not self.starts:
            return start, end
        if end <= start:
            pos = self.position(start)
            return pos, pos
        return self.position(start), self.position(end - 1) + 1


@lru_cache(maxsize=256)
def _marks_regex(marks: frozenset[str]) -> re.Pattern:
    return re.compile("([" + "".join(re.escape(c) for c in sorted(marks)) + "])")


def _resize(text: str, marks: frozenset[str]) -> Normalized:
    """Delete or expand ``marks`` (before lower-casing and folding).

    Built from ``re.split`` and C-level maps into arrays, so a megabyte of
    zero-width characters costs no Python loop per character.
    """
    parts = _marks_regex(marks).split(text)            # segment, mark, segment, mark, ..., segment
    segments = parts[0::2]
    kept = array("q", accumulate(map(len, segments[:-1])))  # original text kept before each mark
    if not marks & _EXPAND.keys():
        return Normalized("".join(segments), kept)
    replacements = list(map(_EXPAND.get, parts[1::2], repeat("")))
    lengths = array("q", map(len, replacements))
    starts = array("q", map(add, kept, accumulate(lengths, initial=0)))
    positions = array("q", map(add, kept, range(len(replacements))))
    parts[1::2] = replacements
    return Normalized("".join(parts), starts, lengths, positions)


def normalize(text: str) -> Normalized:
    """Normalise ``text`` for matching (see the module docstring)."""
    if text.isascii():
        return Normalized(text.lower())
    present = _CHANGE.intersection(text)
    resize = present & _RESIZE
    norm = _resize(text, frozenset(resize)) if resize else Normalized(text)
    text = norm.text
    if resize:
        present = _CHANGE.intersection(text)
    for ch in present:
        text = text.replace(ch, _ONE[ch])
    return Normalized(text.lower(), norm.starts, norm.lengths, norm.positions)
