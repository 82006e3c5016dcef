"""The sources file: what to crawl, validated before anything runs."""
from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nigran.config.errors import ConfigError, quote
from nigran.config.hosts import BadHost, canonical_host, in_scope, is_onion, on_origin, origin
from nigran.config.yamlsafe import read_yaml

DEFAULT_SOURCES = Path("config/sources.yaml")
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
TELEGRAM_CHANNEL = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")


class Fields(BaseModel):
    """CSS selectors, relative to one post, for the parts of a post."""

    model_config = ConfigDict(extra="forbid")
    title: str | None = None
    text: str | None = None
    author: str | None = None
    posted_at: str | None = None
    price: str | None = None


class Login(BaseModel):
    """A plain form login, for simple forums: before crawling, nigran fetches `url`, fills the form `form` picks
    (its text and password inputs) and posts it. The password comes from an environment variable or a file,
    never from the sources file, and is read only when the crawl logs in."""

    model_config = ConfigDict(extra="forbid")
    url: str
    form: str = "form"
    username: str
    password_env: str | None = None
    password_file: Path | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _http_url(v)

    @model_validator(mode="after")
    def _one_password(self) -> Login:
        if (self.password_env is None) == (self.password_file is None):
            raise ValueError("login: give exactly one of password_env and password_file")
        return self

    def password(self) -> str:
        """The password; ConfigError naming where it should be (never the value) when it is not there."""
        if self.password_env is not None:
            value = os.environ.get(self.password_env)
            if not value:
                raise ConfigError(f"login password: environment variable {self.password_env} is not set")
            return value
        try:
            value = self.password_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"login password: cannot read {self.password_file}: "
                              f"{getattr(exc, 'strerror', None) or type(exc).__name__}") from None
        if not value:
            raise ConfigError(f"login password: {self.password_file} is empty")
        return value


class LoginPage(BaseModel):
    """How to tell the site's login page: a regular expression its URL matches, and/or a CSS selector on it."""

    model_config = ConfigDict(extra="forbid")
    url: str | None = None
    selector: str | None = None

    @field_validator("url")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a regular expression ({exc})") from None
        return v


def _http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {quote(url)}")
    return url


# The forum engines whose markup spiders/segment.py knows (a test keeps the two lists equal).
ForumEngine = Literal["phpbb", "mybb", "xenforo", "vbulletin", "smf", "discourse", "nodebb"]


