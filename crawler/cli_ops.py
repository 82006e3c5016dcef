"""Operations commands: `schedule`, `scheduler`, `sweep`, `runs` and `watch`."""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import click

from nigran.config.alerts import DEFAULT_ALERTS, AlertsFile, load_alerts
from nigran.config.schema import ConfigError
from nigran.crawler.cli_common import (db_option, fail, iso_datetime, json_option, load_or_exit, open_db, out,
                                       print_json_line, print_json_lines, print_stops, print_summary, setting_option,
                                       sources_option, table, verbose_option)
from nigran.crawler.terminal import SafeLogFormatter, say

alerts_option = setting_option("NIGRAN_ALERTS", "alerts_path", type=click.Path(path_type=Path))


def load_alerts_or_exit(path: Path | None) -> AlertsFile:
    """The alerts file given (or the default one, when it exists), or exit 2 when it is invalid."""
    try:
        return load_alerts(path or DEFAULT_ALERTS, required=path is not None)
    except ConfigError as exc:
        fail(str(exc), 2)


# --- schedules ------------------------------------------------------------------------------------

@click.group("schedule")
def schedule():
    """Crawl schedules, kept in the database and run by `nigran scheduler`.

    One schedule per source, in UTC. Sources may also carry `schedule:` in the sources file;
    a schedule added here takes precedence over the file's.
    """


@schedule.command("add")
@click.option("--source", required=True, help="The source to crawl (from the sources file).")
@click.option("--cron", help='Cron expression, UTC: "minute hour day month weekday", e.g. "0 3 * * *".')
@click.option("--every", help="Or an interval: 30s, 15m, 6h, 1d.")
@click.option("--until", help="No runs after this ISO-8601 time.")
@click.option("--misfire-grace", type=click.IntRange(min=1), show_default="3600, an hour",
              help="Seconds a run may start late (scheduler down or busy) before it is skipped.")
@sources_option
@db_option
def schedule_add(source, cron, every, until, misfire_grace, sources_path, db_url):
    """Schedule crawls of a source (replacing its schedule). Exit status: 0, 2 invalid source or schedule."""
    from nigran.scheduler import ScheduleError, add_schedule, job_dict, make_trigger, stored_jobs

    load_or_exit(sources_path, (source,))
    try:
        trigger, spec = make_trigger(cron, every, iso_datetime(until))
    except click.BadParameter as exc:
        fail(exc.message, 2)
    except ScheduleError as exc:
        fail(str(exc), 2)
    with stored_jobs(open_db(db_url)) as sched:
        job = job_dict(add_schedule(sched, source, sources_path, trigger, spec, misfire_grace=misfire_grace))
    say(f"{source}: {spec}; next run {job['next_run'] or 'none'}")


@schedule.command("list")
@db_option
@json_option
def schedule_list(db_url, as_json):
    """List the schedules. JSON fields: source, schedule, origin, paused, next_run, misfire_grace, sources_file."""
    from nigran.scheduler import job_dict, stored_jobs

    with stored_jobs(open_db(db_url)) as sched:
        rows = [job_dict(job) for job in sched.get_jobs()]
    if as_json:
        print_json_lines(rows)
        return
    out.print(table(f"{len(rows)} schedules", ("source", "schedule", "from", "next run (UTC)", "misfire grace"),
                    [(r["source"], r["schedule"], r["origin"], (r["next_run"] or "paused")[:19],
                      f"{r['misfire_grace']}s") for r in rows]))


def change_schedule(verb: str, source: str, db_url: str | None) -> None:
    """Pause, resume or remove the schedule of `source` and say so; exit 1 when it has none."""
    from apscheduler.jobstores.base import JobLookupError

    from nigran.scheduler import job_dict, stored_jobs

    with stored_jobs(open_db(db_url)) as sched:
        try:
            job = getattr(sched, f"{verb}_job")(source)
        except JobLookupError:
            fail(f"no schedule for {source!r} (see `nigran schedule list`)")
        if verb == "remove":
            say(f"{source}: schedule removed")
        elif job is None:  # resumed past its end
            say(f"{source}: schedule removed, it has no run left")
        else:
            say(f"{source}: {verb}d; next run {job_dict(job)['next_run'] or 'none'}")


@schedule.command("pause")
@click.argument("source")
@db_option
def schedule_pause(source, db_url):
    """Pause a source's schedule (kept, but not run). Exit status: 0, 1 no such schedule."""
    change_schedule("pause", source, db_url)


