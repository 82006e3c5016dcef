"""Shared fixtures: real databases (SQLite and PostgreSQL), a private data home, the demo sites."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.databases import REDIS_URL, drop_scratch_databases, scratch_pg_url


def pytest_sessionfinish(session, exitstatus):
    drop_scratch_databases()


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
    from nigran.crawler.demo.server import DemoSites

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
def guard_site():
    """The anti-DDoS guard pages (queue, long queue, captcha) before a tiny market (tests/support/guard_site.py)."""
    from tests.support.guard_site import GuardSite

    with GuardSite() as site:
        yield site


@pytest.fixture(scope="session")
def tornet(tmp_path_factory, demo_sites, block_site, js_shop, guard_site):
    """One private Tor network for the whole session, with the demo market and forum, the blocking
    shop, the JavaScript shop and the guard site as onion services, and `clearnet.test` mapped to 127.0.0.1
    through an exit."""
    from tests.support.tornet import PrivateTorNetwork

    targets = {"market": demo_sites.ports["market"], "forum": demo_sites.ports["forum"], "blocky": block_site.port,
               "jsshop": int(js_shop.base_url.rsplit(":", 1)[1]), "guard": guard_site.port}
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


@pytest.fixture(scope="session")
def tsa(tmp_path_factory):
    """A local timestamp authority for the session (tests/support/tsa.py)."""
    from tests.support.tsa import local_tsa

    with local_tsa(tmp_path_factory.mktemp("tsa")) as authority:
        yield authority


@pytest.fixture
def resolver_spy(tmp_path):
    """(env, log): child processes started with `env` log every name they resolve locally into `log`."""
    from tests.support.resolver_spy import resolver_spy

    return resolver_spy(tmp_path)
