"""Stored sessions for sources behind a login: their cookies (and a browser's local storage), encrypted at rest.

A session is a secret: whoever holds its cookies is logged in as the analyst's account. The store keeps
each one in `<name>.session` (0600, in a 0700 folder of the data home), sealed with AES-GCM under a key
derived from the installation key, the session's name bound in as associated data, so a file renamed to
another session's name does not open. Nothing here prints, logs or describes a cookie's value.
"""
from __future__ import annotations

import ipaddress
import json
import math
import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from nigran.config.errors import quote
from nigran.config.schema import SLUG
from nigran.storage.home import data_home, private_dir, private_file
from nigran.storage.privacy import identifier_key
from nigran.storage.utc import iso, parse_utc

MAGIC = b"nigran-session\x01"  # format version 1: MAGIC, a 12-byte nonce, AES-GCM ciphertext and tag
NONCE = 12
HKDF_INFO = b"nigran session store v1"
MAX_FILE = 16 * 1024 * 1024
SAME_SITE = {"strict": "Strict", "lax": "Lax", "none": "None"}
_BAD_NAME = re.compile(r"[;=\x00-\x1f\x7f]")
_BAD_VALUE = re.compile(r"[;\x00-\x1f\x7f]")
_BAD_DOMAIN = re.compile(r"[\s/;\\\x00-\x1f\x7f]")


