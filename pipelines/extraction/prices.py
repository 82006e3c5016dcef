"""Price tags: amount and currency.

Reads normalised text.  Every number is looked at once, with what stands
just before and after it:
  * a currency before or after it makes a price ("Rs 500/-", "$20",
    "0.002 btc", "40 پاؤنڈ"), scaled by k / hazar / lakh / crore / million;
    the currency after the amount wins ("0.9 btc or 35k usdt");
  * a PKR multiplier alone makes a PKR price ("5k", "1.5 lakh", "10 hazar");
  * a bare number is a PKR price only right after a price word ("Price:
    1500"), before "tak" ("1000 tak"), or as a further item on a line that
    already has a PKR price ("Sirf 300 rupay. Telenor 350, Zong 350.").
Amounts followed by record nouns ("10 lakh records"), "+" or "%" are not
prices, and neither is "2M" without a currency.  Digits that belong to
something else are not amounts either: spans the caller masks (identifiers,
contacts), numbers inside a longer alphanumeric token ("a1b2c3500rs"),
numbers with a leading zero ("0300...") and groups joined by a space or dash
to a phone-like or long digit run ("0300 1234567", "PK36 ... 6702").  A
currency word written after such digits is then free for the amount after
it ("03001234567 Rs 500").
"""
from __future__ import annotations

import bisect
import re
from decimal import Decimal
from functools import lru_cache
from itertools import islice
from typing import Collection, Iterable, NamedTuple

from .cues import occurrences
from .lexicon import PRICE_LABEL_WORDS, UPTO_WORDS, URDU_LETTERS

_MULTIPLIERS = {
    **dict.fromkeys(("k", "thousand", "hazar", "hazaar", "hzr", "ہزار"), 1_000),
    **dict.fromkeys(("lakh", "lakhs", "lac", "lacs", "laakh", "لاکھ"), 100_000),
    **dict.fromkeys(("crore", "crores", "cr", "کروڑ"), 10_000_000),
    **dict.fromkeys(("m", "mn", "million"), 1_000_000),
}
_VOLUME_MULT = frozenset(("m", "mn", "million"))
_MAX_TAGS = 2000            # candidates of each pattern examined per post; a flood beyond that is not read
# Currency written before the amount (longest first), and after it as (regex, code).
_PREFIX_CODES = {"usdt": "USDT", "btc": "BTC", "xmr": "XMR", "usd": "USD", "us$": "USD", "$": "USD", "eur": "EUR",
                 "€": "EUR", "gbp": "GBP", "£": "GBP", "aed": "AED", "inr": "INR", "₹": "INR", "pkr": "PKR",
                 "rs.": "PKR", "rs": "PKR"}
_PREFIX_WORDS = sorted(_PREFIX_CODES, key=len, reverse=True)
_PREFIX_GAPS = ("", " ", ":", ": ")
_SUFFIXES = (
    ("usdt|tether", "USDT"), ("btc|bitcoins?", "BTC"), ("xmr|monero", "XMR"),
    ("usd|us\\$|dollars?|ڈالر|\\$", "USD"), ("eur|euros?|€|یورو", "EUR"), ("gbp|pounds?|£|پاؤنڈ|پاونڈ", "GBP"),
    ("aed|dirhams?|dhs|درہم", "AED"), ("inr|₹|indian rupees?", "INR"),
    ("pkr|rs\\.?|rupees?|rupa[iy]e?|rupey|rupiy?a|roopa?y|روپے|روپیہ|روپئے|روپیے|/-", "PKR"),
)


def _prefix_lookbehinds() -> str:
    """Zero-width checks, made at the first digit of an amount, for a currency written before it.

    Lookbehinds must have a fixed width, so the prefix words (with the gap
    after them) are grouped by length.
    """
    by_width: dict[int, list[str]] = {}
    for word in _PREFIX_WORDS:
        for gap in _PREFIX_GAPS:
            by_width.setdefault(len(word + gap), []).append(re.escape(word + gap))
    return "|".join(f"(?<=(?:{'|'.join(group)})[0-9])" for _, group in sorted(by_width.items()))


