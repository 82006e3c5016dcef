"""Personal identifiers: CNIC, Pakistani mobile numbers and passports, validated.

All finders read normalised text (ASCII digits, lower case) and return spans
in it.  Rules:
  * CNIC: 5-7-1 digits.  Written with a dash or space it stands alone (first
    digit 1-8, 8 = AJK).  Bare 13 digits (or one digit at a time with
    separators) count only when a CNIC cue precedes them on the line, with
    no transaction/order/time word in between, or when they sit under a
    CNIC column of a delimited table; their first digit must be 1-7.
  * Mobile: 03XX / +92 3XX / 0092 3XX / 92 3XX with any spaces, dashes or
    dots, validated against libphonenumber's PK mobile pattern (so 0338,
    035x and landlines fail); output E.164.
  * Passport: two letters and seven digits, in a post that talks about
    passports or travel.
Masked CNICs and numbers ("35202-87xxxxx-x") are reported separately: they
are teasers, not identifiers.
"""
from __future__ import annotations

import bisect
import re
from typing import NamedTuple

import phonenumbers

from .lexicon import CNIC_CUE_WORDS, NOT_CNIC_WORDS, PASSPORT_CUE_WORDS, word_regex


class Ident(NamedTuple):
    type: str
    value: str
    start: int
    end: int


# One pass finds every candidate.  The scan starts with a single character
# class (Python's re can then skip ahead quickly); each alternative checks
# the character it starts with, and what precedes it, with lookbehinds.
_SEP = r"[ \t\-.()]"
_SCAN = re.compile(
    r"[0-9+(](?<![0-9][0-9+(])(?:"
    # +92 / 0092 / 92 / 0 / (0, then 3XX and seven more digits, any separators
    r"(?P<mobile>(?<![a-z+][+09(])(?<![0-9]-[+09(])"
    r"(?:(?<=\+)[ \t]?9[ \t]?2[ \t\-.]{0,2}(?:\(0\)[ \t\-.]{0,2})?"
    r"|(?<=0)[ \t]?0[ \t]?9[ \t]?2[ \t\-.]{0,2}(?:\(0\)[ \t\-.]{0,2})?|(?<=9)2|(?<=0)|(?<=\()0)"
    rf"{_SEP}{{0,3}}3(?:{_SEP}{{0,2}}[0-9]){{9}}(?![0-9]|-[0-9]))"
    # 5-7-1 digits, optionally dashed or spaced
    r"|(?P<cnic>(?<=[1-8])(?<!-[1-8])[0-9]{4}(?P<sep1>[\- \t]?)[0-9]{7}(?P<sep2>[\- \t]?)[0-9](?![0-9]|-[0-9]))"
    # 13 digits one at a time
    r"|(?P<spaced>(?<=[1-7])(?:[ .\-]{1,2}[0-9]){12}(?![0-9]|[ .\-]{1,2}[0-9]))"
    # two letters and seven digits: the scan starts at the first digit
    r"|(?P<passport>(?<=[a-z]{2}[0-9])(?<![a-z0-9][a-z]{2}[0-9])[0-9]{6}(?![a-z0-9]))"
    r"|(?P<masked_cnic>(?<=[1-8])(?<![a-z][1-8])[0-9]{4}-?(?=[0-9]{0,6}[x*•#])[0-9x*•#]{7}-?[0-9x*•#](?![0-9a-z]))"
    r"|(?P<masked_mobile>(?<=[+09])(?<![a-z+][+09])(?:(?<=\+)92|(?<=0)092|(?<=9)2|(?<=0))[ \-]?3[0-9]{2}[ \-]?"
    r"(?=[0-9]{0,5}[x*•#]{2})[0-9x*•#]{7}(?![0-9a-z]))"
    r")"
)
_PK_MOBILE = re.compile(phonenumbers.PhoneMetadata.metadata_for_region("PK").mobile.national_number_pattern)
_NON_DIGITS = re.compile(r"[^0-9]")


_CNIC_CUE = re.compile(word_regex(CNIC_CUE_WORDS + ("c.n.i.c",)))
_NOT_CNIC = re.compile(word_regex(NOT_CNIC_WORDS))
_PASSPORT_CUE = re.compile(word_regex(PASSPORT_CUE_WORDS, end=False))
_DELIMS = ("|", ";", "\t", ",", "  ")                # "  ": columns aligned with runs of spaces
_SPACE_RUN = re.compile(" {2,}")
_CUE_WINDOW = 80
_ROW_REACH = 2000           # a table cell is looked up within the first 2000 characters of its row