class SessionError(Exception):
    """A session that cannot be stored, read or imported; the message is one line and never holds a cookie
    value."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


def check_name(name: object) -> str:
    """`name` when it is a session name (a slug, as source names are); SessionError otherwise, which also
    refuses every path trick (`..`, `/`, a leading dot, a trailing newline)."""
    if not isinstance(name, str) or not SLUG.fullmatch(name):
        raise SessionError(f"not a session name: {quote(name)} (lower-case letters, digits, '-' or '_', "
                           "starting with a letter or digit, at most 63)")
    return name


# --- cookies ----------------------------------------------------------------------------------------

def cookie(name: object, value: object, domain: object, *, path: object = "/", expires: object = -1,
           http_only: object = False, secure: object = False, same_site: object = "Lax") -> dict:
    """One cookie in Playwright's form, checked as Chromium checks what it keeps: SessionError naming the bad
    field (never its value).

    `expires` is seconds since the epoch, -1 (or 0, or none) for a session cookie. A leading dot on
    `domain` makes a domain cookie (sent to subdomains too), none a host-only cookie. SameSite=None
    without Secure, which Chromium refuses, is kept as Lax, as Chromium treats a cookie without SameSite."""
    if not isinstance(name, str) or _BAD_NAME.search(name):
        raise SessionError("'name' is not text, or holds ';', '=' or control characters")
    if not isinstance(value, str) or _BAD_VALUE.search(value):
        raise SessionError("'value' is not text, or holds ';' or control characters")
    if not name and not value:
        raise SessionError("'name' and 'value' are both empty")
    if not isinstance(domain, str) or not domain.strip().lstrip(".") or _BAD_DOMAIN.search(domain.strip()):
        raise SessionError("'domain' is not a host name")
    if path is None or path == "":
        path = "/"
    if not isinstance(path, str) or not path.startswith("/") or _BAD_VALUE.search(path):
        raise SessionError("'path' does not start with '/'")
    if expires is None:
        expires = -1
    if isinstance(expires, bool) or not isinstance(expires, (int, float)) or not math.isfinite(expires):
        raise SessionError("'expires' is not a number of seconds")
    if not isinstance(http_only, bool) or not isinstance(secure, bool):
        raise SessionError("'httpOnly' or 'secure' is not true or false")
    site = SAME_SITE.get(same_site.lower()) if isinstance(same_site, str) else None
    if site is None:
        raise SessionError("'sameSite' is none of Strict, Lax, None")
    return {"name": name, "value": value, "domain": domain.strip().lower(), "path": path,
            "expires": float(expires) if expires > 0 else -1, "httpOnly": http_only, "secure": secure,
            "sameSite": "Lax" if site == "None" and not secure else site}


def playwright_cookies(items: object) -> list[dict]:
    """The cookies of a storage state (Playwright's form), each checked; SessionError naming the first bad one
    by its place in the list."""
    if not isinstance(items, list):
        raise SessionError("'cookies' is not a list")
    checked = []
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise SessionError(f"cookie {n}: not an object")
        try:
            checked.append(cookie(item.get("name"), item.get("value"), item.get("domain"), path=item.get("path"),
                                  expires=item.get("expires"), http_only=item.get("httpOnly", False),
                                  secure=item.get("secure", False), same_site=item.get("sameSite") or "Lax"))
        except SessionError as exc:
            raise SessionError(f"cookie {n}: {exc}") from None
    return checked


def local_storage(items: object) -> list[dict]:
    """The `origins` of a storage state ({origin, localStorage: [{name, value}]}), checked."""
    if not isinstance(items, list):
        raise SessionError("'origins' is not a list")
    checked = []
    for n, item in enumerate(items, 1):
        entries = item.get("localStorage", []) if isinstance(item, dict) else None
        if not isinstance(item, dict) or not isinstance(item.get("origin"), str) or not isinstance(entries, list) \
                or not all(isinstance(e, dict) and isinstance(e.get("name"), str) and isinstance(e.get("value"), str)
                           for e in entries):
            raise SessionError(f"origin {n}: not {{origin, localStorage: [{{name, value}}]}}")
        checked.append({"origin": item["origin"],
                        "localStorage": [{"name": e["name"], "value": e["value"]} for e in entries]})
    return checked


def _domain_match(host: str, domain: str) -> bool:
    """RFC 6265 5.1.3 and 5.3: a host-only cookie goes to its host only, a domain cookie (leading dot) to that
    host and its subdomains, never from an IP address to another."""
    bare = domain.lstrip(".")
    if host == bare:
        return True
    if not domain.startswith(".") or not host.endswith("." + bare):
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False


def _path_match(request_path: str, cookie_path: str) -> bool:
    """RFC 6265 5.1.4."""
    return request_path == cookie_path or request_path.startswith(cookie_path) and (
        cookie_path.endswith("/") or request_path[len(cookie_path)] == "/")


def _now(now: datetime | None) -> float:
    return (now or datetime.now(timezone.utc)).timestamp()


# --- a session ----------------------------------------------------------------------------------------

@dataclass
class SessionState:
    """Cookies (Playwright's form) and a browser's local storage per origin, where they came from (`login`,
    `import:cookies.txt`, `import:cookie-json`, `import:storage-state`), and when."""

    cookies: list[dict]
    origins: list[dict] = field(default_factory=list)
    origin: str = "login"
    created_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def __post_init__(self) -> None:
        if self.created_at.tzinfo is None:
            raise ValueError("created_at must be timezone-aware (UTC)")
        self.created_at = self.created_at.astimezone(timezone.utc)

    @classmethod
    def from_storage_state(cls, data: object, origin: str) -> SessionState:
        """A Playwright storage state ({cookies, origins}), checked; SessionError when it is not one."""
        if not isinstance(data, dict) or "cookies" not in data:
            raise SessionError("not a storage state: expected an object with 'cookies' (and 'origins')")
        return cls(playwright_cookies(data["cookies"]), local_storage(data.get("origins", [])), origin)

    def storage_state(self) -> dict:
        """Playwright's storage state: what `browser.new_context(storage_state=...)` takes."""
        return {"cookies": [dict(c) for c in self.cookies], "origins": [dict(o) for o in self.origins]}

    def cookies_for(self, url: str, now: datetime | None = None) -> list[dict]:
        """The cookies a request to `url` carries (RFC 6265: domain and path match, unexpired; a secure cookie
        only over https, or over http to an onion service, as Tor Browser sends it), longest path first."""
        parts = urlsplit(url)
        host, scheme, path = (parts.hostname or "").rstrip("."), parts.scheme.lower(), parts.path or "/"
        secure_ok = scheme == "https" or scheme == "http" and host.endswith(".onion")
        moment = _now(now)
        chosen = [c for c in self.cookies if _domain_match(host, c["domain"]) and _path_match(path, c["path"])
                  and (secure_ok or not c["secure"]) and (c["expires"] == -1 or c["expires"] > moment)]
        return sorted(chosen, key=lambda c: -len(c["path"]))

    @property
    def expires_at(self) -> datetime | None:
        """When the first of its lasting cookies expires (None when all are session cookies)."""
        lasting = [c["expires"] for c in self.cookies if c["expires"] != -1]
        return datetime.fromtimestamp(min(lasting), timezone.utc) if lasting else None

    def to_json(self) -> str:
        return json.dumps({"version": 1, "origin": self.origin, "created_at": iso(self.created_at),
                           "cookies": self.cookies, "origins": self.origins}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> SessionState:
        """What `to_json` wrote; SessionError when it is not that."""
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError):
            raise SessionError("not a stored session (unreadable JSON)") from None
        if not isinstance(data, dict) or data.get("version") != 1 or not isinstance(data.get("origin"), str):
            raise SessionError("not a stored session (unknown format)")
        try:
            created = parse_utc(str(data.get("created_at")))
        except ValueError:
            raise SessionError("not a stored session (unreadable created_at)") from None
        state = cls.from_storage_state(data, data["origin"])
        state.created_at = created
        return state


@dataclass(frozen=True)
class SessionInfo:
    """What may be shown of a session: never a cookie's value. `error` says why a stored one is unreadable."""

    name: str
    origin: str | None
    created_at: datetime | None
    cookies: int
    domains: tuple[str, ...]
    expires_at: datetime | None
    error: str | None = None

    @classmethod
    def of(cls, name: str, state: SessionState) -> SessionInfo:
        domains = tuple(sorted({c["domain"].lstrip(".") for c in state.cookies}))
        return cls(name, state.origin, state.created_at, len(state.cookies), domains, state.expires_at)

    @classmethod
    def unreadable(cls, name: str, error: str) -> SessionInfo:
        return cls(name, None, None, 0, (), None, error)

    def expired(self, now: datetime | None = None) -> bool:
        """True once its first lasting cookie has expired."""
        return self.expires_at is not None and self.expires_at.timestamp() <= _now(now)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "origin": self.origin, "created_at": iso(self.created_at),
                "cookies": self.cookies, "domains": list(self.domains), "expires_at": iso(self.expires_at),
                "expired": self.expired(), "error": self.error}


# --- the store ----------------------------------------------------------------------------------------

class SessionStore:
    """Sessions as `<name>.session` files under `root` (default: the data home's `sessions/`), sealed under
    a key derived from `key` (default: the installation key)."""

    def __init__(self, root: Path | None = None, key: bytes | None = None):
        self.root = Path(root) if root is not None else data_home() / "sessions"
        self._key = key

    @cached_property
    def _aead(self) -> AESGCM:
        secret = self._key if self._key is not None else identifier_key()
        return AESGCM(HKDF(hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(secret))

    def path(self, name: str) -> Path:
        return self.root / f"{check_name(name)}.session"

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def save(self, name: str, state: SessionState) -> Path:
        """Seal `state` as session `name` (replacing an older one at once: no half-written file is ever seen)."""
        path = self.path(name)
        nonce = secrets.token_bytes(NONCE)
        blob = MAGIC + nonce + self._aead.encrypt(nonce, state.to_json().encode("utf-8"), name.encode())
        private_dir(self.root)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            with os.fdopen(private_file(temporary, new=True), "wb") as fh:
                fh.write(blob)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
        return path

    def load(self, name: str) -> SessionState:
        """Session `name`; SessionError when there is none, or it cannot be opened."""
        path = self.path(name)
        try:
            with path.open("rb") as fh:
                blob = fh.read(MAX_FILE + 1)
        except FileNotFoundError:
            raise SessionError(f"no session {name!r} (run: nigran session login SOURCE, "
                               f"or nigran session import {name} FILE)") from None
        except OSError as exc:
            raise SessionError(f"session {name!r}: cannot read {path}: {exc.strerror or type(exc).__name__}") from None
        if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + NONCE + 16 or len(blob) > MAX_FILE:
            raise SessionError(f"session {name!r}: {path} is not a nigran session file (damaged or truncated)")
        nonce, sealed = blob[len(MAGIC):len(MAGIC) + NONCE], blob[len(MAGIC) + NONCE:]
        try:
            plain = self._aead.decrypt(nonce, sealed, name.encode())
        except InvalidTag:
            raise SessionError(f"session {name!r}: {path} does not open: damaged, renamed from another session, "
                               "or sealed under another installation key") from None
        try:
            return SessionState.from_json(plain)
        except SessionError as exc:
            raise SessionError(f"session {name!r}: {exc}") from None

    def list(self) -> list[SessionInfo]:
        """Every stored session by name; one that cannot be read is listed with its `error`, not raised."""
        if not self.root.is_dir():
            return []
        infos = []
        for path in sorted(self.root.glob("*.session")):
            name = path.name.removesuffix(".session")
            try:
                infos.append(SessionInfo.of(name, self.load(name)))
            except SessionError as exc:
                infos.append(SessionInfo.unreadable(name, str(exc)))
        return infos

    def remove(self, name: str) -> bool:
        """Delete session `name`; False when there was none."""
        try:
            self.path(name).unlink()
        except FileNotFoundError:
            return False
        return True