class Source(BaseModel):
    """One watched site or channel set."""

    model_config = ConfigDict(extra="forbid")
    name: str
    kind: Literal["market", "forum", "paste", "telegram", "generic"] = "generic"
    start_urls: list[str] = Field(default_factory=list)
    via: Literal["tor", "direct"] = "tor"
    render: Literal["http", "browser"] = "http"
    allowed_domains: list[str] = Field(default_factory=list)
    max_depth: int = Field(default=3, ge=0, le=50)
    max_pages: int = Field(default=500, ge=1)
    follow: list[str] = Field(default_factory=list)
    post: str | None = None
    engine: ForumEngine | None = None
    fields: Fields = Field(default_factory=Fields)
    channels: list[str] = Field(default_factory=list)
    base_url: str = "https://t.me"
    since: date | None = None
    schedule: str | None = None
    enabled: bool = True
    tags: list[str] = Field(default_factory=list)
    download_delay: float = Field(default=0.0, ge=0)
    concurrency: int | None = Field(default=None, ge=1, le=64)
    timeout: float | None = Field(default=None, gt=0, le=600)
    session: str | None = None
    login: Login | None = None
    logged_in: str | None = None
    login_page: LoginPage | None = None
    mirrors: list[str] = Field(default_factory=list)
    queue_wait: float = Field(default=30.0, ge=0, le=600)

    @field_validator("name", "session")
    @classmethod
    def _slug(cls, v: str | None) -> str | None:
        if v is not None and not SLUG.match(v):
            raise ValueError("must be a slug: lower-case letters, digits, '-' or '_'")
        return v

    @field_validator("start_urls", "base_url", "mirrors")
    @classmethod
    def _urls(cls, v):
        for url in [v] if isinstance(v, str) else v:
            _http_url(url)
        return v

    @field_validator("channels")
    @classmethod
    def _channels(cls, v: list[str]) -> list[str]:
        for name in v:
            if not TELEGRAM_CHANNEL.match(name):
                raise ValueError(f"not a Telegram channel name: {quote(name)}")
        return v

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(v, timezone="UTC")
            except ValueError as exc:
                raise ValueError(f"not a cron expression ({exc})") from None
        return v

    @model_validator(mode="after")
    def _complete(self) -> Source:
        if self.kind == "telegram":
            if not self.channels:
                raise ValueError("channels: a telegram source needs at least one channel")
        elif not self.start_urls:
            raise ValueError("start_urls: needs at least one URL")
        urls = self.start_urls or [self.base_url]
        try:
            hosts = {canonical_host(d) for d in self.allowed_domains} or \
                {canonical_host(urlsplit(u).hostname) for u in urls}
            self.allowed_domains = sorted(hosts | {canonical_host(urlsplit(u).hostname) for u in self.mirrors})
        except BadHost as exc:
            raise ValueError(f"allowed_domains: {exc}") from None
        outside = [u for u in urls if not in_scope(u, self.allowed_domains)]
        if outside:
            raise ValueError(f"start_urls: {quote(outside[0])} is outside allowed_domains")
        return self

    @property
    def origins(self) -> list[str]:
        """The site's mirrors in the order a crawl tries them: the first start URL's, then `mirrors`'."""
        found: list[str] = []
        for url in [*self.start_urls[:1], *self.mirrors]:
            if origin(url) not in found:
                found.append(origin(url))
        return found

    def canonical(self, url: str) -> str:
        """`url` as on the first mirror, whichever mirror served it: what post keys and the page budget use,
        so a post seen on two mirrors is one post. Other URLs are returned as they are."""
        if not self.mirrors:  # the common case, asked on every page: nothing to map
            return url
        mirrors = self.origins
        try:
            return on_origin(url, mirrors[0]) if len(mirrors) > 1 and origin(url) in mirrors[1:] else url
        except BadHost:
            return url

    @property
    def session_name(self) -> str:
        """The stored session this source crawls with and `nigran session login` records: `session`, else the
        source's own name."""
        return self.session or self.name

    @property
    def needs_tor(self) -> bool:
        """True when any request of this source goes through Tor."""
        return self.via == "tor" or any(is_onion(d) for d in self.allowed_domains)

    def uses_tor(self, host: str) -> bool:
        """Tor for `via: tor` sources and for every .onion host however it is spelt, whatever the config says."""
        return self.via == "tor" or is_onion(host)


class SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sources: list[Source]

    @model_validator(mode="after")
    def _unique(self) -> SourcesFile:
        seen: set[str] = set()
        for i, s in enumerate(self.sources):
            if s.name in seen:
                raise ValueError(f"sources.{i}.name: duplicate source name {quote(s.name)}")
            seen.add(s.name)
        return self


def _describe(err: ValidationError, raw: dict) -> str:
    """The first pydantic error as 'source NAME: field F: message'."""
    first = err.errors()[0]
    loc = list(first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    if loc[:1] == ["sources"] and len(loc) > 1 and isinstance(loc[1], int):
        index = loc[1]
        try:
            label = f"source {quote(raw['sources'][index].get('name', f'#{index + 1}'))}"
        except (AttributeError, IndexError, KeyError, TypeError):
            label = f"source #{index + 1}"
        field = ".".join(str(p) for p in loc[2:])
        if not field and ":" in msg:
            field, msg = (part.strip() for part in msg.split(":", 1))
        return f"{label}: field {field or '(entry)'}: {msg}"
    return f"field {'.'.join(map(str, loc)) or '(top)'}: {msg}"


def parse_sources(raw: object, origin: str) -> list[Source]:
    """Validate already-loaded YAML data; raise ConfigError naming origin, source and field."""
    if not isinstance(raw, dict) or "sources" not in raw:
        raise ConfigError(f"{origin}: field sources: missing (expected a mapping with a 'sources' list)")
    try:
        return SourcesFile.model_validate(raw).sources
    except ValidationError as err:
        raise ConfigError(f"{origin}: {_describe(err, raw)}") from None


def load_sources(path: Path | str = DEFAULT_SOURCES) -> list[Source]:
    """Read and validate a sources YAML file."""
    path = Path(path)
    return parse_sources(read_yaml(path, "config/sources.example.yaml"), str(path))


def select(sources: list[Source], names: list[str] | tuple[str, ...]) -> list[Source]:
    """The named sources (all enabled ones when no name is given)."""
    if not names:
        return [s for s in sources if s.enabled]
    by_name = {s.name: s for s in sources}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ConfigError(f"unknown source {quote(missing[0])} (known: {', '.join(sorted(by_name))})")
    return [by_name[n] for n in names]
