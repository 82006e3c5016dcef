"""Ways to reach the poster: Telegram, WhatsApp, e-mail, v3 onion, Session.

Reads normalised text.  A phone number is a WhatsApp contact only when a
WhatsApp word sits next to it on the same line (or it is a wa.me link) and no
other number or payment-wallet word stands between them.  E-mails and handles
inside delimited data rows belong to the leaked people, not the poster.  With
``strict`` (warnings and news, which name others) a handle or number counts
only when a contact word introduces it, so a named scammer is not reported as
a contact.
"""
from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from itertools import islice
from typing import NamedTuple

import phonenumbers

from .identifiers import Ident, pk_mobile
from .lexicon import WHATSAPP_CUE, word_regex


class Contact(NamedTuple):
    type: str
    value: str
    start: int
    end: int


# One scan finds handles, e-mails, t.me links, "Telegram: name", onions,
# Session ids and wa.me links.  Every branch starts with a literal, so Python's
# re can skip ahead quickly; what precedes a match is checked by lookbehinds
# placed after its first character.
_HANDLE = r"[a-z][a-z0-9_]{3,31}"
_SCAN = re.compile(
    r"@(?<![a-z0-9_.@]@)(?P<at>" + _HANDLE + r")(?![a-z0-9_@]|\.[a-z]{2})"          # @handle
    r"|@(?P<domain>[a-z0-9\-]{1,63}(?:\.[a-z0-9\-]{1,63}){0,4}\.[a-z]{2,12})(?![a-z0-9\-])"  # e-mail, from its @
    r"|t(?<![a-z0-9]t)(?:elegram)?\.(?:me|dog)/(?:s/)?(?!joinchat/|\+)(?P<tme>" + _HANDLE + r")(?![a-z0-9_])"
    r"|t(?<![a-z]t)(?:elegram|g)(?:[ \t]{0,3}(?:id|username|user|handle|account))?[ \t]{0,3}[:=\-][ \t]{0,3}"
    r"(?P<label>" + _HANDLE + r")(?![a-z0-9_@.])"
    r"|ٹیلی ?گرام[ \t]{0,3}[:=\-][ \t]{0,3}(?P<urdu_label>" + _HANDLE + r")(?![a-z0-9_@.])"
    r"|\.o(?P<onion>nion)(?<=(?<![a-z2-7])[a-z2-7]{56}\.onion)(?![a-z0-9])"
    r"|0(?<![0-9a-f]0)5(?P<session>[0-9a-f]{64})(?![0-9a-f])"
    r"|w(?:a\.me/|hatsapp\.com/send/?\?phone=)\+?(?P<wa_link>[0-9]{8,15})"
)
_EMAIL_LOCAL = re.compile(r"[a-z0-9][a-z0-9._%+\-]{0,63}$")
_WA_CUE = re.compile(WHATSAPP_CUE)
_INTL = re.compile(
    r"[+0](?<![0-9a-z+][+0])(?:(?<=\+)|(?<=0)0)[ \t]?[1-9](?:[ \t\-.()]{0,2}[0-9]){7,14}(?![0-9])")
_BETWEEN_BLOCK = re.compile(
    r"[0-9]{5}|easy ?paisa|jazz ?cash|account|wallet|bank|raast|sadapay|nayapay|call only|sirf call")
_CTA = re.compile(word_regex(("contact", "rabta", "raabta", "رابطہ", "dm", "inbox", "reach", "message", "msg", "whats",
                              "telegram", "email", "mail", "session", "ٹیلیگرام", "واٹس"), end=False))
_ROW_DELIMS = (("|", 2), (";", 2), (",", 3), ("\t", 2))
_BEFORE, _AFTER = 40, 25
_LINE_REACH = 300
_MAX_CANDIDATES = 2000      # contact candidates examined per post; a flood beyond that is not read
_NEGATION_BEFORE = re.compile(r"(?<![a-z])(?:no|not|without|na|nahi|nhi|mat)[ \t]*$")
_NEGATION_AFTER = re.compile(r"[ \t]*(?:nahi|nhi|na|not|mat)(?![a-z])")   # not "no": "WhatsApp no: 0300..."
_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._%+-")


@lru_cache(maxsize=4096)
def onion_ok(name: str) -> bool:
    """True for a v3 onion name (56 base32 chars) with a valid checksum."""
    raw = base64.b32decode(name.upper())
    pubkey, checksum, version = raw[:32], raw[32:34], raw[34:]
    return version == b"\x03" and hashlib.sha3_256(b".onion checksum" + pubkey + version).digest()[:2] == checksum


