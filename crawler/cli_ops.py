"""Operations commands: `schedule`, `scheduler`, `sweep`, `runs` and `watch`.

`register(main)` builds them with the shared options and helpers of the module that defines `main`
(taken from sys.modules, so `python -m crawler.cli` does not import the CLI a second time).
"""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from types import ModuleType

import click
from rich.table import Table

from config.alerts import DEFAULT_ALERTS, AlertsFile, load_alerts
from config.schema import ConfigError
from crawler.terminal import SafeLogFormatter, say


def register(main: click.Group) -> None:
    """Add the operations commands to the `nigran` group."""
    cli = sys.modules[main.callback.__module__]
    for build in (_schedule, _scheduler, _sweep, _runs, _watch):
        main.add_command(build(cli))


def _alerts_option(f):
    return click.option("--alerts", "alerts_path", envvar="NIGRAN_ALERTS", type=click.Path(path_type=Path),
                        help=f"Alerts YAML file (env NIGRAN_ALERTS; default {DEFAULT_ALERTS} when it exists).")(f)


def _load_alerts(cli: ModuleType, path: Path | None) -> AlertsFile:
    try:
        return load_alerts(path or DEFAULT_ALERTS, required=path is not None)
    except ConfigError as exc:
        cli.fail(str(exc), 2)


def _table(title: str, columns: tuple[str, ...], rows: list[tuple]) -> Table:
    table = Table(title=title)
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*("-" if v is None else str(v) for v in row))
    return table


# --- schedules ------------------------------------------------------------------------------------

def _schedule(cli: ModuleType) -> click.Group:
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
    @cli.sources_option
    @cli.db_option
    def add(source, cron, every, until, misfire_grace, sources_path, db_url):
        """Schedule crawls of a source (replacing its schedule). Exit status: 0, 2 invalid source or schedule."""
        from scheduler import ScheduleError, add_schedule, job_dict, make_trigger, stored_jobs

        cli.load_or_exit(sources_path, (source,))
        try:
            trigger, spec = make_trigger(cron, every, cli.iso_datetime(until))
        except click.BadParameter as exc:
            cli.fail(exc.message, 2)
        except ScheduleError as exc:
            cli.fail(str(exc), 2)
        with stored_jobs(cli.open_db(db_url)) as sched:
            job = job_dict(add_schedule(sched, source, sources_path, trigger, spec, misfire_grace=misfire_grace))
        say(f"{source}: {spec}; next run {job['next_run'] or 'none'}")

    @schedule.command("list")
    @cli.db_option
    @cli.json_option
    def list_(db_url, as_json):
        """List the schedules. JSON fields: source, schedule, origin, paused, next_run, misfire_grace, sources_file."""
        from scheduler import job_dict, stored_jobs

        with stored_jobs(cli.open_db(db_url)) as sched:
            rows = [job_dict(job) for job in sched.get_jobs()]
        if as_json:
            for row in rows:
                cli.print_json_line(row)
            return
        cli.out.print(_table(f"{len(rows)} schedules", ("source", "schedule", "from", "next run (UTC)", "misfire grace"),
                             [(r["source"], r["schedule"], r["origin"], (r["next_run"] or "paused")[:19],
                               f"{r['misfire_grace']}s") for r in rows]))

    def change(verb: str, help_text: str):
        @schedule.command(verb, help=help_text + " Exit status: 0, 1 no such schedule.")
        @click.argument("source")
        @cli.db_option
        def command(source, db_url):
            from apscheduler.jobstores.base import JobLookupError

            from scheduler import job_dict, stored_jobs

            with stored_jobs(cli.open_db(db_url)) as sched:
                try:
                    job = getattr(sched, f"{verb}_job")(source)
                except JobLookupError:
                    cli.fail(f"no schedule for {source!r} (see `nigran schedule list`)")
                if verb == "remove":
                    say(f"{source}: schedule removed")
                elif job is None:  # resumed past its end
                    say(f"{source}: schedule removed, it has no run left")
                else:
                    say(f"{source}: {verb}d; next run {job_dict(job)['next_run'] or 'none'}")

    change("pause", "Pause a source's schedule (kept, but not run).")
    change("resume", "Resume a paused schedule.")
    change("remove", "Remove a source's schedule (a sources-file schedule comes back when the scheduler restarts).")
    return schedule


