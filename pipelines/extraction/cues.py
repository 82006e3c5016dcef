"""Find lexicon phrases in normalised text.

Text is cut into tokens (runs of ASCII letters/digits or Arabic-script
letters); e-mail addresses, @handles, URLs and domains are blanked first so
that a handle like ``@sim_detail_24h`` is not read as words.  Obfuscation is
undone at token level: runs of three or more one-character tokens are
joined ("c n i c", "c.n.i.c", "C🔥N🔥I🔥C" -> "cnic"), doubled letters
collapse and digits inside words are read as letters ("cn1c" -> "cnic").
At each token the longest matching phrase wins; the words a ".." skipped
may still start phrases of their own.  Token spans are computed
only when asked for (``explain``): classification needs the weights alone.
"""
from __future__ import annotations

import re
from functools import lru_cache
from itertools import compress, islice
from typing import Collection, NamedTuple

from .lexicon import LEXICON, URDU_LETTERS

_WORD_CHARS = "a-z0-9" + URDU_LETTERS
_WORD = re.compile(f"[{_WORD_CHARS}]{{1,64}}")
_WORD_CHAR = re.compile(f"[{_WORD_CHARS}]")
_SKIP = re.compile(
    r"@[a-z0-9_.\-]{1,253}"                                    # @handle, or the domain of an e-mail
    r"|://[^\s]{1,300}"                                        # URL (its scheme is found backwards)
    r"|\.(?:onion|me|com|org|net|io|li|pk|dog|to)(?![a-z0-9])(?:/[^\s]{0,300})?"
)
_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._%+-")
_DOMAIN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")
_DOUBLE = re.compile(r"([^0-9])\1+")
_SINGLE_RUN = re.compile(rb"\x01{3,}")
_LEET = str.maketrans("013457@$", "oieastas")
_GAP = 3           # tokens a ".." may skip
_MAX_SKIPPED = 10_000   # e-mails/handles/URLs blanked per post; beyond that a flood is just text
_CACHE_LIMIT = 200_000
_MAX_OCCURRENCES = 2000     # positions of one word list examined per post


class Hit(NamedTuple):
    """One matched phrase: its (kind, weight) pairs and token range [first, last)."""

    kinds: tuple[tuple[str, int], ...]
    first: int
    last: int


class _Entry(NamedTuple):
    """Phrases starting with one word: the one-word phrase, the rest keyed by their second word, gapped ones."""

    single: tuple[tuple[str, int], ...] | None
    by_second: dict[str, list[tuple[tuple, tuple, bool]]]    # (slots, (kind, weight) pairs, has a gap)
    gapped: list[tuple[tuple, tuple, bool]]


def canonical(token: str) -> str:
    """Spelling-folded form of a token (see the module docstring)."""
    folded = _DOUBLE.sub(r"\1", token)
    if not folded.isalpha() and not folded.isdigit() and sum(c.isalpha() for c in folded) >= 2:
        folded = _DOUBLE.sub(r"\1", folded.translate(_LEET))
    return folded


def _compile() -> dict[str, _Entry | tuple[tuple[str, int], ...]]:
    merged: dict[tuple, list[tuple[str, int]]] = {}
    for kind, weight, block in LEXICON:
        for phrase in block.split(";"):
            words = phrase.split()
            if words:
                slots = tuple(None if w == ".." else frozenset(canonical(a) for a in w.split("/")) for w in words)
                merged.setdefault(slots, []).append((kind, weight))
    index: dict[str, _Entry] = {}
    for slots, kinds in merged.items():
        phrase = (slots, tuple(kinds), None in slots)
        for word in slots[0]:
            entry = index.setdefault(word, _Entry(None, {}, []))
            if len(slots) == 1:
                index[word] = entry._replace(single=tuple(kinds))
            elif slots[1] is None:
                entry.gapped.append(phrase)
            else:
                for second in slots[1]:
                    entry.by_second.setdefault(second, []).append(phrase)
    # A word that starts no longer phrase maps straight to its (kind, weight) pairs: the fast path.
    return {word: entry.single if not entry.by_second and not entry.gapped else entry for word, entry in index.items()}


_INDEX = _compile()
_cache: dict[str, str] = {}


def word_set(words: tuple[str, ...]) -> frozenset[str]:
    """Canonical forms of lexicon words, to test against ``Cues.words``."""
    return frozenset(canonical(w) for w in words)


def occurrences(text: str, words: tuple[str, ...], tokens: Collection[str] | None = None) -> list[tuple[int, int]]:
    """Spans of ``words`` (as spelled) standing as whole words in normalised ``text``, in order.

    With ``tokens`` (the set of a post's canonical tokens) only the words among
    them are looked for; ``str.find`` is much cheaper than scanning with a regex.
    """
    if tokens is not None:
        spellings = _spellings(words)
        words = tuple(w for canon in tokens & spellings.keys() for w in spellings[canon])
    found = []
    for word in words:
        i = text.find(word)
        while i >= 0 and len(found) < _MAX_OCCURRENCES:
            end = i + len(word)
            if not (i and _WORD_CHAR.match(text, i - 1)) and not _WORD_CHAR.match(text, end):
                found.append((i, end))
            i = text.find(word, end)
    return sorted(found)


