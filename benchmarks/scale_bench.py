"""Distributed crawl scaling: pages/s with 1, 2 and 4 `nigran worker` processes, direct and over Tor.

Direct: serves --pages synthetic listing pages (benchmarks/crawl_bench.py) from a separate process; for
each worker count, starts the workers on a dedicated Redis DB (flushed first), waits until each has
connected to it, then times `nigran crawl --workers` from its start to its exit, into a fresh PostgreSQL
database. Reports pages/s, the CPU seconds of each worker (from the coordinator's start) and of the
coordinator, and checks that every page was captured exactly once. For reference, the same crawl by a
plain `nigran crawl` (one process, no Redis) is measured too.

Tor: the private Tor network (tests/support/tornet.py) with two extra client tors serves a --tor-pages
site as an onion service; 3 workers crawl it all attached to one client tor, then each to its own.

    .venv/bin/python benchmarks/scale_bench.py                  # 20,000 pages on 1, 2, 4 workers; Tor 600 pages
    .venv/bin/python benchmarks/scale_bench.py --rounds 3       # medians of 3 rounds
    .venv/bin/python benchmarks/scale_bench.py --quick          # smoke: 2,000 pages on 1, 2 workers; Tor 150 pages
    .venv/bin/python benchmarks/scale_bench.py --no-tor         # direct part only

Needs Redis and PostgreSQL (trust auth) on 127.0.0.1, and Debian's tor for the Tor part.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import Process, Queue
from pathlib import Path

import psycopg
import redis
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.crawl_bench import serve  # noqa: E402
from tests.support.tornet import PrivateTorNetwork  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
TIMEOUT = 3600.0  # seconds one measurement may take before it is killed
CONCURRENCY = 16  # a source's parallel requests, held across all workers of the run
_databases = itertools.count()


@dataclass
class Measurement:
    """One crawl: seconds from the coordinator's start to its exit, pages fetched, CPU seconds, the check."""

    label: str
    workers: int
    seconds: float
    pages: int
    worker_cpu: list[float]
    coordinator_cpu: float
    check: str
    ok: bool

    @property
    def rate(self) -> float:
        return self.pages / self.seconds

    def as_dict(self) -> dict:
        return {"setup": self.label, "workers": self.workers, "seconds": round(self.seconds, 2), "pages": self.pages,
                "pages_per_s": round(self.rate, 2), "worker_cpu_s": [round(c, 2) for c in self.worker_cpu],
                "coordinator_cpu_s": round(self.coordinator_cpu, 2), "ok": self.ok}


@dataclass
class Setup:
    """What one measurement crawls: a source, the workers' extra environments, the pages to expect."""

    label: str
    source: dict
    worker_envs: list[dict[str, str]]
    pages: int


@dataclass
class Children:
    """Child processes, each in a session of its own, their output in `logdir`; on exit, any still running
    is killed with its process group."""

    logdir: Path
    procs: list[subprocess.Popen] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        with open(self.logdir / f"{name}.out", "wb") as out, open(self.logdir / f"{name}.err", "wb") as err:
            proc = subprocess.Popen(argv, cwd=REPO, env={**os.environ, **env}, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err, start_new_session=True)
        proc.name = name
        self.procs.append(proc)
        return proc

    def poll(self, proc: subprocess.Popen) -> bool:
        """Whether the process has exited; the first time, reap it, noting its status and CPU seconds (`cpu`)."""
        if proc.returncode is None:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if not pid:
                return False
            proc.returncode, proc.cpu = os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime
        return True

    def wait(self, proc: subprocess.Popen, timeout: float, watch: list[subprocess.Popen] = ()) -> float:
        """Wait for the process to exit with status 0, any of `watch` failing meanwhile being an error too;
        its CPU seconds (user + system)."""
        deadline = time.monotonic() + timeout
        while not self.poll(proc):
            for other in watch:
                if self.poll(other) and other.returncode != 0:
                    raise self.failure(other)
            if time.monotonic() > deadline:
                raise RuntimeError(f"{proc.name} did not exit within {timeout:g} s\n{self.tail(proc)}")
            time.sleep(0.02)
        if proc.returncode != 0:
            raise self.failure(proc)
        return proc.cpu

    def failure(self, proc: subprocess.Popen) -> RuntimeError:
        return RuntimeError(f"{proc.name} exited with status {proc.returncode}\n{self.tail(proc)}")

    def output(self, proc: subprocess.Popen) -> str:
        return (self.logdir / f"{proc.name}.out").read_text()

    def tail(self, proc: subprocess.Popen, lines: int = 30) -> str:
        text = (self.logdir / f"{proc.name}.err").read_text(errors="replace").splitlines()[-lines:]
        return f"--- {proc.name} stderr ---\n" + "\n".join(text)

    def __enter__(self) -> Children:
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


