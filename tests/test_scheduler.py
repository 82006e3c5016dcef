"""Schedules kept in the database, and `nigran scheduler` running them as child crawls."""
from __future__ import annotations

import json
import pickle
import signal
import time
from datetime import datetime, timedelta, timezone

from alembic import command
from sqlalchemy import text

from nigran.storage.db import Database, alembic_config
from tests.support.ops import assert_consistent, capture_count, demo_sources_file, output, runs, spawn, wait_for
from tests.support.run import nigran


def schedules(db_url: str) -> list[dict]:
    done = nigran("schedule", "list", "--json", "--db", db_url)
    assert done.returncode == 0, done.stderr.decode()
    return [json.loads(line) for line in done.stdout.decode().splitlines()]


def test_a_schedule_added_in_one_process_is_seen_by_another(db_url, home, demo_sites, tmp_path):
    sources = str(demo_sources_file(tmp_path / "sources.yaml", demo_sites))
    added = nigran("schedule", "add", "--source", "demo-paste", "--cron", "0 3 * * *", "--sources", sources, "--db", db_url)
    assert added.returncode == 0, added.stderr.decode()

    [job] = schedules(db_url)
    assert job["source"] == "demo-paste" and job["schedule"] == "cron 0 3 * * *" and job["origin"] == "command line"
    next_run = datetime.fromisoformat(job["next_run"].replace("Z", "+00:00"))
    assert (next_run.hour, next_run.minute) == (3, 0) and next_run > datetime.now(timezone.utc)
    assert not job["paused"] and job["misfire_grace"] == 3600

    assert nigran("schedule", "pause", "demo-paste", "--db", db_url).returncode == 0
    assert [(j["paused"], j["next_run"]) for j in schedules(db_url)] == [(True, None)]
    assert nigran("schedule", "resume", "demo-paste", "--db", db_url).returncode == 0
    assert [j["next_run"] for j in schedules(db_url)] == [job["next_run"]]
    assert nigran("schedule", "remove", "demo-paste", "--db", db_url).returncode == 0
    assert schedules(db_url) == []

    gone = nigran("schedule", "remove", "demo-paste", "--db", db_url)
    assert (gone.returncode, gone.stderr.decode()) == (1, "nigran: error: no schedule for 'demo-paste' (see `nigran schedule list`)\n")


def test_schedule_add_refuses_unknown_sources_and_bad_schedules_with_exit_2(home, demo_sites, tmp_path):
    sources = str(demo_sources_file(tmp_path / "sources.yaml", demo_sites))
    unknown = nigran("schedule", "add", "--source", "nope", "--every", "1h", "--sources", sources)
    assert unknown.returncode == 2 and "unknown source 'nope'" in unknown.stderr.decode()
    bad = nigran("schedule", "add", "--source", "demo-paste", "--cron", "0 25 * * *", "--sources", sources)
    assert bad.returncode == 2 and bad.stderr.decode().startswith("nigran: error: not a cron expression")
    past = nigran("schedule", "add", "--source", "demo-paste", "--every", "1h", "--until", "2020-01-01", "--sources", sources)
    assert past.returncode == 2 and "in the past" in past.stderr.decode()


