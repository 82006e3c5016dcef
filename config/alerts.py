"""The alerts file: rules that turn new offers into alerts, and the channels that deliver them."""
from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nigran.config.errors import ConfigError, quote
from nigran.config.schema import SLUG
from nigran.config.yamlsafe import read_yaml

DEFAULT_ALERTS = Path("config/alerts.yaml")
CATEGORY = Literal["cnic", "sim", "call_logs", "travel"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _slug(value: str) -> str:
    if not SLUG.match(value):
        raise ValueError("must be a slug: lower-case letters, digits, '-' or '_'")
    return value


def _from_env(inline: str | None, env: str | None, field: str) -> str | None:
    """A secret given inline or by the name of an environment variable, never both."""
    if inline is not None and env is not None:
        raise ValueError(f"{field}: give {field} or {field}_env, not both")
    if env is None:
        return inline
    value = os.environ.get(env)
    if not value:
        raise ValueError(f"{field}_env: environment variable {env} is not set")
    return value


class Webhook(_Strict):
    """JSON POST of each alert, signed with HMAC-SHA256 under `secret` (nigran's headers and Standard Webhooks')."""

    type: Literal["webhook"]
    name: str
    url: str
    secret: str | None = None
    secret_env: str | None = None
    timeout: float = Field(default=10.0, gt=0)

    _name = field_validator("name")(_slug)

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {quote(v)}")
        return v

    @model_validator(mode="after")
    def _secret(self) -> Webhook:
        self.secret = _from_env(self.secret, self.secret_env, "secret")
        if not self.secret:
            raise ValueError("secret: a webhook needs a signing secret (secret or secret_env)")
        if self.secret.startswith("whsec_"):
            try:
                base64.b64decode(self.secret.removeprefix("whsec_"), validate=True)
            except binascii.Error:
                raise ValueError("secret: a whsec_ secret must be base64 after the prefix") from None
        return self

    @property
    def key(self) -> bytes:
        """The HMAC key: a `whsec_` secret's base64-decoded bytes, any other secret's UTF-8 bytes."""
        if self.secret.startswith("whsec_"):
            return base64.b64decode(self.secret.removeprefix("whsec_"))
        return self.secret.encode()


class Email(_Strict):
    """One mail per alert over SMTP: STARTTLS (required), implicit TLS, or, only when allowed, in the clear."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    type: Literal["email"]
    name: str
    host: str
    tls: Literal["starttls", "implicit", "none"] = "starttls"
    allow_plaintext: bool = False
    port: int | None = Field(default=None, ge=1, le=65535)
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    username: str | None = None
    password: str | None = None
    password_env: str | None = None
    ca_file: Path | None = None
    timeout: float = Field(default=30.0, gt=0)

    _name = field_validator("name")(_slug)

    @model_validator(mode="after")
    def _password(self) -> Email:
        self.password = _from_env(self.password, self.password_env, "password")
        if self.username and not self.password:
            raise ValueError("password: username given without password or password_env")
        if self.tls == "none":
            if not self.allow_plaintext:
                raise ValueError("tls: none sends mail in the clear; add allow_plaintext: true to allow it")
            if self.username:
                raise ValueError("username: a login is never sent in the clear (tls: none)")
        elif self.allow_plaintext:
            raise ValueError(f"allow_plaintext: only goes with tls: none, not {self.tls}")
        if self.port is None:
            self.port = {"starttls": 587, "implicit": 465, "none": 25}[self.tls]
        return self


Channel = Annotated[Webhook | Email, Field(discriminator="type")]


class Rule(_Strict):
    """New offers to alert on; every given condition must hold (each list: any of its values)."""

    name: str
    kinds: list[Literal["offer", "request"]] = Field(default_factory=lambda: ["offer"], min_length=1)
    categories: list[CATEGORY] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    min_volume: int | None = Field(default=None, ge=1)
    channels: list[str] = Field(default_factory=list)

    _name = field_validator("name")(_slug)


class Delivery(_Strict):
    attempts: int = Field(default=3, ge=1, le=10)
    backoff: float = Field(default=2.0, ge=0)


class AlertsFile(_Strict):
    channels: list[Channel] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    watchlist_channels: list[str] = Field(default_factory=list)
    delivery: Delivery = Field(default_factory=Delivery)

    @model_validator(mode="after")
    def _references(self) -> AlertsFile:
        names = [c.name for c in self.channels]
        for field, seen in (("channels", names), ("rules", [r.name for r in self.rules])):
            duplicates = sorted({n for n in seen if seen.count(n) > 1})
            if duplicates:
                raise ValueError(f"{field}: duplicate name {quote(duplicates[0])}")
        for owner, wanted in [(f"rules.{r.name}.channels", r.channels) for r in self.rules] + [
                ("watchlist_channels", self.watchlist_channels)]:
            unknown = [c for c in wanted if c not in names]
            if unknown:
                raise ValueError(f"{owner}: unknown channel {quote(unknown[0])}")
        return self

    def channels_for(self, wanted: list[str]) -> list[str]:
        """The channel names an alert goes to: those wanted, or every channel when none is named."""
        return wanted or [c.name for c in self.channels]


def load_alerts(path: Path | str = DEFAULT_ALERTS, *, required: bool = True) -> AlertsFile:
    """Read and validate an alerts file; a missing optional file means no rules and no channels."""
    path = Path(path)
    if not path.exists() and not required:
        return AlertsFile()
    raw = read_yaml(path, "config/alerts.example.yaml") or {}
    try:
        return AlertsFile.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        field, msg = ".".join(str(p) for p in first["loc"]), first["msg"].removeprefix("Value error, ")
        if not field:
            field, msg = (part.strip() for part in msg.split(":", 1)) if ":" in msg else ("(top)", msg)
        raise ConfigError(f"{path}: field {field}: {msg}") from None
