"""nigran's one personal-data policy: where the identifier key lives, the keyed hash and its namespace,
the mask of a value and of a span of text, and per-case pseudonyms.

Finding identifiers is the extraction engine's job (pipelines/); functions here that work on text take
its finder as an argument, so storage never imports the layers above it.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

from nigran.config.registry import env
from nigran.storage.home import data_home

log = logging.getLogger("nigran.privacy")

# Digits that stay readable: a CNIC's first five (the locality), a mobile's operator prefix (all but the
# seven-digit subscriber number), no digit of a passport. Enough to sort a record, never to find the person.
CNIC_HEAD = 5
SUBSCRIBER_DIGITS = 7
# Kinds that are phone numbers: hashed in one namespace, whatever label the extraction gave them.
PHONE_KINDS = frozenset({"pk_mobile", "whatsapp"})


class Span(Protocol):
    type: str
    value: str
    start: int
    end: int


Finder = Callable[[str], Iterable[Span]]


# --- the installation key -------------------------------------------------------------------------

def config_home() -> Path:
    """$XDG_CONFIG_HOME/nigran, else ~/.config/nigran: apart from the data (and the database) it protects."""
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "nigran"


def key_path() -> Path:
    """$NIGRAN_KEY_FILE (share it between hosts that share one database), else the config home's
    identifier.key; a key left in the data home by an earlier version keeps working, with a warning."""
    if env("NIGRAN_KEY_FILE"):
        return Path(env("NIGRAN_KEY_FILE"))
    path = config_home() / "identifier.key"
    legacy = data_home() / "identifier.key"
    if not path.exists() and legacy.exists():
        _warn_legacy(legacy, path)
        return legacy
    return path


@lru_cache(maxsize=1)
def _warn_legacy(legacy: Path, path: Path) -> None:
    """Once per process: the key found beside the database should move."""
    log.warning("identifier key %s sits beside the database: move it to %s (or set NIGRAN_KEY_FILE)", legacy, path)


@lru_cache(maxsize=4)
def _load_key(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = bytes.fromhex(path.read_text().strip())
    else:
        key = secrets.token_bytes(32)
        with os.fdopen(fd, "w") as fh:
            fh.write(key.hex() + "\n")
    if len(key) != 32:
        raise ValueError(f"{path}: identifier key must be 32 bytes of hex")
    return key


def identifier_key() -> bytes:
    """The installation key (created on first use); hold on to it when hashing many identifiers."""
    return _load_key(key_path())


# --- keyed hashes ---------------------------------------------------------------------------------

def hash_kind(kind: str) -> str:
    """The namespace an identifier is hashed under: one for every phone number, however it was labelled."""
    return "pk_mobile" if kind in PHONE_KINDS else kind


def identifier_hmac(kind: str, value: str, key: bytes | None = None) -> str:
    """HMAC-SHA256 of a normalised identifier under the installation key, or `key`."""
    return hmac.new(key or identifier_key(), f"{hash_kind(kind)}:{value}".encode(), hashlib.sha256).hexdigest()


# --- masks ----------------------------------------------------------------------------------------

def mask_span(kind: str, raw: str) -> str:
    """`raw` as written, with every digit past the readable head replaced by '*' (separators kept)."""
    digits = sum(c.isdigit() for c in raw)
    head = CNIC_HEAD if kind == "cnic" else max(digits - SUBSCRIBER_DIGITS, 0) if kind in PHONE_KINDS else 0
    out, seen = [], 0
    for c in raw:
        if c.isdigit():
            seen += 1
            out.append(c if seen <= head else "*")
        else:
            out.append(c)
    return "".join(out)


def mask(kind: str, value: str) -> str:
    """The display form of a normalised identifier: `35202-*******-*`, `0301-*******`, `AB*******`."""
    if kind in PHONE_KINDS and value.startswith("+92") and len(value) == 13:
        value = f"0{value[3:6]}-{value[6:]}"
    return mask_span(kind, value)


def redact(text: str | None, find: Finder) -> str | None:
    """`text` with each identifier `find` sees in it masked where it stands."""
    if not text:
        return text
    parts, last = [], 0
    for ident in find(text):
        if ident.start < last:
            continue
        parts += [text[last:ident.start], mask_span(ident.type, text[ident.start:ident.end])]
        last = ident.end
    return "".join(parts) + text[last:] if parts else text


def redact_all(value: Any, find: Finder) -> Any:
    """`value` with every string in it redacted, through dicts and lists (keys too)."""
    if isinstance(value, str):
        return redact(value, find)
    if isinstance(value, dict):
        return {redact_all(k, find): redact_all(v, find) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_all(v, find) for v in value]
    return value


# --- pseudonyms -----------------------------------------------------------------------------------

class Pseudonyms:
    """Keyed-hash pseudonyms for identifiers, consistent within one case key.

    Derived from the stored keyed hash (never from a plain hash, which small ID spaces would let
    anyone reverse), under a key that is itself derived per case from the installation key.
    """

    def __init__(self, case: str):
        self.key = bytes.fromhex(identifier_hmac("report-case", case))

    def of(self, kind: str, installation_hmac: str) -> str:
        tag = hmac.new(self.key, f"{kind}:{installation_hmac}".encode(), hashlib.sha256).hexdigest()[:10]
        return f"{kind.upper()}-{tag}"

    def redact(self, text: str, find: Finder) -> str:
        """`text` with every identifier `find` sees in it replaced by its pseudonym."""
        for found in sorted(find(text), key=lambda f: f.start, reverse=True):
            text = text[:found.start] + f"[{self.of(found.type, identifier_hmac(found.type, found.value))}]" \
                + text[found.end:]
        return text


SECRET_HEADERS = frozenset({"cookie", "set-cookie", "authorization", "proxy-authorization"})


def without_secrets(headers: list[list[str]]) -> list[list[str]]:
    """[name, value] header pairs with the values of session secrets (cookies, credentials) replaced by
    "[redacted]": what the database, reports and exports keep. Only the WARC records keep them, as evidence."""
    return [[name, "[redacted]" if name.lower() in SECRET_HEADERS else value] for name, value in headers]
