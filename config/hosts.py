"""Host names and URLs as nigran's routing and scope decisions see them: one canonical form for each host.

`MARKET.onion.`, `market.onion` and a fullwidth `ｍａｒｋｅｔ.onion` all name one host; a decision made on
the raw spelling lets a hostile page choose its route (a trailing dot once sent an onion name to the
local resolver). Every routing and scope decision goes through `canonical_host`.
"""
from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

HTTP_SCHEMES = frozenset({"http", "https"})  # the only schemes a request of nigran's may have
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


class BadHost(ValueError):
    """A host name no request may be sent to."""


def canonical_host(host: str) -> str:
    """`host` lower-cased, IDNA-encoded, without a trailing dot; IP literals in their standard form.

    Raises BadHost for an empty name or one with characters no DNS or onion name has (`%`, spaces...).
    """
    name = host.strip().rstrip(".") if host else ""
    if not name:
        raise BadHost(f"empty host name {host!r}")
    try:
        return str(ipaddress.ip_address(name.strip("[]")))
    except ValueError:
        pass
    try:
        name = name.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise BadHost(f"not a host name: {host!r}") from None
    if not all(_LABEL.match(label) for label in name.split(".")):
        raise BadHost(f"not a host name: {host!r}")
    return name


def canonical_url(url: str) -> str:
    """`url` with its host in canonical form (tor, for one, refuses `name.onion.`). Raises BadHost."""
    parts = urlsplit(url)
    host = canonical_host(parts.hostname or "")
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    if "@" in parts.netloc:
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" + netloc
    return urlunsplit(parts._replace(netloc=netloc))


def is_onion(host: str) -> bool:
    """True for an onion service's name (canonical or not); a name that is not canonical-able is not one."""
    try:
        return canonical_host(host).endswith(".onion")
    except BadHost:
        return False


def out_of_scope(url: str, domains: list[str]) -> str | None:
    """Why `url` may not be fetched for a source limited to `domains` (canonical, as config.schema makes them):
    its scheme is not http(s), its host is not a host name, or it is neither one of `domains` nor below one
    (ports ignored, as Scrapy's offsite filter does). None when it may be fetched."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in HTTP_SCHEMES:
        return f"scheme {parts.scheme or '(none)'!r} is not http(s)"
    try:
        host = canonical_host(parts.hostname or "")
    except BadHost as exc:
        return str(exc)
    if any(host == d or host.endswith("." + d) for d in domains):
        return None
    return f"host {host} is outside the source's domains"


def in_scope(url: str, domains: list[str]) -> bool:
    """True when `url` may be fetched for a source limited to `domains` (see out_of_scope)."""
    return out_of_scope(url, domains) is None


def origin(url: str) -> str:
    """`scheme://host[:port]` of `url`, host canonical, default port dropped: what a mirror is. Raises BadHost."""
    parts = urlsplit(canonical_url(url))
    port = parts.port
    netloc = parts.netloc.rsplit("@", 1)[-1]
    if port is not None and port == {"http": 80, "https": 443}.get(parts.scheme.lower()):
        netloc = netloc.rsplit(":", 1)[0]
    return f"{parts.scheme.lower()}://{netloc}"


def on_origin(url: str, new_origin: str) -> str:
    """`url` with its scheme and host:port replaced by `new_origin`'s (path, query and fragment kept)."""
    parts, target = urlsplit(url), urlsplit(new_origin)
    return urlunsplit(parts._replace(scheme=target.scheme, netloc=target.netloc))
