"""`nigran sweep`: every enabled source once, one sweep at a time per database, clean on SIGTERM."""
from __future__ import annotations

import json
import signal
import time

from nigran.storage.db import Database
from tests.support.ops import assert_consistent, capture_count, demo_sources_file, output, runs, spawn, wait_for
from tests.support.run import nigran

SLOW_PASTE = {"demo-paste": {"download_delay": 0.5}}  # about six seconds of crawling


def json_lines(done) -> list[dict]:
    return [json.loads(line) for line in done.stdout.decode().splitlines()]


def test_sweep_crawls_the_enabled_sources_once_and_shows_in_runs(home, demo_sites, tmp_path):
    sources = demo_sources_file(tmp_path / "sources.yaml", demo_sites, enabled=("demo-market", "demo-paste"))
    done = nigran("sweep", "--sources", str(sources), "--json")
    assert done.returncode == 0, done.stderr.decode()
    [summary] = json_lines(done)
    assert summary["status"] == "finished" and summary["exit_code"] == 0
    assert [s["source"] for s in summary["sources"]] == ["demo-market", "demo-paste"]  # demo-forum is disabled
    assert all(s["ok"] and s["pages"] > 0 for s in summary["sources"])

    [run] = json_lines(nigran("runs", "--json"))
    assert (run["id"], run["trigger"], run["status"], run["exit_code"]) == (summary["run_id"], "sweep", "finished", 0)
    assert sorted(run["sources"]) == ["demo-market", "demo-paste"]
    assert run["pages"] == sum(s["pages"] for s in summary["sources"])
    assert run["offers_new"] == sum(s["offers_new"] for s in summary["sources"]) > 0
    assert run["started_at"].endswith("Z") and run["started_at"] < run["ended_at"]


def test_overlapping_sweep_exits_3_and_sigterm_leaves_a_clean_interrupted_run(db_url, home, demo_sites, tmp_path):
    slow = str(demo_sources_file(tmp_path / "slow.yaml", demo_sites, changes=SLOW_PASTE))
    db = Database(db_url)
    first = spawn(tmp_path, "first", "sweep", "--sources", slow, "--db", db_url, "--json")
    wait_for(lambda: runs(db), what="the first sweep's run")

    began = time.monotonic()
    second = nigran("sweep", "--sources", slow, "--db", db_url)
    assert second.returncode == 3
    assert first.poll() is None and time.monotonic() - began < 15, "the second sweep waited instead of giving up"
    message = second.stderr.decode()
    assert message.startswith("nigran: error: another sweep holds the lock (") and message.count("\n") == 1
    assert f"pid {first.pid}, since 20" in message

    wait_for(lambda: capture_count(db) >= 2, what="the first sweep's captures")
    first.send_signal(signal.SIGTERM)
    assert first.wait(60) == 130, output(tmp_path, "first")
    summary = json.loads(output(tmp_path, "first")[0].splitlines()[-1])
    assert (summary["status"], summary["exit_code"]) == ("interrupted", 130)
    [run] = runs(db)
    assert (run.trigger, run.status, run.exit_code) == ("sweep", "interrupted", 130) and run.ended_at
    assert run.stats["sources"]["demo-paste"]["finish_reason"] == "shutdown"
    assert_consistent(db, home)

    # the stopped sweep took its lock with it: the next one runs
    again = nigran("sweep", "--sources", str(demo_sources_file(tmp_path / "fast.yaml", demo_sites)), "--db", db_url)
    assert again.returncode == 0, again.stderr.decode()
    assert [r.status for r in runs(db)] == ["interrupted", "finished"]


def test_invalid_configuration_exits_2_with_one_line(home, demo_sites, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources:\n  - name: Not A Slug\n    start_urls: ['http://127.0.0.1/']\n")
    done = nigran("sweep", "--sources", str(bad))
    assert done.returncode == 2
    assert done.stderr.decode().startswith(f"nigran: error: {bad}: source 'Not A Slug': field name:")

    none_enabled = demo_sources_file(tmp_path / "off.yaml", demo_sites, enabled=())
    done = nigran("sweep", "--sources", str(none_enabled))
    assert done.returncode == 2 and "no enabled source" in done.stderr.decode()

    alerts = tmp_path / "alerts.yaml"
    alerts.write_text("rules:\n  - name: cnic\n    channels: [nowhere]\n")
    sources = demo_sources_file(tmp_path / "sources.yaml", demo_sites)
    done = nigran("sweep", "--sources", str(sources), "--alerts", str(alerts))
    assert done.returncode == 2
    assert done.stderr.decode() == f"nigran: error: {alerts}: field rules.cnic.channels: unknown channel 'nowhere'\n"
    assert not (home / "nigran.db").exists(), "nothing may run on an invalid configuration"
