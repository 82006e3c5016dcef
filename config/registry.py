"""Every setting nigran reads from the environment, the command line or Scrapy's settings, declared once.

A setting is an environment variable; `flag` names the `nigran` option that sets it instead, `scrapy` says it
is also a Scrapy setting (`scrapy crawl -s NAME=...`), and `internal` that nigran sets it for its own
components. The README's "Settings" table lists them all; tests/test_registry.py keeps code, CLI and README
in step with this list. Code reads a setting with `env(name)`, never from `os.environ` by hand.
"""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    name: str
    help: str
    default: str = ""  # as documented; the code that reads the setting applies it
    flag: str | None = None
    scrapy: bool = False
    internal: bool = False


SETTINGS: dict[str, Setting] = {s.name: s for s in [
    Setting("NIGRAN_HOME", "data directory: bodies, WARCs, keys, logs", "$XDG_DATA_HOME/nigran", scrapy=True),
    Setting("NIGRAN_DB", "SQLAlchemy URL of the database", "SQLite in the data directory", "--db", scrapy=True),
    Setting("NIGRAN_SOURCES", "sources YAML file", "config/sources.yaml", "--sources", scrapy=True),
    Setting("NIGRAN_ALERTS", "alerts YAML file", "config/alerts.yaml when it exists", "--alerts"),
    Setting("NIGRAN_REDIS", "Redis frontier of distributed runs (for `nigran worker`)", "", "--redis"),
    Setting("NIGRAN_OPERATOR", "who runs nigran, recorded in custody events and WARCs", "your login", "--operator"),
    Setting("NIGRAN_KEY_FILE", "identifier key file (hosts sharing one database share it)",
            "$XDG_CONFIG_HOME/nigran/identifier.key"),
    Setting("NIGRAN_TOR_SOCKS", "host:port of tor's SOCKS port", "the first one tor reports", "--tor-socks"),
    Setting("NIGRAN_TOR_CONTROL", "host:port of tor's control port (cookie auth or NIGRAN_TOR_PASSWORD)",
            "none: nigran launches its own tor", "--tor-control"),
    Setting("NIGRAN_TOR_PASSWORD", "tor control port password, when it uses no cookie"),
    Setting("NIGRAN_TORRC", "file of extra torrc lines for the tor nigran launches (bridges, a private network)"),
    Setting("NIGRAN_TOR_CMD", "the tor binary nigran launches", "tor"),
    Setting("NIGRAN_TSA_URLS", "RFC 3161 time-stamp authorities for exports (space- or comma-separated)"),
    Setting("NIGRAN_TSA_ROOTS", "PEM file of trusted TSA root certificates"),
    Setting("NIGRAN_REQUIRE_TIMESTAMP", "write no export bundle unless a TSA time-stamped it", "off",
            "--require-timestamp"),
    Setting("NIGRAN_LEASE_SECONDS", "how long a dead worker's requests wait before others take them", "30",
            scrapy=True),
    Setting("NIGRAN_SCHEDULER_POLL", "seconds between the scheduler's looks for changed schedules", "10", "--poll"),
    Setting("NIGRAN_JOB_TIMEOUT", "seconds after which a scheduled crawl is stopped", "21600", "--job-timeout"),
    Setting("NIGRAN_STOP_GRACE", "seconds a stopping crawl gets before it is killed", "60", "--stop-grace"),
    Setting("NIGRAN_BROWSER_PAGES_PER_CONTEXT", "pages a browser context renders before a fresh one takes over",
            "50", scrapy=True),
    Setting("NIGRAN_BROWSER_SETTLE", "seconds a rendered page may take to go network-idle", "5", scrapy=True),
    Setting("NIGRAN_SERVICES", "what the crawlers of one process share (crawler/runtime.py)", scrapy=True,
            internal=True),
    Setting("NIGRAN_FRONTIER", "the Redis URL a worker's crawlers use (crawler/distributed.py)", scrapy=True,
            internal=True),
    Setting("NIGRAN_RUN_SOURCES", "the sources of a distributed run, for a worker to know when it is drained",
            scrapy=True, internal=True),
]}


def env(name: str) -> str | None:
    """The setting's value in the environment; None when unset or empty. Only registered names are read."""
    return os.environ.get(SETTINGS[name].name) or None


def scrapy_overrides() -> dict[str, str]:
    """The Scrapy settings that are set in the environment (for `nigran crawl`)."""
    return {s.name: value for s in SETTINGS.values() if s.scrapy and not s.internal and (value := env(s.name))}