def mentions_cnic(text: str) -> bool:
    """The normalised text names CNICs (or NICOP, B-form...) anywhere."""
    return _CNIC_CUE.search(text) is not None


def pk_mobile(national: str) -> str | None:
    """E.164 for a 10-digit national number if it is a PK mobile, else None."""
    return "+92" + national if _PK_MOBILE.fullmatch(national) else None


class _Lines:
    """Line lookup for cue and table-header checks, computed once per text."""

    def __init__(self, text: str):
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self._header: dict[int, tuple[str, int] | None] = {}
        self._above: dict[int, tuple[str, int] | None] = {}

    def index(self, pos: int) -> int:
        return bisect.bisect_right(self.starts, pos) - 1

    def line(self, i: int) -> str:
        end = self.starts[i + 1] - 1 if i + 1 < len(self.starts) else len(self.text)
        return self.text[self.starts[i]:end]

    def header(self, i: int) -> tuple[str, int] | None:
        """(delimiter, column) of a CNIC column if line ``i`` is a table header."""
        if i not in self._header:
            line, found = self.line(i), None
            cue = _CNIC_CUE.search(line)
            if cue:
                for delim in _DELIMS:
                    if _column(line, delim):
                        found = (delim, _column(line[:cue.start()], delim))
                        break
            self._header[i] = found
        return self._header[i]

    def header_above(self, i: int) -> tuple[str, int] | None:
        """The nearest table header above line ``i`` in the same block (no blank line between)."""
        path, j = [], i
        while j not in self._above:
            if j == 0 or not self.line(j - 1).strip():
                self._above[j] = None
                break
            head = self.header(j - 1)
            if head:
                self._above[j] = head
                break
            path.append(j)
            j -= 1
        for k in path:
            self._above[k] = self._above[j]
        return self._above[i]


def _column(prefix: str, delim: str) -> int:
    """How many delimiters ``prefix`` (the start of a table line) holds: the column index after it."""
    return len(_SPACE_RUN.findall(prefix.lstrip())) if delim == "  " else prefix.count(delim)


def _cnic_context(lines: _Lines, start: int) -> bool:
    """True when a bare 13-digit number at ``start`` is labelled as a CNIC."""
    i = lines.index(start)
    line_start = lines.starts[i]
    if start - line_start <= _ROW_REACH:
        head = lines.header_above(i)
        if head and _column(lines.text[line_start:start], head[0]) == head[1]:
            return True
    before = lines.text[max(line_start, start - _CUE_WINDOW):start]
    cue = None
    for cue in _CNIC_CUE.finditer(before):
        pass
    return cue is not None and not _NOT_CNIC.search(before, cue.end())


def _cnic_value(digits: str) -> str:
    return f"{digits[:5]}-{digits[5:12]}-{digits[12]}"


class Scan(NamedTuple):
    identifiers: list[Ident]          # valid, first sighting of each value, in text order
    masked: list[tuple[str, int, int]]  # (masked_cnic | masked_mobile, start, end)
    every: list[Ident]                # every sighting, in text order


def scan(text: str) -> Scan:
    """Identifiers and masked identifiers in normalised ``text``."""
    found: list[Ident] = []
    masked: list[tuple[str, int, int]] = []
    passports: list[Ident] = []
    lines = None
    for m in _SCAN.finditer(text):
        kind, start, end = m.lastgroup, m.start(), m.end()
        if kind == "mobile":
            value = pk_mobile(_NON_DIGITS.sub("", m.group())[-10:])
            if value:
                found.append(Ident("pk_mobile", value, start, end))
        elif kind == "cnic" or kind == "spaced":
            digits = _NON_DIGITS.sub("", m.group())
            standalone = kind == "cnic" and (m.group("sep1") or m.group("sep2"))
            if not standalone:
                lines = lines or _Lines(text)
                if digits[0] == "8" or not _cnic_context(lines, start):
                    continue
            found.append(Ident("cnic", _cnic_value(digits), start, end))
        elif kind == "passport":
            passports.append(Ident("passport", text[start - 2:end].upper(), start - 2, end))
        else:
            masked.append((kind, start, end))
    if passports and _PASSPORT_CUE.search(text):
        found = sorted(found + passports, key=lambda x: x.start)
    seen: set[tuple[str, str]] = set()
    unique = []
    for ident in found:
        if (ident.type, ident.value) not in seen:
            seen.add((ident.type, ident.value))
            unique.append(ident)
    return Scan(unique, masked, found)


def find_all(text: str) -> list[Ident]:
    """Every valid identifier in normalised ``text``, each sighting (a value written twice: twice), in text order."""
    return scan(text).every