@schedule.command("resume")
@click.argument("source")
@db_option
def schedule_resume(source, db_url):
    """Resume a paused schedule. Exit status: 0, 1 no such schedule."""
    change_schedule("resume", source, db_url)


@schedule.command("remove")
@click.argument("source")
@db_option
def schedule_remove(source, db_url):
    """Remove a source's schedule (a sources-file schedule comes back when the scheduler restarts).
    Exit status: 0, 1 no such schedule."""
    change_schedule("remove", source, db_url)


def log_to_stderr() -> None:
    """Log INFO and above to stderr, in UTC, made safe for a terminal."""
    from nigran.crawler.settings import LOG_DATEFORMAT, LOG_FORMAT

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeLogFormatter(LOG_FORMAT, LOG_DATEFORMAT))
    handler.formatter.converter = time.gmtime
    logging.getLogger().handlers[:] = [handler]
    logging.getLogger().setLevel(logging.INFO)


@click.command("scheduler")
@sources_option
@alerts_option
@db_option
@setting_option("NIGRAN_SCHEDULER_POLL", "poll", type=click.FloatRange(min=0.1), default=10.0, show_default=True)
@setting_option("NIGRAN_JOB_TIMEOUT", "job_timeout", type=click.FloatRange(min=1), default=6 * 3600.0, show_default=True)
@setting_option("NIGRAN_STOP_GRACE", "stop_grace", type=click.FloatRange(min=0), default=60.0, show_default=True)
def scheduler(sources_path, alerts_path, db_url, poll, job_timeout, stop_grace):
    """Run scheduled crawls in the foreground, logging to stderr, until SIGTERM or Ctrl-C.

    Each crawl runs in its own process, one at a time; a stop lets the running crawl end cleanly
    (its run is marked interrupted). Exit status: 0 stopped, 1 database unreachable,
    2 invalid configuration, 3 another scheduler runs on this database.
    """
    from nigran.scheduler import Options, serve
    from nigran.storage.locks import LockHeld

    sources = load_or_exit(sources_path)
    alerts = load_alerts_or_exit(alerts_path)
    db = open_db(db_url)
    log_to_stderr()
    try:
        serve(db, sources, sources_path, alerts, Options(poll, job_timeout, stop_grace))
    except LockHeld as exc:
        fail(str(exc), 3)


# --- sweeps and runs ------------------------------------------------------------------------------

@click.command("sweep")
@sources_option
@alerts_option
@db_option
@json_option
@verbose_option
@click.option("--workers", "redis_url", metavar="REDIS_URL",
              help="Have `nigran worker` processes crawl it through this Redis frontier (see `crawl --workers`).")
def sweep(sources_path, alerts_path, db_url, as_json, verbose, redis_url):
    """Crawl every enabled source once (for cron or a systemd timer), then queue and send alerts.

    Overlapping sweeps on one database (even from other hosts, on PostgreSQL) are refused.
    Exit status: 0 every source ran, 1 some failed, 2 invalid configuration, 3 another sweep
    holds the lock, 130 stopped by SIGTERM/SIGINT (the run is marked interrupted).
    """
    from nigran.crawler.frontier import FrontierError
    from nigran.crawler.sweep import sweep as run_sweep
    from nigran.storage.locks import LockHeld

    sources = load_or_exit(sources_path)
    if not sources:
        fail(f"{sources_path}: no enabled source to sweep", 2)
    alerts = load_alerts_or_exit(alerts_path)
    db = open_db(db_url)
    try:
        result = run_sweep(sources, db, alerts, verbose=verbose, progress=not as_json, redis_url=redis_url,
                           sources_file=sources_path)
    except LockHeld as exc:
        fail(str(exc), 3)
    except FrontierError as exc:
        fail(str(exc))
    if as_json:
        print_stops(result.crawl)
        print_json_line(result.as_dict())
    else:
        print_summary(result.crawl, False)
        a = result.alerts
        out.print(f"Run {result.crawl.run_id} {result.status}. Alerts: {len(a.new)} new, "
                  f"{a.delivered} delivered, {a.queued} waiting for delivery.")
        for alert in a.new:
            out.print(f"  alert {alert['alert_id']}: {alert['summary']}")
    sys.exit(result.exit_code)


@click.command("runs")
@db_option
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True, help="Newest N runs (0: all).")
@click.option("--trigger", type=click.Choice(["manual", "scheduled", "sweep", "demo", "scrapy", "session-check"]),
              help="Only runs started this way.")