def _line_bounds(text: str, pos: int, reach: int = _LINE_REACH) -> tuple[int, int]:
    """The line around ``pos``, cut to ``reach`` characters either side (keeps huge one-line posts linear)."""
    lo = max(0, pos - reach)
    start = text.rfind("\n", lo, pos) + 1 or lo
    end = text.find("\n", pos, pos + reach)
    return start, min(len(text), pos + reach) if end < 0 else end


def _in_row(text: str, pos: int) -> bool:
    start, end = _line_bounds(text, pos)
    line = text[start:end]
    return any(line.count(d) >= n for d, n in _ROW_DELIMS)


def _introduced(text: str, pos: int) -> bool:
    """A contact word earlier on the line."""
    start, _ = _line_bounds(text, pos)
    return bool(_CTA.search(text, max(start, pos - _BEFORE), pos))


def _handle_like(text: str, handle: str, end: int) -> bool:
    """A bare name after "Telegram:" is a handle if it looks like one or ends the line."""
    return "_" in handle or any(c.isdigit() for c in handle) or not text[end:end + 2].strip(" \t")[:1].isalnum()


def _whatsapp_near(text: str, start: int, end: int) -> bool:
    """A (not negated) WhatsApp word just before the number, or just after it, on its line."""
    lo, hi = _line_bounds(text, start)
    for cue in _WA_CUE.finditer(text, max(lo, start - _BEFORE), start):
        if not _BETWEEN_BLOCK.search(text[cue.end():start]) and not _negated(text, cue):
            return True
    cue = _WA_CUE.search(text, end, min(hi, end + _AFTER))
    return bool(cue) and not _BETWEEN_BLOCK.search(text[end:cue.start()]) and not _negated(text, cue)


def _negated(text: str, cue: re.Match) -> bool:
    """ "no WhatsApp", "WhatsApp nahi" """
    return bool(_NEGATION_BEFORE.search(text, max(0, cue.start() - 10), cue.start())
                or _NEGATION_AFTER.match(text, cue.end()))


@lru_cache(maxsize=4096)
def _e164(digits: str) -> str | None:
    """E.164 for an international number if valid (PK: mobiles only)."""
    try:
        num = phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(num):
        return None
    if num.country_code == 92:
        return pk_mobile(str(num.national_number))
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def _whatsapp(text: str, mobiles: list[Ident]) -> list[Contact]:
    """Numbers the text says to reach on WhatsApp (PK mobiles and valid foreign numbers)."""
    if not _WA_CUE.search(text):
        return []
    out = [Contact("whatsapp", m.value, m.start, m.end) for m in mobiles[:_MAX_CANDIDATES]
           if _whatsapp_near(text, m.start, m.end)]
    for m in islice(_INTL.finditer(text), _MAX_CANDIDATES):
        digits = re.sub(r"[^0-9]", "", m.group())
        digits = digits[2:] if m.group().startswith("00") else digits
        if not digits.startswith("92") and _whatsapp_near(text, m.start(), m.end()):
            value = _e164(digits)
            if value:
                out.append(Contact("whatsapp", value, m.start(), m.end()))
    return out


def _scan(text: str) -> list[Contact]:
    found = []
    for m in islice(_SCAN.finditer(text), _MAX_CANDIDATES):
        kind, start, end = m.lastgroup, m.start(), m.end()
        if kind == "domain":
            local = _EMAIL_LOCAL.search(text, max(0, start - 64), start)
            if local and (local.start() == 0 or text[local.start() - 1] not in _LOCAL_CHARS):
                found.append(Contact("email", text[local.start():end], local.start(), end))
        elif kind == "onion":
            if onion_ok(text[start - 56:start]):
                found.append(Contact("onion", text[start - 56:end], start - 56, end))
        elif kind == "session":
            found.append(Contact("session", m.group(), start, end))
        elif kind == "wa_link":
            value = _e164(m.group(kind))
            if value:
                found.append(Contact("whatsapp", value, start, end))
        else:
            handle = m.group(kind)
            if "__" not in handle and (kind in ("at", "tme") or _handle_like(text, handle, end)):
                found.append(Contact("telegram", "@" + handle, start, end))
    return found


def find_contacts(text: str, mobiles: list[Ident], *, strict: bool = False) -> list[Contact]:
    """Poster contacts in normalised ``text``, first sighting of each, in text order."""
    seen: set[tuple[str, str]] = set()
    out = []
    for c in sorted(_scan(text) + _whatsapp(text, mobiles), key=lambda c: c.start):
        key = (c.type, c.value)
        if key in seen or (c.type in ("email", "telegram") and _in_row(text, c.start)
                           and not _introduced(text, c.start)):
            continue
        if strict and c.type in ("telegram", "whatsapp") and not _introduced(text, c.start):
            continue
        seen.add(key)
        out.append(c)
    return out
