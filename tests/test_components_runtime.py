"""Component tests: the Runtime extension (page budget, standalone `scrapy crawl` runs) and FailureReport
(which failed requests count as errors), built with their crawler's settings on a real SQLite store."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from scrapy import Request, signals
from scrapy.exceptions import DownloadConnectionRefusedError, DownloadTimeoutError
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from sqlalchemy import select
from twisted.python.failure import Failure

from nigran.crawler.failures import FailureReport
from nigran.crawler.middlewares import TorUnavailable
from nigran.crawler.runtime import Runtime, Services
from nigran.crawler.tor import TorAccess, TorSession
from nigran.spiders.state import request_failed
from nigran.storage.db import Database
from nigran.storage.models import Capture, Run
from tests.support.components import crawler_for, recorder_in, run_loop
from tests.support.socks import SocksProxy


@pytest.fixture
def services(home):
    recorder = recorder_in(home)
    yield Services(recorder, recorder.start_run("manual"))
    recorder.close()


# --- Runtime: the page budget -------------------------------------------------------------------------

def test_page_budget_takes_each_page_once_and_no_more_than_max_pages(services):
    runtime = Runtime.of(crawler_for({"name": "shop", "via": "direct", "max_pages": 2}, services))
    taken = [runtime.take_page(url) for url in ("http://shop.example/a", "http://shop.example/a",
                                                "http://shop.example/b", "http://shop.example/c")]
    assert taken == [True, False, True, False]


# --- Runtime: `scrapy crawl` without nigran's runner ---------------------------------------------------

def capture_one(runtime: Runtime) -> None:
    runtime.recorder.capture(body=b"<p>x</p>", run_id=runtime.run_id, source="shop", kind="http",
                             url="http://shop.example/", final_url="http://shop.example/", method="GET", status=200,
                             headers=[], fetched_at=datetime.now(timezone.utc), transport="direct")


@pytest.mark.parametrize("failure, status", [(None, "finished"), ("Tor unavailable: no tor", "failed")])
def test_standalone_crawl_records_its_own_run_in_the_store_its_settings_name(home, failure, status):
    db_url = f"sqlite:///{home / 'standalone.db'}"
    sources = home / "sources.yaml"
    sources.write_text("sources: []\n")
    crawler = crawler_for({"name": "shop", "via": "direct"}, None, NIGRAN_DB=db_url, NIGRAN_HOME=str(home),
                          NIGRAN_SOURCES=str(sources))
    runtime, spider = Runtime.of(crawler), crawler.spider
    crawler.signals.send_catch_log(signals.spider_opened, spider=spider)
    capture_one(runtime)
    run_loop(seconds=1.3)  # the flusher commits a quiet crawl's pending captures every second
    with Database(db_url).session() as s:
        assert s.scalar(select(Capture.run_id)) == runtime.run_id
    crawler.stats.set_value("nigran/pages_ok", 1)
    if failure:
        crawler.stats.set_value("nigran/failure", failure)
    crawler.signals.send_catch_log(signals.spider_closed, spider=spider, reason="finished")
    with Database(db_url).session() as s:
        [run] = s.scalars(select(Run)).all()
    assert (run.trigger, run.status, run.exit_code) == ("scrapy", status, 0 if status == "finished" else 1)
    assert run.stats["sources"]["shop"]["pages"] == 1  # as `nigran crawl` records a run, for `nigran runs`


def test_a_runner_given_run_is_left_for_the_runner_to_finish(services):
    crawler = crawler_for({"name": "shop", "via": "direct"}, services)
    crawler.signals.send_catch_log(signals.spider_opened, spider=crawler.spider)
    crawler.signals.send_catch_log(signals.spider_closed, spider=crawler.spider, reason="finished")
    with services.recorder.db.session() as s:
        assert s.get(Run, services.run_id).status == "running"


# --- FailureReport ------------------------------------------------------------------------------------

def failed(crawler, exception: Exception, transport: str = "direct", url: str = "http://shop.example/p") -> None:
    """Announce a request that failed for good, as the spider's errback does."""
    failure = Failure(exception)
    failure.request = Request(url, meta={"transport": transport})
    crawler.signals.send_catch_log(request_failed, failure=failure, spider=crawler.spider)


def http_error(status: int) -> HttpError:
    return HttpError(Response("http://shop.example/p", status=status), "Ignoring non-200 response")


@pytest.mark.parametrize("exception, logged", [
    (http_error(404), None),  # a removed listing
    (http_error(403), None),
    (TorUnavailable("http://shop.example/p: Tor unavailable"), None),  # counted once by RouteMiddleware
    (http_error(503), "HTTP 503 after retries"),
    (DownloadTimeoutError("Getting http://shop.example/p took longer than 3.0 seconds\nmore"),
     "Getting http://shop.example/p took longer than 3.0 seconds"),
    (DownloadConnectionRefusedError(), "DownloadConnectionRefusedError"),
])
def test_failure_report_counts_server_and_network_failures_as_errors(services, caplog, exception, logged):
    crawler = crawler_for({"name": "shop", "via": "direct"}, services)
    assert crawler.get_extension(FailureReport) is not None
    failed(crawler, exception)
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    if logged is None:
        assert crawler.stats.get_value("nigran/errors") is None and errors == []
    else:
        assert crawler.stats.get_value("nigran/errors") == 1
        assert errors == [f"source shop: http://shop.example/p failed: {logged}"]


def test_a_tor_refusal_while_tor_still_answers_is_an_error_not_a_lost_tor(services):
    with SocksProxy() as tor:
        session = TorSession(socks=("127.0.0.1", tor.port), controller=None)
        crawler = crawler_for({"name": "hidden", "via": "tor"},
                              Services(services.recorder, services.run_id, TorAccess(session)))
        failed(crawler, DownloadConnectionRefusedError("refused"), transport="tor")
    assert crawler.stats.get_value("nigran/errors") == 1
    assert crawler.stats.get_value("nigran/failure") is None  # the source goes on
