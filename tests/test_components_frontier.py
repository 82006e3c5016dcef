"""Component tests: a distributed run's Scrapy side (crawler/distributed.py FrontierScheduler, FrontierStats)
and its queue (crawler/frontier.py LeasedQueue) against the real Redis (NIGRAN_TEST_REDIS, flushed per
test), each crawler built with the Distributed add-on as `nigran worker` builds it."""
from __future__ import annotations

import time

import pytest
from scrapy import Request

from nigran.crawler.distributed import Distributed, FrontierScheduler, FrontierStats, settle, worker_of
from nigran.crawler.runtime import Runtime, Services
from tests.support.components import crawler_for, recorder_in

SHOP = {"name": "shop", "via": "direct", "max_pages": 3}


@pytest.fixture
def services(home):
    recorder = recorder_in(home)
    yield Services(recorder, recorder.start_run("worker"))
    recorder.close()


def worker(frontier: str, services: Services, lease_seconds: float = 30.0):
    """A crawler of `shop` in a worker of the run, and its opened scheduler."""
    crawler = crawler_for(SHOP, services, ADDONS={Distributed: 0}, NIGRAN_FRONTIER=frontier,
                          NIGRAN_RUN_SOURCES=["shop"], NIGRAN_LEASE_SECONDS=lease_seconds)
    scheduler = crawler.settings["SCHEDULER"].from_crawler(crawler)
    scheduler.open(crawler.spider)
    return crawler, scheduler


def page(path: str, **kwargs) -> Request:
    return Request(f"http://shop.example/{path}", **kwargs)


# --- FrontierScheduler --------------------------------------------------------------------------------

def test_scheduler_queues_each_page_once_within_the_budget_and_leases_what_it_hands_out(frontier, services):
    crawler, scheduler = worker(frontier, services)
    assert isinstance(scheduler, FrontierScheduler)
    queued = [scheduler.enqueue_request(page(p)) for p in ("a", "a", "b#top", "b", "c", "d")]
    assert queued == [True, False, True, False, True, False]  # a repeat, a fragment of it, over max_pages 3
    popped = [scheduler.next_request() for _ in range(4)]
    assert sorted(r.url for r in popped[:3]) == ["http://shop.example/a", "http://shop.example/b#top",
                                                 "http://shop.example/c"] and popped[3] is None
    tokens = {r.meta["nigran_lease"] for r in popped[:3]}
    assert worker_of(crawler).leases == tokens and Runtime.of(crawler).frontier.leased() == 3


def test_a_retry_of_a_leased_request_replaces_its_lease_and_a_settled_one_ends(frontier, services):
    crawler, scheduler = worker(frontier, services)
    scheduler.enqueue_request(page("a"))
    scheduler.enqueue_request(page("b"))
    first, second = scheduler.next_request(), scheduler.next_request()
    frontier_ = Runtime.of(crawler).frontier
    retry = first.replace(dont_filter=True)  # as RetryMiddleware makes it: the lease in its meta
    assert scheduler.enqueue_request(retry)
    assert frontier_.leased() == 1 and len(scheduler.queue) == 1  # the retry is queued, its lease gone
    settle(crawler, second)  # parsed and stored: its lease ends (once committed; nothing is pending here)
    services.recorder.flush()
    assert frontier_.leased() == 0 and worker_of(crawler).leases == {scheduler.next_request().meta["nigran_lease"]}


# --- LeasedQueue --------------------------------------------------------------------------------------

def test_queue_pops_by_priority_and_a_dead_workers_leases_come_back(frontier, services):
    crawler, scheduler = worker(frontier, services, lease_seconds=0.3)
    queue, frontier_ = scheduler.queue, Runtime.of(crawler).frontier
    for path, priority in (("low", 0), ("high", 5), ("mid", 2)):
        queue.push(page(path, priority=priority))
    assert [queue.pop().url.rsplit("/", 1)[1] for _ in range(2)] == ["high", "mid"]
    assert len(queue) == 1 and frontier_.leased() == 2
    assert frontier_.reap() == 0  # leases still live
    time.sleep(0.4)  # no renewal: the worker died
    assert frontier_.reap() == 2 and len(queue) == 3 and frontier_.leased() == 0


def test_queue_ack_ends_a_lease_for_good_and_release_hands_one_back_at_once(frontier, services):
    crawler, scheduler = worker(frontier, services)
    queue, frontier_ = scheduler.queue, Runtime.of(crawler).frontier
    queue.push(page("a"))
    queue.push(page("b"))
    done, unfinished = queue.pop(), queue.pop()
    frontier_.ack(done.meta["nigran_lease"])
    frontier_.release([unfinished.meta["nigran_lease"]])
    assert frontier_.leased() == 0 and [queue.pop().url, queue.pop()] == ["http://shop.example/b", None]


# --- FrontierStats ------------------------------------------------------------------------------------

def test_stats_of_two_workers_are_summed_in_redis_and_a_failure_is_copied(frontier, services):
    workers = [worker(frontier, services)[0] for _ in range(2)]
    assert all(isinstance(c.stats, FrontierStats) for c in workers)
    for n, crawler in enumerate(workers):
        crawler.stats.inc_value("nigran/captures", 2 + n)
        crawler.stats.publish()
    workers[0].stats.inc_value("nigran/captures")
    workers[0].stats.set_value("nigran/failure", "Tor stopped during the crawl")
    workers[0].stats.publish()
    workers[1].stats.publish()  # nothing gained since: nothing added twice
    workers[1].stats.inc_value("nigran/errors")
    workers[1].stats.close_spider(reason="finished")  # and at close
    assert Runtime.of(workers[0]).frontier.stats("shop") == {
        "nigran/captures": 6, "nigran/errors": 1, "nigran/failure": "Tor stopped during the crawl"}