@contextmanager
def site(pages: int):
    """The synthetic listing site in a separate process; yields its port."""
    ports: Queue = Queue()
    server = Process(target=serve, args=(pages, ports), daemon=True)
    server.start()
    try:
        yield ports.get(timeout=60)
    finally:
        server.terminate()
        server.join()


@contextmanager
def fresh_database(admin_url: str):
    """A new, empty PostgreSQL database, dropped afterwards; yields its URL."""
    name = f"nigran_bench_{os.getpid()}_{next(_databases)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def check_captures(db_url: str, pages: int) -> tuple[bool, str]:
    """Every page captured exactly once: as many 200 captures, and as many distinct URLs, as pages."""
    with psycopg.connect(db_url) as db:
        captures, urls = db.execute("SELECT count(*), count(DISTINCT url) FROM captures WHERE status = 200").fetchone()
    ok = captures == urls == pages
    return ok, f"{captures} captures with status 200, {urls} distinct URLs, {pages} pages: {'OK' if ok else 'FAILED'}"


def wait_connected(frontier: redis.Redis, count: int, workers: list[subprocess.Popen], children: Children) -> None:
    """Wait until `count` other clients are connected to the frontier's DB: the workers, done starting up."""
    db, me = str(frontier.connection_pool.connection_kwargs.get("db", 0)), str(frontier.client_id())
    deadline = time.monotonic() + 120
    while sum(c["db"] == db and c["id"] != me for c in frontier.client_list()) < count:
        for proc in workers:
            if children.poll(proc):
                raise children.failure(proc)
        if time.monotonic() > deadline:
            raise RuntimeError("the workers did not connect to Redis within 120 s")
        time.sleep(0.1)


def measure(setup: Setup, redis_url: str, admin_url: str) -> Measurement:
    """One distributed crawl of the setup's source: workers first, then the timed coordinator (without
    workers: a plain single-process crawl)."""
    with redis.Redis.from_url(redis_url) as frontier, tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp, \
            fresh_database(admin_url) as db_url, Children(Path(tmp)) as children:
        frontier.flushdb()
        sources = Path(tmp, "sources.yaml")
        sources.write_text(yaml.safe_dump({"sources": [setup.source]}))
        workers = []
        for i, env in enumerate(setup.worker_envs):
            home = Path(tmp, f"worker{i}")
            home.mkdir()
            workers.append(children.start(f"worker{i}", [sys.executable, "-m", "nigran.crawler", "worker", "--redis",
                                                         redis_url, "--wait", "300"], {**env, "NIGRAN_HOME": str(home)}))
        wait_connected(frontier, len(workers), workers, children)
        home = Path(tmp, "coordinator")
        home.mkdir()
        idle_cpu = [cpu_seconds(w.pid) for w in workers]
        started = time.perf_counter()
        argv = [sys.executable, "-m", "nigran.crawler", "crawl", "--sources", str(sources), "--db", db_url, "--json"]
        if workers:
            argv += ["--workers", redis_url]
        coordinator = children.start("coordinator", argv, {"NIGRAN_HOME": str(home)})
        coordinator_cpu = children.wait(coordinator, TIMEOUT, watch=workers)
        seconds = time.perf_counter() - started
        worker_cpu = [children.wait(w, 120) - idle for w, idle in zip(workers, idle_cpu)]
        report = json.loads(children.output(coordinator).strip().splitlines()[-1])
        ok, check = check_captures(db_url, setup.pages)
    pages = sum(s["pages"] for s in report["sources"])
    ok = ok and report["exit_code"] == 0 and pages == setup.pages
    return Measurement(setup.label, len(workers), seconds, pages, worker_cpu, coordinator_cpu, check, ok)


def run_rounds(setups: list[Setup], rounds: int, redis_url: str, admin_url: str) -> list[Measurement]:
    """Each setup `rounds` times (interleaved); the median measurement of each, round by round printed."""
    results: dict[str, list[Measurement]] = {s.label: [] for s in setups}
    for round_ in range(1, rounds + 1):
        for setup in setups:
            m = measure(setup, redis_url, admin_url)
            results[setup.label].append(m)
            print(f"  round {round_} {m.label}: {m.pages} pages in {m.seconds:.1f} s = {m.rate:.1f} pages/s; CPU s "
                  f"workers {' + '.join(f'{c:.1f}' for c in m.worker_cpu)}, coordinator {m.coordinator_cpu:.1f}; "
                  f"check: {m.check}", flush=True)
    return [median(ms) for ms in results.values()]


