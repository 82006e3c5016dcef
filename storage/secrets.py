"""The per-installation key that turns personal identifiers into keyed hashes."""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from functools import lru_cache
from pathlib import Path

from storage.home import data_home


def key_path() -> Path:
    """$NIGRAN_KEY_FILE (share it between hosts that share one database), else in the data home."""
    return Path(os.environ.get("NIGRAN_KEY_FILE") or data_home() / "identifier.key")


@lru_cache(maxsize=4)
def _load_key(path: Path) -> bytes:
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


def identifier_hmac(kind: str, value: str, key: bytes | None = None) -> str:
    """HMAC-SHA256 of a normalised identifier under the installation key, or `key` (hex)."""
    return hmac.new(key or identifier_key(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def mask(kind: str, value: str) -> str:
    """A display form that keeps only what locates the record, never the person."""
    if kind == "cnic":
        return f"{value[:5]}-*******-{value[-1]}"
    if kind in ("pk_mobile", "whatsapp"):
        return value[:6] + "*" * (len(value) - 8) + value[-2:]
    if kind == "passport":
        return value[:2] + "*****" + value[-2:]
    return value
