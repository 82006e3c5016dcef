"""Security: no console that runs code inside a crawl, Scrapy's telnet console or its RemoteControl server
(on by default since Scrapy 2.19)."""
from __future__ import annotations

import pytest

from nigran.config.schema import parse_sources
from nigran.crawler.crawl import scrapy_settings
from nigran.crawler.distributed import Distributed
from nigran.crawler.runtime import Services
from nigran.spiders.loader import spider_class
from nigran.storage.db import Database
from nigran.storage.recorder import Recorder


@pytest.mark.parametrize("distributed", [False, True])
@pytest.mark.parametrize("render", ["http", "browser"])
@pytest.mark.parametrize("setting", ["REMOTE_CONTROL_ENABLED", "TELNETCONSOLE_ENABLED"])
def test_security_no_code_console_in_crawl_settings(home, setting, render, distributed):
    [source] = parse_sources({"sources": [{"name": "shop", "via": "direct", "render": render,
                                           "start_urls": ["http://shop.example/"]}]}, "test")
    overrides = {"NIGRAN_FRONTIER": "redis://127.0.0.1:1/0"} if distributed else None
    # The settings a crawl (or a worker, with its add-on) builds, with the spider's own (a browser source's) merged in.
    settings = scrapy_settings(Services(Recorder(Database("sqlite://"), home / "bodies"), 1), overrides)
    if distributed:
        Distributed().update_settings(settings)
    spider_class(source).update_settings(settings)
    assert settings.getbool(setting) is False