def median(ms: list[Measurement]) -> Measurement:
    """The medians of a setup's rounds (worker CPU: worker by worker); ok only when every round was."""
    return Measurement(ms[0].label, ms[0].workers, statistics.median(m.seconds for m in ms),
                       round(statistics.median(m.pages for m in ms)),
                       [statistics.median(cpus) for cpus in zip(*(m.worker_cpu for m in ms))],
                       statistics.median(m.coordinator_cpu for m in ms), ms[-1].check, all(m.ok for m in ms))


def print_table(title: str, results: list[Measurement]) -> None:
    base = results[0].rate
    print(f"\n{title}")
    print(f"  {'setup':28s} {'seconds':>8s} {'pages/s':>8s} {'speedup':>8s}  {'CPU s per worker':24s} "
          f"{'crawl CPU s':>11s}  check")
    for m in results:
        cpus = " ".join(f"{c:.1f}" for c in m.worker_cpu)
        print(f"  {m.label:28s} {m.seconds:8.1f} {m.rate:8.1f} {m.rate / base:7.2f}x  {cpus:24s} "
              f"{m.coordinator_cpu:11.1f}  {'OK' if m.ok else 'FAILED'}")


def direct_setups(port: int, pages: int, counts: list[int]) -> list[Setup]:
    source = {"name": "synth", "kind": "market", "via": "direct", "start_urls": [f"http://127.0.0.1:{port}/p/0.html"],
              "max_depth": 50, "max_pages": pages, "concurrency": CONCURRENCY}
    return [Setup(f"{n} worker{'s' * (n > 1)}", source, [{}] * n, pages) for n in counts] + [
        Setup("no workers: plain crawl", source, [], pages)]


def tor_setups(net: PrivateTorNetwork, pages: int) -> list[Setup]:
    source = {"name": "synth", "kind": "market", "via": "tor", "start_urls": [f"http://{net.onion('shop')}/p/0.html"],
              "max_depth": 50, "max_pages": pages, "concurrency": CONCURRENCY, "timeout": 60}
    clients = [{"NIGRAN_TOR_SOCKS": f"127.0.0.1:{socks}", "NIGRAN_TOR_CONTROL": f"127.0.0.1:{control}"}
               for socks, control in net.client_ports()]
    return [Setup("3 workers, 1 Tor client", source, [clients[0]] * 3, pages),
            Setup("3 workers, 3 Tor clients", source, clients, pages)]


def bench_direct(args) -> list[Measurement]:
    counts = [1, 2] if args.quick else [1, 2, 4]
    print(f"\ndirect: {args.pages} pages, {counts} workers, {args.rounds} round(s)", flush=True)
    with site(args.pages) as port:
        return run_rounds(direct_setups(port, args.pages, counts), args.rounds, args.redis, args.pg)


def bench_tor(args) -> list[Measurement]:
    print(f"\nTor: {args.tor_pages} pages over an onion service, {args.rounds} round(s)", flush=True)
    with site(args.tor_pages) as port, tempfile.TemporaryDirectory(prefix="scale-bench-tor-") as tmp:
        net = PrivateTorNetwork(Path(tmp), onion_targets={"shop": port}, extra_clients=2)
        started = time.perf_counter()
        net.start(timeout=180)
        try:
            print(f"  private Tor network with 3 clients ready in {time.perf_counter() - started:.1f} s", flush=True)
            return run_rounds(tor_setups(net, args.tor_pages), args.rounds, args.redis, args.pg)
        finally:
            net.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=20000, help="pages of the direct site (default 20000)")
    parser.add_argument("--tor-pages", type=int, default=600, help="pages of the onion site (default 600)")
    parser.add_argument("--rounds", type=int, default=1, help="measure each setup this often, quote medians")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2000 pages, 1 and 2 workers, 150 Tor pages")
    parser.add_argument("--no-tor", action="store_true", help="skip the Tor part")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/10", help="a Redis DB of its own: it is flushed")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="PostgreSQL admin URL; a fresh database is created (and dropped) per measurement")
    args = parser.parse_args()
    if args.quick:
        args.pages, args.tor_pages = 2000, 150
    cores = os.cpu_count()
    print(f"this machine has {cores} CPU cores, shared by the workers, the coordinator, the site, Redis, PostgreSQL "
          f"(and tor): speedups are bounded by them", flush=True)
    parts = {"direct": (bench_direct, f"direct, {args.pages} pages"),
             "tor": (bench_tor, f"Tor, {args.tor_pages} pages over an onion service")}
    if args.no_tor:
        del parts["tor"]
    try:
        results = {part: bench(args) for part, (bench, _) in parts.items()}
    except RuntimeError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    for part, (_, title) in parts.items():
        print_table(f"{title} (medians of {args.rounds} round(s), {cores} cores)", results[part])
    ok = all(m.ok for ms in results.values() for m in ms)
    print(json.dumps({"cpu_count": cores, "rounds": args.rounds, "ok": ok,
                      **{part: [m.as_dict() for m in ms] for part, ms in results.items()}}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
