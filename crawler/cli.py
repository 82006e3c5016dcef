"""The `nigran` command line."""
from __future__ import annotations

import getpass
import os
import sys
import time

import click

from nigran.config.schema import ConfigError, load_sources
from nigran.crawler import cli_evidence, cli_ops, cli_sessions
from nigran.crawler.cli_common import (CATEGORIES, OneLineErrors, db_option, fail, iso_datetime, json_option,
                                       load_or_exit, open_db, out, print_json_line, print_json_lines, print_summary,
                                       setting_option, source_filter_option, sources_option, table, tor_control_option,
                                       tor_socks_option, verbose_option)
from nigran.crawler.source_status import source_rows
from nigran.crawler.terminal import say
from nigran.storage.db import Database, DatabaseError
from nigran.storage.home import default_db_url


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nigran")
def main():
    """nigran watches where Pakistani citizens' personal data is sold, and keeps evidence of every offer."""


# --- crawling -----------------------------------------------------------------------------------

@main.command()
@sources_option
@click.option("--source", "names", multiple=True, help="Crawl only this source (repeatable).")
@db_option
@tor_socks_option
@tor_control_option
@json_option
@verbose_option
@click.option("--workers", "redis_url", metavar="REDIS_URL",
              help="Hand the crawl to `nigran worker` processes through this Redis frontier and wait for them.")
@click.option("--trigger", type=click.Choice(["manual", "scheduled"]), default="manual", hidden=True)
def crawl(sources_path, names, db_url, tor_socks, tor_control, as_json, verbose, redis_url, trigger):
    """Crawl the enabled sources (or the named ones) once.

    Exit status: 0 every source ran, 1 some failed, 2 invalid configuration.
    """
    from nigran.crawler.crawl import run_crawl
    from nigran.crawler.frontier import FrontierError
    from nigran.crawler.tor import TorConfig
    from nigran.crawler.worker import coordinate

    sources = load_or_exit(sources_path, names)
    if not sources:
        fail(f"{sources_path}: no enabled source to crawl", 2)
    db = open_db(db_url)
    if redis_url:
        try:
            result = coordinate(sources, db.url, redis_url, verbose=verbose, progress=not as_json,
                                sources_file=sources_path)
        except FrontierError as exc:
            fail(str(exc))
    else:
        result = run_crawl(sources, db.url, trigger=trigger, verbose=verbose, progress=not as_json,
                           tor=TorConfig.from_env(tor_socks, tor_control), sources_file=sources_path)
    print_summary(result, as_json)
    sys.exit(result.exit_code)


@main.command()
@setting_option("NIGRAN_REDIS", "redis_url", required=True, metavar="REDIS_URL",
                help="The frontier that `nigran crawl --workers` publishes runs on (env NIGRAN_REDIS).")
@setting_option("NIGRAN_DB", "db_url", help="Write here instead of the database the run names (env NIGRAN_DB).")
@tor_socks_option
@tor_control_option
@click.option("--wait", type=float, default=None, metavar="SECONDS",
              help="Give up when no run is published within this time (default: wait for ever).")
@click.option("--forever", is_flag=True, help="After a run, wait for the next one (a long-lived worker).")
@verbose_option
def worker(redis_url, db_url, tor_socks, tor_control, wait, forever, verbose):
    """Crawl the runs published on a Redis frontier, together with any other workers.

    Exit status: 0 the run was drained, 1 a source failed here (e.g. Tor lost), 3 no run came within --wait,
    130 stopped (its unfinished requests go back to the frontier for the others).
    """
    from nigran.crawler.frontier import FrontierError
    from nigran.crawler.tor import TorConfig
    from nigran.crawler.worker import run_worker, wait_for_run

    try:
        run = wait_for_run(redis_url, wait)
    except FrontierError as exc:
        fail(str(exc))
    if run is None:
        fail(f"no run was published on {redis_url} within {wait:g} s", 3)
    say(f"nigran worker: crawling run {run.run_id} ({', '.join(s.name for s in run.sources)})", err=True)
    code = run_worker(redis_url, run, db_url=db_url, tor=TorConfig.from_env(tor_socks, tor_control), verbose=verbose)
    say(f"nigran worker: run {run.run_id} {'drained' if code == 0 else f'ended with exit status {code}'}", err=True)
    if forever and code in (0, 1):  # a fresh process for the next run: Scrapy's reactor cannot restart
        os.execv(sys.executable, [sys.executable, "-m", "nigran.crawler", *sys.argv[1:]])
    sys.exit(code)


