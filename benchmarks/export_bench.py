"""Export throughput and memory: a bundle of N captures (each with a post and an offer), then its verification.

Fills a fresh data home through the Recorder (bodies, WARC, custody log), then runs
`nigran export` and `nigran verify` as child processes and reports wall time and peak RSS of each.
Peak RSS should stay flat as --body-kb grows: export streams bodies and records.

    .venv/bin/python benchmarks/export_bench.py --captures 10000 --body-kb 20
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

WORDS = "CNIC copy SIM owner details call record travel history rabta karein price rupees bulk data".split()


def fill(home: Path, captures: int, body_kb: int) -> None:
    from nigran.storage.db import Database
    from nigran.storage.recorder import OfferData, Recorder

    recorder = Recorder(Database(f"sqlite:///{home / 'nigran.db'}"), home / "bodies", operator="bench")
    run = recorder.start_run("bench")
    start = datetime(2026, 10, 1, tzinfo=timezone.utc)
    rnd = random.Random(7)
    for n in range(captures):
        text = " ".join(rnd.choice(WORDS) for _ in range(body_kb * 150))
        url = f"http://benchmarketxyz.onion/item/{n}"
        seen = start + timedelta(minutes=7 * n)
        capture_id, _ = recorder.capture(
            body=f"<html><body><p>{text}</p></body></html>".encode(), run_id=run, source="bench", kind="http",
            url=url, final_url=url, method="GET", status=200, headers=[["Content-Type", "text/html"]],
            fetched_at=seen, transport="tor")
        recorder.post(source="bench", post_key=url, capture_id=capture_id, seen_at=seen, url=url,
                      text=f"CNIC copy {n} Rs 500 {text[:400]}",
                      offer=OfferData(kind="offer", categories=["cnic"], prices=[{"amount": 500, "currency": "PKR"}],
                                      contacts=[], volume=None, identifiers=[]))
    recorder.finish_run(run, "finished", 0, {})
    recorder.close()


def timed(args: list[str], env: dict) -> tuple[float, float, str]:
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "nigran.crawler", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read().decode() + proc.stderr.read().decode()
    if status != 0:
        raise SystemExit(f"{args[0]} failed:\n{out[-2000:]}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--captures", type=int, default=10000)
    parser.add_argument("--body-kb", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        env = {**os.environ, "NIGRAN_HOME": str(home), "NIGRAN_DB": f"sqlite:///{home / 'nigran.db'}",
               "NIGRAN_TSA_URLS": ""}
        os.environ.update(env)
        start = time.perf_counter()
        fill(home, args.captures, args.body_kb)
        raw = sum(f.stat().st_size for f in (home / "bodies").rglob("*") if f.is_file())
        print(f"filled {args.captures} captures ({raw / 1e6:.0f} MB of bodies) in {time.perf_counter() - start:.0f}s")
        bundle = Path(tmp) / "bundle.zip"
        seconds, rss, _ = timed(["export", "--out", str(bundle), "--operator", "bench", "--case", "bench"], env)
        print(f"export  {args.captures} captures in {seconds:.1f}s = {args.captures / seconds:.0f} captures/s, "
              f"peak RSS {rss:.0f} MB, bundle {bundle.stat().st_size / 1e6:.0f} MB")
        seconds, rss, _ = timed(["verify", str(bundle), "--key", str(home / "signing.pub")], env)
        print(f"verify  {seconds:.1f}s, peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
