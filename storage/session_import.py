"""A session exported from the analyst's own browser, read whatever its file is called: a Netscape
`cookies.txt`, the JSON list of cookie-export extensions (EditThisCookie, Cookie-Editor), or a Playwright
storage state. Errors name the file and what is wrong with it, never a cookie's value."""
from __future__ import annotations

import json
from pathlib import Path

from nigran.storage.sessions import SessionError, SessionState, cookie

MAX_IMPORT = 4 * 1024 * 1024
# Extensions' `sameSite` (chrome.cookies' vocabulary) and Playwright's, to Playwright's.
EXTENSION_SAME_SITE = {"no_restriction": "None", "none": "None", "lax": "Lax", "strict": "Strict", "unspecified": "Lax"}
FLAGS = {"TRUE": True, "FALSE": False}


def read_session_file(path: Path | str) -> SessionState:
    """The session in an exported cookie file; SessionError naming the file when it is not one."""
    path = Path(path)
    text = _text(path)
    try:
        if text.lstrip()[:1] in ("[", "{"):
            return _json_export(text)
        return SessionState(_cookies_txt(text), origin="import:cookies.txt")
    except SessionError as exc:
        raise SessionError(f"{path}: {exc}") from None


def _text(path: Path) -> str:
    """The file as text: at most MAX_IMPORT bytes of UTF-8 (UTF-16 with a byte-order mark too)."""
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_IMPORT + 1)
    except OSError as exc:
        raise SessionError(f"{path}: cannot read: {exc.strerror or type(exc).__name__}") from None
    if len(data) > MAX_IMPORT:
        raise SessionError(f"{path}: too big for a cookie export (over {MAX_IMPORT // (1024 * 1024)} MB)")
    try:
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            text = data.decode("utf-16")
        elif b"\x00" in data:
            raise SessionError(f"{path}: binary data, not a cookie export")
        else:
            text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SessionError(f"{path}: not UTF-8 text, not a cookie export") from None
    if not text.strip():
        raise SessionError(f"{path}: empty, no cookie in it")
    return text


def _json_export(text: str) -> SessionState:
    try:
        data = json.loads(text)
    except RecursionError:
        raise SessionError("not valid JSON (nested too deep)") from None
    except ValueError as exc:
        raise SessionError(f"not valid JSON ({getattr(exc, 'msg', 'unreadable')} at line "
                           f"{getattr(exc, 'lineno', '?')})") from None
    if isinstance(data, list):
        return SessionState(_extension_cookies(data), origin="import:cookie-json")
    if isinstance(data, dict) and "cookies" in data:
        state = SessionState.from_storage_state(data, "import:storage-state")
        if not state.cookies and not any(o["localStorage"] for o in state.origins):
            raise SessionError("a storage state with no cookie and no local storage")
        return state
    raise SessionError("JSON of the wrong shape: expected a list of cookies (a browser extension's export) "
                       "or a Playwright storage state ({cookies, origins})")


def _extension_cookies(items: list) -> list[dict]:
    """EditThisCookie / Cookie-Editor cookies: `expirationDate` (absent for session cookies), `hostOnly`,
    chrome.cookies' `sameSite` values."""
    if not items:
        raise SessionError("an empty list, no cookie in it")
    cookies = []
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise SessionError(f"item {n}: not a cookie object")
        domain = item.get("domain")
        if isinstance(domain, str) and isinstance(item.get("hostOnly"), bool):
            domain = domain.lstrip(".") if item["hostOnly"] else "." + domain.lstrip(".")
        same_site = item.get("sameSite")
        expires = -1 if item.get("session") is True else item.get("expirationDate", item.get("expires"))
        try:
            cookies.append(cookie(item.get("name"), item.get("value"), domain, path=item.get("path"),
                                  expires=expires, http_only=item.get("httpOnly", False),
                                  secure=item.get("secure", False),
                                  same_site=EXTENSION_SAME_SITE.get(same_site.lower(), same_site)
                                  if isinstance(same_site, str) else "Lax"))
        except SessionError as exc:
            raise SessionError(f"item {n}: {exc}") from None
    return cookies


def _cookies_txt(text: str) -> list[dict]:
    """Netscape cookies.txt: domain, include-subdomains, path, secure, expiry (0: a session cookie), name,
    value, tab-separated; `#HttpOnly_` before the domain marks an HttpOnly cookie, other `#` lines are
    comments."""
    cookies = []
    for n, line in enumerate(text.splitlines(), 1):
        http_only = line.startswith("#HttpOnly_")
        line = line.removeprefix("#HttpOnly_")
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) == 6:  # an empty value, its tab trimmed by an editor
            fields.append("")
        if len(fields) != 7:
            raise SessionError(f"line {n}: not a cookies.txt line (expected 7 tab-separated fields, "
                               f"found {len(fields)})")
        domain, subdomains, path, secure, expiry, name, value = fields
        if subdomains.upper() not in FLAGS or secure.upper() not in FLAGS:
            raise SessionError(f"line {n}: the include-subdomains and secure fields must be TRUE or FALSE")
        try:
            expires = float(expiry)
        except ValueError:
            raise SessionError(f"line {n}: the expiry is not a number of seconds") from None
        if FLAGS[subdomains.upper()]:
            domain = "." + domain.lstrip(".")
        try:
            cookies.append(cookie(name, value, domain, path=path, expires=expires, http_only=http_only,
                                  secure=FLAGS[secure.upper()]))
        except SessionError as exc:
            raise SessionError(f"line {n}: {exc}") from None
    if not cookies:
        raise SessionError("no cookie in it (only comments)")
    return cookies