def test_missed_runs_coalesce_into_one_scheduled_crawl(home, demo_sites, tmp_path):
    db_url = f"sqlite:///{home / 'nigran.db'}"
    sources = str(demo_sources_file(tmp_path / "sources.yaml", demo_sites))
    until = datetime.now(timezone.utc) + timedelta(seconds=4)
    added = nigran("schedule", "add", "--source", "demo-paste", "--every", "1s", "--until", until.isoformat(),
                   "--sources", sources, "--db", db_url)
    assert added.returncode == 0, added.stderr.decode()
    time.sleep(max(0.0, (until - datetime.now(timezone.utc)).total_seconds()) + 1)  # every run time is missed

    scheduler = spawn(tmp_path, "scheduler", "scheduler", "--sources", sources, "--db", db_url, "--poll", "0.5")
    db = Database(db_url)
    wait_for(lambda: [r for r in runs(db) if r.status != "running"], what="the scheduled crawl's end")
    time.sleep(2)  # room for a second run, if missed runs were not coalesced
    scheduler.send_signal(signal.SIGTERM)
    assert scheduler.wait(30) == 0
    [run] = runs(db)
    assert (run.trigger, run.status, run.exit_code) == ("scheduled", "finished", 0)
    assert run.stats["sources"]["demo-paste"]["pages"] > 0
    assert schedules(db_url) == []  # its last run time has passed: the schedule is done
    log = output(tmp_path, "scheduler")[1]
    assert f"job demo-paste: run {run.id} finished (exit 0)" in log
    assert "scheduler stopped" in log


def test_running_scheduler_runs_a_schedule_added_elsewhere_and_stops_it_cleanly(home, demo_sites, tmp_path):
    db_url = f"sqlite:///{home / 'nigran.db'}"
    never_soon = f"0 {(datetime.now(timezone.utc).hour + 12) % 24} * * *"
    sources = str(demo_sources_file(tmp_path / "sources.yaml", demo_sites, enabled=("demo-paste", "demo-forum"),
                                    changes={"demo-paste": {"download_delay": 0.5}, "demo-forum": {"schedule": never_soon}}))
    db = Database(db_url)
    scheduler = spawn(tmp_path, "scheduler", "scheduler", "--sources", sources, "--db", db_url, "--poll", "0.5")
    wait_for(lambda: schedules(db_url), what="the sources file's schedule")
    [forum] = schedules(db_url)
    assert (forum["source"], forum["schedule"], forum["origin"]) == ("demo-forum", f"cron {never_soon}", "sources file")

    other = nigran("scheduler", "--sources", sources, "--db", db_url)
    assert other.returncode == 3 and "another scheduler holds the lock" in other.stderr.decode()

    added = nigran("schedule", "add", "--source", "demo-paste", "--every", "2s", "--sources", sources, "--db", db_url)
    assert added.returncode == 0, added.stderr.decode()
    wait_for(lambda: "maximum number of running instances reached" in output(tmp_path, "scheduler")[1],
             what="the 2s schedule coming due again during its own crawl")  # and being skipped, not overlapping
    wait_for(lambda: capture_count(db) >= 3, what="the scheduled crawl's captures")
    scheduler.send_signal(signal.SIGTERM)
    assert scheduler.wait(60) == 0, output(tmp_path, "scheduler")
    [run] = runs(db)
    assert (run.trigger, run.status, run.exit_code) == ("scheduled", "interrupted", 130)
    assert_consistent(db, home)
    log = output(tmp_path, "scheduler")[1]
    assert "stopping the running crawl" in log and f"job demo-paste: run {run.id} interrupted" in log


def test_schedules_stored_before_the_nigran_package_still_load(db_url, home, demo_sites, tmp_path):
    """Migration 0007 renames the function a stored job names (`scheduler:...` became `nigran.scheduler:...`)."""
    sources = str(demo_sources_file(tmp_path / "sources.yaml", demo_sites))
    added = nigran("schedule", "add", "--source", "demo-paste", "--cron", "0 3 * * *", "--sources", sources, "--db", db_url)
    assert added.returncode == 0, added.stderr.decode()
    db = Database(db_url)
    with db.engine.begin() as conn:
        cfg = alembic_config(db_url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
        [state] = [pickle.loads(blob) for blob in conn.execute(text("SELECT job_state FROM apscheduler_jobs")).scalars()]
    assert state["func"] == "scheduler:run_scheduled_crawl"  # as a store written before the rename holds it
    [listed] = schedules(db_url)  # opening the store migrates it
    assert listed["source"] == "demo-paste" and listed["next_run"]