_SUFFIX_RX = "|".join(rx for rx, _ in _SUFFIXES)
_SUFFIX_CODES = [(re.compile(rx), code) for rx, code in _SUFFIXES]
# Every pattern starts with one character class or literal so that Python's re
# can skip ahead quickly; what precedes a match is checked by lookbehinds placed
# after its first character, and numbers are atomic so they are never re-split.
_NUM_REST = r"(?>(?:[0-9]{0,2}(?:,[0-9]{2,3}){1,4}(?![0-9])|[0-9]{0,11})(?:\.[0-9]{1,8})?)(?![0-9])"
_MULT = r"k|thousand|hazaa?r|hzr|ہزار|lakhs?|lacs?|laakh|لاکھ|crores?|cr|کروڑ|million|mn|m"
_LETTER_END = f"(?![a-z0-9{URDU_LETTERS}])"
_SUFFIX_END = f"(?![a-z{URDU_LETTERS}])"
# An amount with a currency after it, a multiplier, or a currency before it (then nothing more is needed).
_AMOUNT = re.compile(
    rf"[0-9](?<![0-9][0-9])(?<![0-9][.,][0-9])(?P<pre>{_prefix_lookbehinds()})?(?P<rest>{_NUM_REST})"
    rf"(?:[ \t]{{0,2}}(?P<mult>{_MULT}){_LETTER_END}(?:[ \t]{{0,2}}(?P<s1>{_SUFFIX_RX}){_SUFFIX_END})?"
    rf"|[ \t]{{0,2}}(?P<s2>{_SUFFIX_RX}){_SUFFIX_END}"
    r"|(?(pre)(?![a-z])|(?!)))")
_PREFIX_AT_END = re.compile("(" + "|".join(re.escape(w) for w in _PREFIX_WORDS) + r")[ \t:]*$")
_RUN_BEFORE = re.compile(r"\+?[0-9]+(?:[ \-][0-9]+)*[ \-]$")
_LONG_RUN = 9               # digits in a run that make it an identifier or account number, not amounts
_NOT_PRICE_AFTER = re.compile(
    rf"[ \t]{{0,2}}(?:[+%]|[a-z{URDU_LETTERS}]{{0,12}}[ \t]{{0,2}}"
    r"(?:records?|rows?|entries|lines|numbers|sims|cnics|customers|users|subscribers|profiles|accounts|people|persons"
    r"|citizens|pax|queries|searches|reports|copies|افراد|ریکارڈ|سمیں|شہری)(?![a-z]))")
_BARE_REST = r"(?>[0-9]{0,2}(?:,[0-9]{2,3}){1,4}|[0-9]{1,8})(?![0-9.,]?[0-9]|[a-z])"
_BARE = rf"[1-9](?<![0-9][1-9])(?<![0-9][.,][1-9]){_BARE_REST}"
_NO_UNIT = (r"(?![ \t]{0,2}(?:[%+$€£/]|(?:k|m|gb|mb|kb|days?|din|months?|mahin[ae]?|hours?|hrs?|ghant[ae]?|min"
            r"|minutes?|meters?|km|sec|years?|sal|saal)(?![a-z])))")
_LABEL_BARE = re.compile(
    "(?:" + "|".join(sorted(PRICE_LABEL_WORDS, key=len, reverse=True)) + ")"
    rf"[ \t]{{0,3}}[:=\-]?[ \t]{{0,3}}({_BARE}){_NO_UNIT}")
_BARE_BEFORE = re.compile(rf"(?<![0-9.,a-z_])[1-9]{_BARE_REST}[ \t]{{0,2}}$")
_LIST_BARE = re.compile(rf" (?<=[a-z{URDU_LETTERS}:=] )({_BARE}){_NO_UNIT}[ \t]{{0,2}}(?=[,.;!?)]|$)", re.M)
_NEWLINE = re.compile("\n")
_MONTH_BEFORE = re.compile(r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]{0,6}\.? $")


class PriceTag(NamedTuple):
    amount: int | float
    currency: str
    start: int
    end: int


@lru_cache(maxsize=256)
def _suffix_code(word: str) -> str:
    """Currency code of a currency word written after an amount."""
    return next(code for rx, code in _SUFFIX_CODES if rx.fullmatch(word))


def _amount(number: str, mult: str | None) -> int | float | None:
    number = number.replace(",", "")
    value = (Decimal(number) if "." in number else int(number)) * _MULTIPLIERS.get(mult or "", 1)
    if value <= 0:
        return None
    return int(value) if value == int(value) else float(value)


def _prefix(text: str, start: int, claimed: int) -> tuple[str, int] | None:
    """(code, start) of a currency word written just before the amount at ``start``.

    The word must start a word, and must not be the currency of an amount
    before it, which ends at ``claimed`` ("0.05 btc 3 days": "btc" belongs to 0.05).
    """
    m = _PREFIX_AT_END.search(text, max(0, start - 8), start)
    if m is None:
        return None
    word, at = m.group(1), m.start(1)
    inside_word = at and word[0].isalpha() and text[at - 1].isalnum()
    if inside_word or at < claimed:
        return None
    return _PREFIX_CODES[word], at


