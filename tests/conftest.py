"""Shared fixtures: real databases (SQLite and PostgreSQL), a private data home, the demo sites."""
from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("NIGRAN_TEST_REDIS", "redis://127.0.0.1:6379/9")
PG_ADMIN_URL = os.environ.get("NIGRAN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
_pg_names = itertools.count()
_pg_created: list[str] = []


def _pg_admin():
    import psycopg

    url = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    return psycopg.connect(url, autocommit=True)


def scratch_pg_url() -> str:
    """A new, empty PostgreSQL database for one test; dropped when the session ends."""
    name = f"nigran_test_{os.getpid()}_{next(_pg_names)}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    _pg_created.append(name)
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def pytest_sessionfinish(session, exitstatus):
    if not _pg_created:
        return
    with _pg_admin() as conn:
        for name in _pg_created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(autouse=True)
def config_home(tmp_path, monkeypatch) -> Path:
    """A private XDG_CONFIG_HOME and XDG_DATA_HOME for every test: neither the identifier key nor a store a
    component opens by default (`scrapy crawl`'s standalone mode) ever lands in the user's home."""
    path = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return path


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A private NIGRAN_HOME for the test (data, bodies, logs; the key goes to `config_home`)."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("NIGRAN_HOME", str(path))
    monkeypatch.delenv("NIGRAN_DB", raising=False)
    monkeypatch.delenv("NIGRAN_KEY_FILE", raising=False)
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, home) -> str:
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{home / 'nigran.db'}"
    return scratch_pg_url()


@pytest.fixture(scope="session")
def demo_sites():
    from crawler.demo.server import DemoSites

    with DemoSites() as sites:
        yield sites


@pytest.fixture
def frontier():
    """The Redis URL of a database of the tests' own (NIGRAN_TEST_REDIS), empty before and after the test."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


def nigran(*args: str, env: dict | None = None, timeout: float = 180, input: bytes | None = None):
    """Run the real `nigran` command line in a child process."""
    return subprocess.run([sys.executable, "-m", "crawler", *args], cwd=REPO, capture_output=True,
                          env={**os.environ, **(env or {})}, timeout=timeout, input=input)


@pytest.fixture(scope="session")
def block_site():
    from tests.support.block_site import BlockSite

    with BlockSite(allow=4, block=2) as site:
        yield site


@pytest.fixture(scope="session")
def js_shop():
    from tests.support.js_shop import JsShop

    with JsShop(pages=2) as shop:
        yield shop


@pytest.fixture(scope="session")
def tornet(tmp_path_factory, demo_sites, block_site, js_shop):
    """One private Tor network for the whole session, with the demo market and forum, the blocking
    shop and the JavaScript shop as onion services, and `clearnet.test` mapped to 127.0.0.1 through an exit."""
    from tests.support.tornet import PrivateTorNetwork

    targets = {"market": demo_sites.ports["market"], "forum": demo_sites.ports["forum"], "blocky": block_site.port,
               "jsshop": int(js_shop.base_url.rsplit(":", 1)[1])}
    net = PrivateTorNetwork(tmp_path_factory.mktemp("tornet"), onion_targets=targets,
                            map_addresses={"clearnet.test": "127.0.0.1"})
    net.start(timeout=120)
    yield net
    net.stop()


@pytest.fixture(scope="session")
def hostile_site():
    from tests.support.hostile_site import HostileSite

    with HostileSite() as site:
        yield site