@main.command()
@click.option("--keep-serving", is_flag=True, help="Keep the demo sites up after the crawl (Ctrl-C stops).")
def demo(keep_serving):
    """Serve the bundled demo sites on 127.0.0.1, crawl them into a fresh database, show the offers."""
    from nigran.crawler.demo.run import crawl_demo
    from nigran.crawler.demo.server import DemoSites

    with DemoSites() as sites:
        out.print(f"Demo sites: {', '.join(f'{k} {v}' for k, v in sites.urls.items())}")
        run = crawl_demo(sites.urls)
        print_summary(run.result, False)
        show_offers(run.offers)
        out.print(f"\nDatabase: {run.db_url}\nEvidence bodies: {run.home / 'bodies'}\n"
                  f"Try: nigran offers --db {run.db_url} --category cnic")
        if keep_serving:
            out.print("Serving the demo sites; Ctrl-C to stop.")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    sys.exit(run.result.exit_code)


# --- reading results ----------------------------------------------------------------------------

def show_offers(rows: list[dict]) -> None:
    """The offers table of `nigran offers` and `nigran demo`."""
    out.print(table(f"{len(rows)} offers and requests",
                    ("id", "source", "kind", "categories", "prices", "contacts", "identifiers", "first seen"), [(
                        r["id"], r["source"], r["kind"], r["categories"],
                        [f"{p['amount']:g} {p['currency']}" for p in r["prices"]],
                        [c["value"] for c in r["contacts"]], [i["value"] for i in r["identifiers"]],
                        (r["first_seen"] or "")[:19] or None) for r in rows],
                    drop=("contacts", "prices", "kind", "categories", "first seen", "source", "identifiers")))


@main.command()
@db_option
@click.option("--since", help="Only offers seen at or after this ISO-8601 time (UTC unless zoned).")
@click.option("--category", type=click.Choice(CATEGORIES), help="Only offers of this category.")
@source_filter_option
@json_option
@click.option("--reveal", is_flag=True, help="Show raw identifiers, re-read from the captured evidence (audited).")
@click.option("--operator", default=lambda: os.environ.get("NIGRAN_OPERATOR") or getpass.getuser(),
              show_default="$NIGRAN_OPERATOR or your login", help="Who asks, for the reveal audit.")
def offers(db_url, since, category, sources, as_json, reveal, operator):
    """List offers and requests found, newest first.

    Exit status with --reveal: 1 when some identifier could not be re-read from the evidence."""
    from nigran.crawler.settings import DOWNLOAD_MAXSIZE
    from nigran.pipelines.reveal import list_offers

    listed = list_offers(open_db(db_url), since=iso_datetime(since), category=category, sources=sources,
                         reveal_for=operator if reveal else None, max_size=DOWNLOAD_MAXSIZE)
    if as_json:
        print_json_lines(listed.rows)
    else:
        show_offers(listed.rows)
    if listed.unrevealed:
        fail("could not reveal every identifier of offers "
             + "; ".join(f"{offer_id} ({why})" for offer_id, why in listed.unrevealed.items()))


@main.command()
@db_option
@json_option
def reveals(db_url, as_json):
    """List the reveal audit, newest first: when, operator (as typed), OS user, host, offers.

    JSON fields: id, at, operator, os_user, host, offer_ids."""
    from nigran.storage import queries

    with open_db(db_url).session() as session:
        rows = [queries.reveal_dict(r) for r in queries.reveals(session)]
    if as_json:
        print_json_lines(rows)
        return
    out.print(table(f"{len(rows)} reveals", ("id", "at (UTC)", "operator", "OS user", "host", "offers"), [
        (r["id"], r["at"][:19], r["operator"], r["os_user"] or None, r["host"] or None,
         r["offer_ids"]) for r in rows]))


@main.command()
@db_option
@source_filter_option
@click.option("--since", help="Only posts seen at or after this ISO-8601 time.")
@json_option
def posts(db_url, sources, since, as_json):
    """List stored posts, newest first."""
    from nigran.storage import queries

    with open_db(db_url).session() as session:
        rows = [queries.post_dict(p) for p in queries.posts(session, since=iso_datetime(since), sources=sources)]
    if as_json:
        print_json_lines(rows)
        return
    out.print(table(f"{len(rows)} posts", ("id", "source", "author", "posted at", "text"), [
        (r["id"], r["source"], r["author"] or None, (r["posted_at"] or "-")[:19], r["text"][:200]) for r in rows],
        free=("text",), drop=("text", "author", "posted at", "source")))