@lru_cache(maxsize=64)
def _spellings(words: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Canonical form -> the spellings in ``words`` that fold to it."""
    out: dict[str, tuple[str, ...]] = {}
    for w in words:
        out[canonical(w)] = out.get(canonical(w), ()) + (w,)
    return out


def _canon(token: str) -> str:
    if len(_cache) > _CACHE_LIMIT:
        _cache.clear()
    c = _cache[token] = canonical(token)
    return c


def _run_start(text: str, end: int, chars: frozenset[str], limit: int) -> int:
    """Start of the run of ``chars`` that ends at ``end`` (at most ``limit`` long)."""
    i, stop = end, max(0, end - limit)
    while i > stop and text[i - 1] in chars:
        i -= 1
    return i


def blank_skipped(text: str) -> str:
    """``text`` with e-mails, handles, URLs and domains replaced by spaces (same length)."""
    pieces, last = [], 0
    for m in islice(_SKIP.finditer(text), _MAX_SKIPPED):
        start, end = m.span()
        first = text[start]
        chars, limit = (_LOCAL_CHARS, 64) if first == "@" else (_DOMAIN_CHARS, 16 if first == ":" else 253)
        start = _run_start(text, start, chars, min(limit, start - last))   # never walk into the previous zone
        pieces.append(text[last:start])
        pieces.append(" " * (end - start))
        last = end
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def _join_runs(words: list[str]) -> tuple[list[str], list[tuple[int, int]] | None]:
    """Join runs of 3+ one-character tokens; also return token -> raw token ranges when anything was joined."""
    lengths = bytes(map(len, words))
    if lengths.find(b"\x01\x01\x01") < 0:
        return words, None
    runs = [m.span() for m in _SINGLE_RUN.finditer(lengths)]
    runs = [(s, e) for s, e in runs if sum(words[k].isalpha() for k in range(s, e)) >= 2]
    if not runs:
        return words, None
    joined, ranges, i = [], [], 0
    for s, e in runs:
        joined += words[i:s]
        ranges += [(k, k + 1) for k in range(i, s)]
        joined.append(canonical("".join(words[s:e])))
        ranges.append((s, e))
        i = e
    joined += words[i:]
    ranges += [(k, k + 1) for k in range(i, len(words))]
    return joined, ranges


def _match(slots: tuple, words: list[str], j: int, k: int) -> list[int] | None:
    """Indices of the words matched by ``slots[k:]`` starting at word ``j`` (gaps excluded), or None."""
    n = len(words)
    matched = []
    while k < len(slots):
        slot = slots[k]
        if slot is None:
            want = slots[k + 1]
            for g in range(_GAP + 1):
                if j + g < n and words[j + g] in want:
                    matched.append(j + g)
                    j += g + 1
                    break
            else:
                return None
            k += 2
        elif j < n and words[j] in slot:
            matched.append(j)
            j += 1
            k += 1
        else:
            return None
    return matched


class Cues(NamedTuple):
    weights: dict[str, int]                      # cue kind -> summed weight
    words: list[str]                             # the canonical tokens, for cheap "is this word here" checks
    hits: list[Hit]
    clean: str                                   # the text tokens were read from
    ranges: list[tuple[int, int]] | None         # token -> raw token range, when runs were joined

    def spans(self) -> list[tuple[str, int, int]]:
        """(kind, start, end) of every hit in the normalised text."""
        raw = [m.span() for m in _WORD.finditer(self.clean)]
        out = []
        for hit in self.hits:
            first, last = hit.first, hit.last - 1
            if self.ranges:
                first, last = self.ranges[first][0], self.ranges[last][1] - 1
            out.extend((kind, raw[first][0], raw[last][1]) for kind, _ in hit.kinds)
        return out


def find_cues(text: str, *, keep_hits: bool = False) -> Cues:
    """Every lexicon phrase in normalised ``text``, left to right, non-overlapping.

    Weights are always summed; the hits themselves are kept only with ``keep_hits``.
    """
    clean = blank_skipped(text)
    raw = _WORD.findall(clean)
    words = list(map(_cache.get, raw))
    if None in words:
        get = _cache.get
        words = [w if w is not None else get(t) or _canon(t) for w, t in zip(words, raw)]
    words, ranges = _join_runs(words)
    index = _INDEX
    n = len(words)
    hits: list[Hit] = []
    weights: dict[str, int] = {}
    resume = 0
    skipped: set[int] = set()             # words matched by phrases with a gap (the gap itself stays free)
    entries = list(map(index.get, words))
    get = weights.get
    for i in compress(range(n), entries):
        if i < resume or skipped and i in skipped:
            continue
        entry = entries[i]
        if type(entry) is tuple:                                   # one-word phrase only
            if keep_hits:
                hits.append(Hit(entry, i, i + 1))
            for kind, weight in entry:
                weights[kind] = get(kind, 0) + weight
            continue
        single, by_second, gapped = entry
        end, kinds, matched = (i + 1, single, None) if single else (0, (), None)
        if by_second and i + 1 < n:
            for slots, phrase_kinds, gap in by_second.get(words[i + 1], ()):
                if len(slots) == 2:
                    if i + 2 > end:
                        end, kinds, matched = i + 2, phrase_kinds, None
                    continue
                rest = _match(slots, words, i + 2, 2)
                if rest is not None and rest[-1] + 1 > end:
                    end, kinds, matched = rest[-1] + 1, phrase_kinds, [i, i + 1, *rest] if gap else None
        for slots, phrase_kinds, _ in gapped:
            rest = _match(slots, words, i + 1, 1)
            if rest is not None and rest[-1] + 1 > end:
                end, kinds, matched = rest[-1] + 1, phrase_kinds, [i, *rest]
        if end:
            if keep_hits:
                hits.append(Hit(kinds, i, end))
            for kind, weight in kinds:
                weights[kind] = get(kind, 0) + weight
            if matched is None:
                resume = end
            else:
                skipped.update(matched)
    return Cues(weights, words, hits, clean, ranges)
