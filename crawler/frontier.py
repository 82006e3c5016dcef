"""The shared frontier of a distributed crawl, in Redis: the run, leased request queues, page budgets, politeness.

One run at a time per frontier. `nigran crawl --workers URL` publishes the run (its id and sources);
`nigran worker` processes crawl it together through scrapy-redis (scheduler, duplicate filter, stats),
with one addition scrapy-redis lacks: a popped request is *leased*, not removed. Its lease is renewed
while its worker lives and acknowledged only once what came of it (capture, posts, offers, new links)
is committed and queued; a dead worker's leases expire and their requests go back to the queue.

Keys, under `nigran:`: `run` (hash), and per run `<id>:<source>:requests|dupefilter|stats|pages|seed`,
`<id>:leases` (token -> deadline), `<id>:leased` (token -> request), `<id>:origin` (token -> queue, score),
`<id>:slot:<source>` / `<id>:next:<source>` (politeness), `<id>:workers` (worker -> last heartbeat).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import redis
from scrapy_redis.queue import Base

from nigran.config.schema import Source

PREFIX = "nigran:"
log = logging.getLogger(__name__)

# Pop the best request and lease it: queue -> leases, atomically. KEYS: queue, leases, leased, origin, counter.
_POP = """
local item = redis.call('ZPOPMIN', KEYS[1])
if #item == 0 then return nil end
local token = ARGV[2] .. ':' .. redis.call('INCR', KEYS[5])
redis.call('ZADD', KEYS[2], ARGV[1], token)
redis.call('HSET', KEYS[3], token, item[1])
redis.call('HSET', KEYS[4], token, item[2] .. ' ' .. KEYS[1])
return {token, item[1]}
"""
# Requeue every lease whose deadline has passed. KEYS: leases, leased, origin. ARGV: now.
_REAP = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, token in ipairs(expired) do
  local data = redis.call('HGET', KEYS[2], token)
  local origin = redis.call('HGET', KEYS[3], token)
  if data and origin then
    local space = string.find(origin, ' ')
    redis.call('ZADD', string.sub(origin, space + 1), tonumber(string.sub(origin, 1, space - 1)), data)
  end
  redis.call('ZREM', KEYS[1], token)
  redis.call('HDEL', KEYS[2], token)
  redis.call('HDEL', KEYS[3], token)
end
return #expired
"""
# Queue a request unless seen or over budget; mark it seen and queued in one step, so that a worker dying
# in between can neither lose it nor leave it marked but unqueued. A continuation also ends its parent's
# lease. KEYS: queue, dupefilter, pages, leases, leased, origin. ARGV: score, request, fingerprint
# ('' = no duplicate check), page url ('' = no budget), max pages, lease token ('' = none). 1 queued, 0 not.
_PUSH = """
local queued = 1
if ARGV[3] ~= '' and redis.call('SISMEMBER', KEYS[2], ARGV[3]) == 1 then queued = 0 end
if queued == 1 and ARGV[4] ~= '' and (redis.call('SISMEMBER', KEYS[3], ARGV[4]) == 1
                                      or redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[5])) then queued = 0 end
if queued == 1 then
  if ARGV[3] ~= '' then redis.call('SADD', KEYS[2], ARGV[3]) end
  if ARGV[4] ~= '' then redis.call('SADD', KEYS[3], ARGV[4]) end
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
end
if ARGV[6] ~= '' then
  redis.call('ZREM', KEYS[4], ARGV[6])
  redis.call('HDEL', KEYS[5], ARGV[6])
  redis.call('HDEL', KEYS[6], ARGV[6])
end
return queued
"""
# Enter a source's download slot. KEYS: holders zset, next-start key. ARGV: now_ms, holder, concurrency,
# delay_ms, hold_ms. Returns 0 when entered, else milliseconds to wait.
_ENTER = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local next_start = tonumber(redis.call('GET', KEYS[2]) or '0')
if next_start > now then return next_start - now end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 50 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[5]), ARGV[2])
redis.call('SET', KEYS[2], now + tonumber(ARGV[4]), 'PX', math.max(tonumber(ARGV[4]), 1))
return 0
"""


class FrontierError(RuntimeError):
    """The frontier cannot be used: Redis unreachable, or no run / another run in it."""


def connect(url: str) -> redis.Redis:
    """A Redis client for the frontier at `url`, checked with a PING."""
    client = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=10, retry_on_timeout=True)
    try:
        client.ping()
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise FrontierError(f"Redis at {url} does not answer: {exc}") from None
    return client


@dataclass(frozen=True)
class RunInfo:
    run_id: int
    sources: list[Source]
    db_url: str
    lease_seconds: float


class Frontier:
    """One distributed run's shared state. Every method is one or a few Redis round trips."""

    LEASE_SECONDS = 30.0  # a lease not renewed for this long belongs to a dead worker

    def __init__(self, client: redis.Redis, run_id: int, lease_seconds: float | None = None):
        self.r, self.run_id = client, run_id
        self.lease_seconds = lease_seconds or self.LEASE_SECONDS
        self.base = f"{PREFIX}{run_id}:"
        self._pop, self._reap = client.register_script(_POP), client.register_script(_REAP)
        self._push, self._enter = client.register_script(_PUSH), client.register_script(_ENTER)

    def key(self, *parts: str) -> str:
        return self.base + ":".join(parts)

    # --- the run -------------------------------------------------------------------------------
    @staticmethod
    def publish(client: redis.Redis, run_id: int, sources: list[Source], db_url: str,
                lease_seconds: float | None = None) -> Frontier:
        """Open a run on this frontier; refused while another run is still open there."""
        frontier = Frontier(client, run_id, lease_seconds)
        info = {"id": run_id, "db": db_url, "state": "running", "lease": frontier.lease_seconds, "beat": time.time(),
                "sources": json.dumps([s.model_dump(mode="json") for s in sources])}
        while not client.hsetnx(PREFIX + "run", "id", run_id):
            other, beat, lease = client.hmget(PREFIX + "run", "id", "beat", "lease")
            silent = time.time() - float(beat or 0)
            if other is not None and silent < 3 * float(lease or Frontier.LEASE_SECONDS):
                raise FrontierError(f"run {other.decode()} is still open on this frontier: its coordinator "
                                    f"(`nigran crawl --workers`) must finish first")
            if other is not None:
                log.warning("frontier: run %s was abandoned (its coordinator silent for %.0f s); replacing it",
                            other.decode(), silent)
                Frontier(client, int(other)).close_run()
        client.hset(PREFIX + "run", mapping=info)
        return frontier

    def beat(self) -> None:
        """The coordinator is alive (a run whose coordinator falls silent may be replaced)."""
        self.r.hset(PREFIX + "run", "beat", time.time())

    @staticmethod
    def current(client: redis.Redis) -> RunInfo | None:
        """The open run, or None."""
        raw = {k.decode(): v.decode() for k, v in client.hgetall(PREFIX + "run").items()}
        if raw.get("state") != "running" or "sources" not in raw:
            return None
        return RunInfo(int(raw["id"]), [Source.model_validate(s) for s in json.loads(raw["sources"])], raw["db"],
                       float(raw["lease"]))

    def end_run(self) -> None:
        """The run's work is done (or abandoned): workers close their spiders and leave."""
        self.r.hset(PREFIX + "run", "state", "done")

    def close_run(self) -> None:
        """Free the frontier for the next run; the run's keys are dropped (its stats were read first)."""
        keys = list(self.r.scan_iter(match=self.base + "*", count=1000))
        self.r.delete(PREFIX + "run", *keys)

    def is_open(self) -> bool:
        run = self.r.hmget(PREFIX + "run", "id", "state")
        return run == [str(self.run_id).encode(), b"running"]

    # --- leases --------------------------------------------------------------------------------
    def pop(self, queue_key: str, worker: str) -> tuple[str, bytes] | None:
        """Lease the best request of a queue: (token, encoded request), or None when it is empty."""
        got = self._pop(keys=[queue_key, self.key("leases"), self.key("leased"), self.key("origin"),
                              self.key("counter")], args=[time.time() + self.lease_seconds, worker])
        return (got[0].decode(), got[1]) if got else None

    def push(self, source: str, score: float, data: bytes, *, fingerprint: str = "", page: str = "",
             max_pages: int = 0, lease: str = "") -> bool:
        """Queue an encoded request unless its fingerprint was seen or its page is over the source's budget
        (when given); with `lease`, end that lease in the same step (a retry or redirect replacing it)."""
        keys = [self.key(source, "requests"), self.key(source, "dupefilter"), self.key(source, "pages"),
                self.key("leases"), self.key("leased"), self.key("origin")]
        return bool(self._push(keys=keys, args=[score, data, fingerprint, page, max_pages, lease]))

    def ack(self, token: str) -> None:
        """The leased request is done: everything that came of it is stored and queued."""
        pipe = self.r.pipeline()
        pipe.zrem(self.key("leases"), token)
        pipe.hdel(self.key("leased"), token)
        pipe.hdel(self.key("origin"), token)
        pipe.execute()

    def renew(self, tokens: list[str]) -> None:
        """Push the deadlines of a live worker's leases forward."""
        if tokens:
            deadline = time.time() + self.lease_seconds
            self.r.zadd(self.key("leases"), {t: deadline for t in tokens}, xx=True)

    def release(self, tokens: list[str]) -> None:
        """Give leases back at once (a worker stopping with requests unfinished)."""
        if tokens:
            self.r.zadd(self.key("leases"), {t: 0 for t in tokens}, xx=True)
            self.reap()

    def reap(self) -> int:
        """Requeue the requests of expired leases; return how many."""
        return int(self._reap(keys=[self.key("leases"), self.key("leased"), self.key("origin")], args=[time.time()]))

    # --- progress ------------------------------------------------------------------------------
    def queued(self, sources: list[str]) -> int:
        pipe = self.r.pipeline()
        for name in sources:
            pipe.zcard(self.key(name, "requests"))
        return sum(pipe.execute())

    def leased(self) -> int:
        return int(self.r.zcard(self.key("leases")))

    def seeded(self, source: str) -> bool:
        return self.r.get(self.key(source, "seed")) == b"done"

    def claim_seeding(self, source: str, worker: str) -> bool:
        """True for the one worker that queues a source's start requests (its claim lasts a lease time)."""
        return bool(self.r.set(self.key(source, "seed"), f"claimed by {worker}", nx=True,
                               px=int(self.lease_seconds * 1000)))

    def keep_seeding(self, source: str) -> None:
        """The seeding worker is alive: extend its claim."""
        self.r.pexpire(self.key(source, "seed"), int(self.lease_seconds * 1000), xx=True)

    def seeding_done(self, source: str) -> None:
        self.r.set(self.key(source, "seed"), "done")

    def drained(self, sources: list[str]) -> bool:
        """Every source seeded, no request queued, none leased: the run's work is done."""
        return all(self.seeded(s) for s in sources) and not self.queued(sources) and not self.leased()

    def add_stats(self, source: str, counters: dict[str, int], values: dict[str, str]) -> None:
        """Add a worker's counter increments to a source's shared stats; set `values`."""
        pipe = self.r.pipeline(transaction=False)
        for key, amount in counters.items():
            pipe.hincrby(self.key(source, "stats"), key, amount)
        if values:
            pipe.hset(self.key(source, "stats"), mapping=values)
        pipe.execute()

    def stats(self, source: str) -> dict[str, Any]:
        """A source's stats, summed over its workers (crawler/distributed.py, FrontierStats)."""
        return {k.decode(): number_or_text(v.decode()) for k, v in self.r.hgetall(self.key(source, "stats")).items()}

    def heartbeat(self, worker: str) -> None:
        self.r.hset(self.key("workers"), worker, time.time())

    def leave(self, worker: str) -> None:
        self.r.hdel(self.key("workers"), worker)

    def workers(self) -> list[str]:
        """Workers that sent a heartbeat within a lease time."""
        now = time.time()
        return [w.decode() for w, at in self.r.hgetall(self.key("workers")).items()
                if now - float(at) < self.lease_seconds]

    # --- budgets and politeness ----------------------------------------------------------------
    def may_take_page(self, source: str, url: str, limit: int) -> bool:
        """Whether a page is neither seen nor over a source's budget (taken for good only when queued)."""
        pages = self.key(source, "pages")
        return not self.r.sismember(pages, url) and self.r.scard(pages) < limit

    def enter_slot(self, source: str, holder: str, concurrency: int, delay: float, hold: float) -> float:
        """Start a download of `source` when its shared concurrency and delay allow: 0, else seconds to wait."""
        wait_ms = self._enter(keys=[self.key("slot", source), self.key("next", source)],
                              args=[int(time.time() * 1000), holder, concurrency, int(delay * 1000), int(hold * 1000)])
        return int(wait_ms) / 1000

    def renew_slot(self, source: str, holders: list[str]) -> None:
        """A live worker keeps its places in a source's slot."""
        if holders:
            self.r.zadd(self.key("slot", source), {h: int((time.time() + self.lease_seconds) * 1000) for h in holders},
                        xx=True)

    def leave_slot(self, source: str, holder: str) -> None:
        self.r.zrem(self.key("slot", source), holder)


def number_or_text(value: str) -> Any:
    """A stats value read back from Redis: a number when it was one."""
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


class LeasedQueue(Base):
    """scrapy-redis's priority queue, with pops that lease (see Frontier). Set as SCHEDULER_QUEUE_CLASS."""

    frontier: Frontier
    worker: str

    def __len__(self) -> int:
        return self.server.zcard(self.key)

    def push(self, request, *, fingerprint: str = "", page: str = "", max_pages: int = 0, lease: str = "") -> bool:
        """Queue a request, checked and marked in the same step (Frontier.push)."""
        return self.frontier.push(self.spider.name, -request.priority, self._encode_request(request),
                                  fingerprint=fingerprint, page=page, max_pages=max_pages, lease=lease)

    def pop(self, timeout: int = 0):
        got = self.frontier.pop(self.key, self.worker)
        if got is None:
            return None
        token, data = got
        request = self._decode_request(data)
        request.meta["nigran_lease"] = token
        return request