@main.command()
@click.argument("input_file", default="-", type=click.File("rb"))
@click.option("--jsonl", is_flag=True, help='Each input line is {"id", "text"}; one output line each.')
@click.option("--reveal", is_flag=True, help="Show identifiers in full (masked by default).")
@click.option("--explain", is_flag=True, help="Add the cues behind each decision.")
def extract(input_file, jsonl, reveal, explain):
    """Run offer extraction over text or HTML (a file, or - for standard input)."""
    from nigran.pipelines.extraction.batch import BadRecord, extract_input

    try:
        print_json_lines(extract_input(input_file.read(), jsonl=jsonl, explain=explain, reveal=reveal))
    except BadRecord as exc:
        fail(str(exc), 2)


# --- tor ----------------------------------------------------------------------------------------

@main.group()
def tor():
    """Inspect and steer the Tor client nigran uses."""


def attached_tor(tor_socks, tor_control):
    """A control session on the tor given by the options, or exit (2 when none is given, 1 when unreachable)."""
    from nigran.crawler.tor import TorConfig, TorError, open_tor

    config = TorConfig.from_env(tor_socks, tor_control)
    if not config.control:
        fail("no tor to inspect: give --tor-control or set NIGRAN_TOR_CONTROL", 2)
    try:
        return open_tor(config, lambda *_: None, timeout=10)
    except TorError as exc:
        fail(str(exc))


@tor.command("status")
@tor_socks_option
@tor_control_option
@json_option
def tor_status(tor_socks, tor_control, as_json):
    """Tor version, bootstrap state, circuits in use per source, and whether the SOCKS port works."""
    from nigran.crawler.tor import status

    session = attached_tor(tor_socks, tor_control)
    try:
        info = status(session)
    finally:
        session.close()
    if as_json:
        print_json_line(info)
    else:
        out.print(f"tor {info['version']}: bootstrapped {info['bootstrap']}% ({info['bootstrap_summary']}), "
                  f"SOCKS {info['socks']} {'works' if info['socks_ok'] else 'REFUSES'}, "
                  f"{info['circuits_built']} circuits built")
        for source, circuits in sorted(info["sources"].items()):
            out.print(f"  {source}: {len(circuits)} circuits " + ", ".join(c["id"] for c in circuits))
    sys.exit(0 if info["socks_ok"] and info["bootstrap"] == 100 else 1)


@tor.command("newnym")
@click.option("--source", help="Renew only this source's circuits (others are not disturbed).")
@tor_socks_option
@tor_control_option
def tor_newnym(source, tor_socks, tor_control):
    """Renew circuits: all of them (tor's NEWNYM, rate-limited by tor) or one source's."""
    from nigran.crawler.tor import TorError, newnym

    session = attached_tor(tor_socks, tor_control)
    try:
        say(newnym(session, source))
    except TorError as exc:
        fail(str(exc))
    finally:
        session.close()


# --- administration -----------------------------------------------------------------------------

@main.group()
def db():
    """Database administration."""


@db.command("upgrade")
@db_option
def db_upgrade(db_url):
    """Apply pending schema migrations (also done automatically on first use)."""
    try:
        database = Database(db_url or default_db_url(), upgrade=False)
        ran = database.upgrade()
        say(f"{database.safe_url}: schema at {database.current_revision()}"
            f"{' (upgraded)' if ran else ' (already current)'}")
    except DatabaseError as exc:
        fail(str(exc))


@main.group()
def sources():
    """Sources configuration."""


@sources.command("check")
@sources_option
@db_option
@json_option
def sources_check(sources_path, db_url, as_json):
    """Validate the sources file and list its sources (exit 2 when invalid), with the mirror that answered
    each one last and when, and the wall or guard that last stopped it."""
    try:
        loaded = load_sources(sources_path)
    except ConfigError as exc:
        fail(str(exc), 2)
    rows = source_rows(loaded, open_db(db_url))
    if as_json:
        print_json_lines(rows)
        return
    out.print(table(f"{sources_path}: {len(loaded)} sources, valid",
                    ("name", "kind", "via", "render", "enabled", "schedule", "start", "last answer", "stopped"), [
                        (r["name"], r["kind"], r["via"], r["render"], "yes" if r["enabled"] else "no", r["schedule"],
                         r["start_urls"] if r["kind"] != "telegram" else r["channels"],
                         r["last_answer"] and f"{r['last_answer']['mirror']} at {r['last_answer']['at']}",
                         r["stopped"] and f"{r['stopped']['status']} at {r['stopped']['at']}")
                        for r in rows]))


for _command in (*cli_ops.COMMANDS, *cli_evidence.COMMANDS, *cli_sessions.COMMANDS):
    main.add_command(_command)

if __name__ == "__main__":
    main()