def _not_an_amount(text: str, start: int, number: str, prefixed: bool) -> bool:
    """The digits ``number`` at ``start`` belong to a token or digit run that is not an amount.

    With a leading zero ("0300"), inside a longer alphanumeric token
    ("a1b2c3500", unless ``prefixed`` by a currency: "rs500"), or joined by
    a space or dash to a run before it that starts with 0 or + or holds 9+
    digits ("0300 1234567", "+92 300 1234567").
    """
    if number[0] == "0" and number[1:2].isdigit():
        return True
    before = text[start - 1] if start else ""
    if not prefixed and before.isascii() and (before.isalpha() or before == "_"):
        return True
    if before not in (" ", "-") or start < 2 or not text[start - 2].isdigit():
        return False
    run = _RUN_BEFORE.search(text, max(0, start - 24), start)
    return run is not None and (run.group()[0] in "+0" or sum(map(str.isdigit, run.group())) >= _LONG_RUN)


def _explicit(text: str) -> list[PriceTag]:
    """Amounts with a currency or a PKR multiplier; a currency after the amount beats one before it."""
    out: list[PriceTag] = []
    claimed = 0             # end of the last amount that took the currency written after it
    for m in islice(_AMOUNT.finditer(text), _MAX_TAGS):
        number, mult, suffix = text[m.start():m.end("rest")], m.group("mult"), m.group("s1") or m.group("s2")
        start, code = m.start(), None
        if suffix:
            code = _suffix_code(suffix)
        elif m.group("pre") is not None:
            found = _prefix(text, m.start(), claimed)
            if found:
                code, start = found
        if code is None and (not mult or mult in _VOLUME_MULT):
            continue
        if not suffix and mult and _NOT_PRICE_AFTER.match(text, m.end()):
            continue
        if _not_an_amount(text, m.start(), number, start != m.start()):
            continue
        amount = _amount(number, mult)
        if amount is not None:
            out.append(PriceTag(amount, code or "PKR", start, m.end()))
            if suffix:
                claimed = m.end()
    return out


def _bare(text: str, explicit: list[PriceTag], words: Collection[str] | None) -> list[PriceTag]:
    """PKR amounts written without a currency: after a price word, before "tak", or listed after a PKR price."""
    spans = set()
    for start, _ in occurrences(text, PRICE_LABEL_WORDS, words):
        m = _LABEL_BARE.match(text, start)
        if m:
            spans.add(m.span(1))
    for start, _ in occurrences(text, UPTO_WORDS, words):
        number = _BARE_BEFORE.search(text, max(0, start - 16), start)
        if number:
            spans.add((number.start(), number.start() + len(number.group().rstrip())))
    listed = ([m.span(1) for m in islice(_LIST_BARE.finditer(text), _MAX_TAGS)]
              if any(p.currency == "PKR" for p in explicit) else [])
    if listed:
        newlines = [m.start() for m in _NEWLINE.finditer(text)]
        pkr_lines = {bisect.bisect(newlines, p.start) for p in explicit if p.currency == "PKR"}
        for start, end in listed:
            if (bisect.bisect(newlines, start) in pkr_lines and not _NOT_PRICE_AFTER.match(text, end)
                    and not _MONTH_BEFORE.search(text, max(0, start - 12), start)):
                spans.add((start, end))
    starts = [p.start for p in explicit]
    out = []
    for start, end in sorted(spans):
        i = bisect.bisect_right(starts, start) - 1
        if i >= 0 and explicit[i].end > start:
            continue
        amount = int(text[start:end].replace(",", ""))
        if amount >= 10:
            out.append(PriceTag(amount, "PKR", start, end))
    return out


def _blank(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """``text`` with the characters of ``spans`` replaced by spaces (offsets unchanged)."""
    parts, at = [], 0
    for start, end in sorted(spans):
        start = max(start, at)
        if end > start:
            parts += (text[at:start], " " * (end - start))
            at = end
    return "".join(parts) + text[at:] if parts else text


def find_prices(text: str, words: Collection[str] | None = None,
                masks: Iterable[tuple[int, int]] = ()) -> list[PriceTag]:
    """Price tags in normalised ``text`` in text order; repeated (amount, currency) pairs once.

    ``words`` (the post's canonical tokens, see ``cues.find_cues``) lets the
    search for price words and "tak" skip the ones that are absent.  The
    digits of ``masks`` (spans of identifiers and contacts) are never read.
    """
    text = _blank(text, masks)
    explicit = _explicit(text)
    seen: set[tuple[float, str]] = set()
    out = []
    for p in sorted(explicit + _bare(text, explicit, words), key=lambda p: p.start):
        key = (round(float(p.amount), 6), p.currency)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out