@json_option
def runs(db_url, limit, trigger, as_json):
    """Crawl runs, newest first: trigger, UTC start and end, status, exit status, per-source counts, alerts.

    A running run of this host whose process is gone (killed, crashed) is first marked interrupted,
    with the counts of the captures it stored; one of another host is shown as its host last left it.

    JSON fields: id, trigger, started_at, ended_at, status, exit_code, host, pid, pages, captures, posts,
    offers_new, offers_updated, errors, alerts, sources {name: {pages, captures, posts, offers_new,
    offers_updated, errors, finish_reason, failure}}, log.
    """
    from nigran.storage.runs import run_history

    rows = run_history(open_db(db_url), limit, trigger)
    if as_json:
        print_json_lines(rows)
        return
    out.print(table(f"{len(rows)} runs", (
        "id", "trigger", "started (UTC)", "ended", "status", "exit", "sources", "pages", "captures", "new offers",
        "updated", "errors", "alerts"), [(
            r["id"], r["trigger"], r["started_at"][:19], (r["ended_at"] or "")[11:19] or None, r["status"],
            r["exit_code"], list(r["sources"]), r["pages"], r["captures"], r["offers_new"],
            r["offers_updated"], r["errors"], r["alerts"]) for r in rows],
        drop=("sources", "updated", "ended", "alerts", "captures", "trigger", "errors", "exit", "new offers", "pages",
              "status", "started (UTC)")))


# --- watchlist ------------------------------------------------------------------------------------

@click.group("watch")
def watch():
    """Watched identifiers: any new capture that shows one raises an alert.

    Only a keyed hash (under the installation's identifier key), the masked form and your label
    are stored, never the identifier itself.
    """


def show_watches(watches: list, as_json: bool, title: str = "watched identifiers") -> None:
    """Watched identifiers as a table, or JSON lines."""
    from nigran.storage.utc import iso

    rows = [{"id": w.id, "type": w.type, "masked": w.masked, "label": w.label, "added_at": iso(w.added_at)}
            for w in watches]
    if as_json:
        print_json_lines(rows)
        return
    out.print(table(f"{len(rows)} {title}", ("id", "type", "masked", "label", "added (UTC)"),
                    [(r["id"], r["type"], r["masked"], r["label"], r["added_at"][:19]) for r in rows]))


@watch.command("add")
@click.option("--cnic", help="A CNIC, e.g. 35202-1234567-1 (- reads it from standard input).")
@click.option("--phone", help="A Pakistani mobile number, e.g. 0300-1234567 (- reads standard input).")
@click.option("--passport", help="A Pakistani passport number, e.g. AB1234567 (- reads standard input).")
@click.option("--label", required=True, help="Who or what this is, for the alerts (stored as given).")
@db_option
@json_option
def watch_add(cnic, phone, passport, label, db_url, as_json):
    """Watch an identifier. Exit status: 0 added, 1 already watched, 2 invalid identifier."""
    from nigran.crawler.alerts import AlreadyWatched, WatchError, add_watch

    given = [(kind, value) for kind, value in (("cnic", cnic), ("pk_mobile", phone), ("passport", passport)) if value]
    if len(given) != 1:
        fail("give exactly one of --cnic, --phone, --passport", 2)
    kind, value = given[0]
    if value == "-":
        value = sys.stdin.readline().strip()
    try:
        added = add_watch(open_db(db_url), kind, value, label)
    except AlreadyWatched as exc:
        fail(str(exc), 1)
    except WatchError as exc:
        fail(str(exc), 2)
    show_watches([added], as_json, title="added to the watchlist")


@watch.command("list")
@db_option
@json_option
def watch_list(db_url, as_json):
    """List watched identifiers (masked). JSON fields: id, type, masked, label, added_at."""
    from nigran.crawler.alerts import list_watches

    show_watches(list_watches(open_db(db_url)), as_json)


@watch.command("remove")
@click.argument("watch_id", type=int)
@db_option
def watch_remove(watch_id, db_url):
    """Stop watching an identifier (by id, see `nigran watch list`). Exit status: 0, 1 no such id."""
    from nigran.crawler.alerts import remove_watch

    removed = remove_watch(open_db(db_url), watch_id)
    if removed is None:
        fail(f"no watched identifier with id {watch_id}")
    say(f"watch {watch_id} removed: {removed.type} {removed.masked} ({removed.label})")


COMMANDS = (schedule, scheduler, sweep, runs, watch)