def _scheduler(cli: ModuleType) -> click.Command:
    @click.command("scheduler")
    @cli.sources_option
    @_alerts_option
    @cli.db_option
    @click.option("--poll", type=click.FloatRange(min=0.1), default=10.0, show_default=True, envvar="NIGRAN_SCHEDULER_POLL",
                  help="Seconds between looks for schedules changed by other processes (env NIGRAN_SCHEDULER_POLL).")
    @click.option("--job-timeout", type=click.FloatRange(min=1), default=6 * 3600.0, show_default=True,
                  envvar="NIGRAN_JOB_TIMEOUT", help="Seconds after which a running crawl is stopped (env NIGRAN_JOB_TIMEOUT).")
    @click.option("--stop-grace", type=click.FloatRange(min=0), default=60.0, show_default=True,
                  envvar="NIGRAN_STOP_GRACE", help="Seconds a stopping crawl gets before it is killed (env NIGRAN_STOP_GRACE).")
    def scheduler(sources_path, alerts_path, db_url, poll, job_timeout, stop_grace):
        """Run scheduled crawls in the foreground, logging to stderr, until SIGTERM or Ctrl-C.

        Each crawl runs in its own process, one at a time; a stop lets the running crawl end cleanly
        (its run is marked interrupted). Exit status: 0 stopped, 1 database unreachable,
        2 invalid configuration, 3 another scheduler runs on this database.
        """
        from crawler.settings import LOG_DATEFORMAT, LOG_FORMAT
        from storage.locks import LockHeld
        from scheduler import Options, serve

        sources = cli.load_or_exit(sources_path)
        alerts = _load_alerts(cli, alerts_path)
        db = cli.open_db(db_url)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(SafeLogFormatter(LOG_FORMAT, LOG_DATEFORMAT))
        handler.formatter.converter = time.gmtime
        logging.getLogger().handlers[:] = [handler]
        logging.getLogger().setLevel(logging.INFO)
        try:
            serve(db, sources, sources_path, alerts, Options(poll, job_timeout, stop_grace))
        except LockHeld as exc:
            cli.fail(str(exc), 3)

    return scheduler


# --- sweeps and runs ------------------------------------------------------------------------------

def _sweep(cli: ModuleType) -> click.Command:
    @click.command("sweep")
    @cli.sources_option
    @_alerts_option
    @cli.db_option
    @cli.json_option
    @click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's INFO log on stderr.")
    @click.option("--workers", "redis_url", metavar="REDIS_URL",
                  help="Have `nigran worker` processes crawl it through this Redis frontier (see `crawl --workers`).")
    def sweep(sources_path, alerts_path, db_url, as_json, verbose, redis_url):
        """Crawl every enabled source once (for cron or a systemd timer), then queue and send alerts.

        Overlapping sweeps on one database (even from other hosts, on PostgreSQL) are refused.
        Exit status: 0 every source ran, 1 some failed, 2 invalid configuration, 3 another sweep
        holds the lock, 130 stopped by SIGTERM/SIGINT (the run is marked interrupted).
        """
        from crawler.frontier import FrontierError
        from crawler.sweep import sweep as run_sweep
        from storage.locks import LockHeld

        sources = cli.load_or_exit(sources_path)
        if not sources:
            cli.fail(f"{sources_path}: no enabled source to sweep", 2)
        alerts = _load_alerts(cli, alerts_path)
        db = cli.open_db(db_url)
        try:
            result = run_sweep(sources, db, alerts, verbose=verbose, progress=not as_json, redis_url=redis_url,
                               sources_file=sources_path)
        except LockHeld as exc:
            cli.fail(str(exc), 3)
        except FrontierError as exc:
            cli.fail(str(exc))
        if as_json:
            cli.print_json_line(result.as_dict())
        else:
            cli.print_summary(result.crawl, False)
            a = result.alerts
            cli.out.print(f"Run {result.crawl.run_id} {result.status}. Alerts: {len(a.new)} new, "
                          f"{a.delivered} delivered, {a.queued} waiting for delivery.")
            for alert in a.new:
                cli.out.print(f"  alert {alert['alert_id']}: {alert['summary']}")
        sys.exit(result.exit_code)

    return sweep


def _runs(cli: ModuleType) -> click.Command:
    @click.command("runs")
    @cli.db_option
    @click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True, help="Newest N runs (0: all).")
    @click.option("--trigger", type=click.Choice(["manual", "scheduled", "sweep", "demo", "scrapy"]),
                  help="Only runs started this way.")
    @cli.json_option
    def runs(db_url, limit, trigger, as_json):
        """Crawl runs, newest first: trigger, UTC start and end, status, exit status, per-source counts, alerts.

        A running run of this host whose process is gone (killed, crashed) is first marked interrupted,
        with the counts of the captures it stored; one of another host is shown as its host last left it.

        JSON fields: id, trigger, started_at, ended_at, status, exit_code, host, pid, pages, captures, posts,
        offers_new, offers_updated, errors, alerts, sources {name: {pages, captures, posts, offers_new,
        offers_updated, errors, finish_reason, failure}}, log.
        """
        from sqlalchemy import func, select

        from storage.utc import iso
        from storage.models import Alert, Run
        from storage.runs import close_dead_runs

        totals = ("pages", "captures", "posts", "offers_new", "offers_updated", "errors")
        db = cli.open_db(db_url)
        with db.session() as s:
            close_dead_runs(s)
            stmt = select(Run).order_by(Run.id.desc())
            if trigger:
                stmt = stmt.where(Run.trigger == trigger)
            selected = list(s.scalars(stmt.limit(limit or None)))
            alerts = dict(s.execute(select(Alert.run_id, func.count()).where(Alert.run_id.in_([r.id for r in selected]))
                                    .group_by(Alert.run_id)).all())
        rows = []
        for run in selected:
            sources = {name: {k: v for k, v in report.items() if k != "source"}
                       for name, report in (run.stats or {}).get("sources", {}).items()}
            rows.append({"id": run.id, "trigger": run.trigger, "started_at": iso(run.started_at),
                         "ended_at": iso(run.ended_at), "status": run.status, "exit_code": run.exit_code,
                         "host": run.host, "pid": run.pid,
                         **{k: sum(int(r.get(k) or 0) for r in sources.values()) for k in totals},
                         "alerts": alerts.get(run.id, 0), "sources": sources, "log": (run.stats or {}).get("log")})
        if as_json:
            for row in rows:
                cli.print_json_line(row)
            return
        cli.out.print(_table(f"{len(rows)} runs", (
            "id", "trigger", "started (UTC)", "ended", "status", "exit", "sources", "pages", "captures", "new offers",
            "updated", "errors", "alerts"), [(
                r["id"], r["trigger"], r["started_at"][:19], (r["ended_at"] or "")[11:19] or None, r["status"],
                r["exit_code"], ", ".join(r["sources"]) or None, r["pages"], r["captures"], r["offers_new"],
                r["offers_updated"], r["errors"], r["alerts"]) for r in rows]))

    return runs


# --- watchlist ------------------------------------------------------------------------------------

def _watch(cli: ModuleType) -> click.Group:
    @click.group("watch")
    def watch():
        """Watched identifiers: any new capture that shows one raises an alert.

        Only a keyed hash (under the installation's identifier key), the masked form and your label
        are stored, never the identifier itself.
        """

    @watch.command("add")
    @click.option("--cnic", help="A CNIC, e.g. 35202-1234567-1 (- reads it from standard input).")
    @click.option("--phone", help="A Pakistani mobile number, e.g. 0300-1234567 (- reads standard input).")
    @click.option("--passport", help="A Pakistani passport number, e.g. AB1234567 (- reads standard input).")
    @click.option("--label", required=True, help="Who or what this is, for the alerts (stored as given).")
    @cli.db_option
    @cli.json_option
    def add(cnic, phone, passport, label, db_url, as_json):
        """Watch an identifier. Exit status: 0 added, 1 already watched, 2 invalid identifier."""
        from crawler.alerts import AlreadyWatched, WatchError, add_watch

        given = [(kind, value) for kind, value in (("cnic", cnic), ("pk_mobile", phone), ("passport", passport)) if value]
        if len(given) != 1:
            cli.fail("give exactly one of --cnic, --phone, --passport", 2)
        kind, value = given[0]
        if value == "-":
            value = sys.stdin.readline().strip()
        try:
            added = add_watch(cli.open_db(db_url), kind, value, label)
        except AlreadyWatched as exc:
            cli.fail(str(exc), 1)
        except WatchError as exc:
            cli.fail(str(exc), 2)
        show_watches(cli, [added], as_json, title="added to the watchlist")

    @watch.command("list")
    @cli.db_option
    @cli.json_option
    def list_(db_url, as_json):
        """List watched identifiers (masked). JSON fields: id, type, masked, label, added_at."""
        from crawler.alerts import list_watches

        show_watches(cli, list_watches(cli.open_db(db_url)), as_json)

    @watch.command("remove")
    @click.argument("watch_id", type=int)
    @cli.db_option
    def remove(watch_id, db_url):
        """Stop watching an identifier (by id, see `nigran watch list`). Exit status: 0, 1 no such id."""
        from crawler.alerts import remove_watch

        removed = remove_watch(cli.open_db(db_url), watch_id)
        if removed is None:
            cli.fail(f"no watched identifier with id {watch_id}")
        say(f"watch {watch_id} removed: {removed.type} {removed.masked} ({removed.label})")

    return watch


def show_watches(cli: ModuleType, watches: list, as_json: bool, title: str = "watched identifiers") -> None:
    from storage.utc import iso

    rows = [{"id": w.id, "type": w.type, "masked": w.masked, "label": w.label, "added_at": iso(w.added_at)}
            for w in watches]
    if as_json:
        for row in rows:
            cli.print_json_line(row)
        return
    cli.out.print(_table(f"{len(rows)} {title}", ("id", "type", "masked", "label", "added (UTC)"),
                         [(r["id"], r["type"], r["masked"], r["label"], r["added_at"][:19]) for r in rows]))
