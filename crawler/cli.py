"""The `nigran` command line."""
from __future__ import annotations

import getpass
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import click
from rich.table import Table

from config.registry import SETTINGS
from config.schema import DEFAULT_SOURCES, ConfigError, load_sources, select
from crawler.terminal import SafeConsole, say
from storage.db import Database, DatabaseError
from storage.home import data_home, default_db_url

CATEGORIES = ("cnic", "sim", "call_logs", "travel")
out = SafeConsole(width=None if sys.stdout.isatty() else 200)


def fail(message: str, code: int = 1):
    """One line on stderr (line breaks in `message` become spaces), then exit with `code`."""
    say(f"nigran: error: {' '.join(str(message).splitlines())}", err=True)
    sys.exit(code)


def iso_datetime(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO-8601 date or time: {value!r}") from None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def open_db(url: str | None) -> Database:
    try:
        return Database(url or default_db_url())
    except DatabaseError as exc:
        fail(str(exc))


def print_json_line(obj) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, default=str))


def setting_option(name: str, dest: str, **kwargs):
    """The click option of a registered setting (config/registry.py): its flag, its variable, its help."""
    setting = SETTINGS[name]
    default = f"; default: {setting.default}" if setting.default and "default" not in kwargs else ""
    return click.option(setting.flag, dest, envvar=name, help=f"{setting.help[0].upper()}{setting.help[1:]} "
                        f"(env {name}{default}).", **kwargs)


db_option = setting_option("NIGRAN_DB", "db_url")
sources_option = setting_option("NIGRAN_SOURCES", "sources_path", type=click.Path(path_type=Path),
                                default=DEFAULT_SOURCES, show_default=True)
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nigran")
def main():
    """nigran watches where Pakistani citizens' personal data is sold, and keeps evidence of every offer."""


# --- crawling -----------------------------------------------------------------------------------

def load_or_exit(path: Path, names: tuple[str, ...] = ()):
    try:
        return select(load_sources(path), names)
    except ConfigError as exc:
        fail(str(exc), 2)


def print_summary(result, as_json: bool) -> None:
    if as_json:
        print_json_line(result.as_dict())
        return
    table = Table(title=f"Run {result.run_id}")
    for col in ("source", "status", "pages", "captures", "posts", "new offers", "updated offers", "errors"):
        table.add_column(col, justify="left" if col in ("source", "status") else "right")
    for r in result.reports:
        table.add_row(r.source, "ok" if r.ok else f"failed ({r.failure})",
                      *map(str, (r.pages, r.captures, r.posts, r.offers_new, r.offers_updated, r.errors)),
                      style=None if r.ok else "red")
    out.print(table)


tor_socks_option = setting_option("NIGRAN_TOR_SOCKS", "tor_socks")
tor_control_option = setting_option("NIGRAN_TOR_CONTROL", "tor_control")


@main.command()
@sources_option
@click.option("--source", "names", multiple=True, help="Crawl only this source (repeatable).")
@db_option
@tor_socks_option
@tor_control_option
@json_option
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's INFO log on stderr.")
@click.option("--workers", "redis_url", metavar="REDIS_URL",
              help="Hand the crawl to `nigran worker` processes through this Redis frontier and wait for them.")
@click.option("--trigger", type=click.Choice(["manual", "scheduled"]), default="manual", hidden=True)
def crawl(sources_path, names, db_url, tor_socks, tor_control, as_json, verbose, redis_url, trigger):
    """Crawl the enabled sources (or the named ones) once.

    Exit status: 0 every source ran, 1 some failed, 2 invalid configuration.
    """
    from crawler.crawl import run_crawl
    from crawler.frontier import FrontierError
    from crawler.tor import TorConfig
    from crawler.worker import coordinate

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
@click.option("--redis", "redis_url", envvar="NIGRAN_REDIS", required=True, metavar="REDIS_URL",
              help="The frontier that `nigran crawl --workers` publishes runs on (env NIGRAN_REDIS).")
@click.option("--db", "db_url", envvar="NIGRAN_DB", help="Write here instead of the database the run names (env NIGRAN_DB).")
@tor_socks_option
@tor_control_option
@click.option("--wait", type=float, default=None, metavar="SECONDS",
              help="Give up when no run is published within this time (default: wait for ever).")
@click.option("--forever", is_flag=True, help="After a run, wait for the next one (a long-lived worker).")
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's INFO log on stderr.")
def worker(redis_url, db_url, tor_socks, tor_control, wait, forever, verbose):
    """Crawl the runs published on a Redis frontier, together with any other workers.

    Exit status: 0 the run was drained, 1 a source failed here (e.g. Tor lost), 3 no run came within --wait,
    130 stopped (its unfinished requests go back to the frontier for the others).
    """
    from crawler.frontier import FrontierError
    from crawler.tor import TorConfig
    from crawler.worker import run_worker, wait_for_run

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
        os.execv(sys.executable, [sys.executable, "-m", "crawler", *sys.argv[1:]])
    sys.exit(code)


@main.command()
@click.option("--keep-serving", is_flag=True, help="Keep the demo sites up after the crawl (Ctrl-C stops).")
def demo(keep_serving):
    """Serve the bundled demo sites on 127.0.0.1, crawl them into a fresh database, show the offers."""
    from crawler.crawl import run_crawl
    from crawler.demo.config import demo_sources
    from crawler.demo.server import DemoSites

    home = data_home() / "demo" / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    home.mkdir(parents=True)
    os.environ["NIGRAN_HOME"] = str(home)
    db_url = f"sqlite:///{home / 'nigran.db'}"
    with DemoSites() as sites:
        out.print(f"Demo sites: {', '.join(f'{k} {v}' for k, v in sites.urls.items())}")
        result = run_crawl(demo_sources(sites.urls), db_url, trigger="demo", home=home)
        print_summary(result, False)
        db = Database(db_url)
        from storage import queries

        with db.session() as session:
            show_offers([queries.offer_dict(o) for o in queries.offers(session)])
        out.print(f"\nDatabase: {db_url}\nEvidence bodies: {home / 'bodies'}\n"
                  f"Try: nigran offers --db {db_url} --category cnic")
        if keep_serving:
            out.print("Serving the demo sites; Ctrl-C to stop.")
            try:
                while True:
                    __import__("time").sleep(3600)
            except KeyboardInterrupt:
                pass
    sys.exit(result.exit_code)


# --- reading results ----------------------------------------------------------------------------

def show_offers(rows: list[dict]) -> None:
    table = Table(title=f"{len(rows)} offers and requests")
    for col in ("id", "source", "kind", "categories", "prices", "contacts", "identifiers", "first seen"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            str(r["id"]), r["source"], r["kind"], ", ".join(r["categories"]) or "-",
            ", ".join(f"{p['amount']:g} {p['currency']}" for p in r["prices"]) or "-",
            ", ".join(c["value"] for c in r["contacts"]) or "-",
            ", ".join(i["value"] for i in r["identifiers"]) or "-", (r["first_seen"] or "")[:19])
    out.print(table)


@main.command()
@db_option
@click.option("--since", help="Only offers seen at or after this ISO-8601 time (UTC unless zoned).")
@click.option("--category", type=click.Choice(CATEGORIES), help="Only offers of this category.")
@click.option("--source", "sources", multiple=True, help="Only this source (repeatable).")
@json_option
@click.option("--reveal", is_flag=True, help="Show raw identifiers, re-read from the captured evidence (audited).")
@click.option("--operator", default=lambda: os.environ.get("NIGRAN_OPERATOR") or getpass.getuser(),
              show_default="$NIGRAN_OPERATOR or your login", help="Who asks, for the reveal audit.")
def offers(db_url, since, category, sources, as_json, reveal, operator):
    """List offers and requests found, newest first.

    Exit status with --reveal: 1 when some identifier could not be re-read from the evidence."""
    from crawler.settings import DOWNLOAD_MAXSIZE
    from pipelines.reveal import reveal_offers
    from storage import queries
    from storage.bodies import BodyStore

    db = open_db(db_url)
    since_at = iso_datetime(since)
    with db.session() as session:
        selected = list(queries.offers(session, since=since_at, category=category, sources=sources))
        if reveal:
            result = reveal_offers(session, selected, BodyStore(data_home() / "bodies"), operator=operator,
                                   max_size=DOWNLOAD_MAXSIZE)
            rows, unrevealed = result.rows, result.unrevealed
        else:
            rows, unrevealed = [queries.offer_dict(o) for o in selected], {}
    if as_json:
        for row in rows:
            print_json_line(row)
    else:
        show_offers(rows)
    if unrevealed:
        fail("could not reveal every identifier of offers "
             + "; ".join(f"{offer_id} ({why})" for offer_id, why in unrevealed.items()))


@main.command()
@db_option
@json_option
def reveals(db_url, as_json):
    """List the reveal audit, newest first: when, operator (as typed), OS user, host, offers.

    JSON fields: id, at, operator, os_user, host, offer_ids."""
    from storage import queries

    with open_db(db_url).session() as session:
        rows = [queries.reveal_dict(r) for r in queries.reveals(session)]
    if as_json:
        for row in rows:
            print_json_line(row)
        return
    table = Table(title=f"{len(rows)} reveals")
    for col in ("id", "at (UTC)", "operator", "OS user", "host", "offers"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(str(r["id"]), r["at"][:19], r["operator"], r["os_user"] or "-", r["host"] or "-",
                      ", ".join(map(str, r["offer_ids"])))
    out.print(table)


@main.command()
@db_option
@click.option("--source", "sources", multiple=True, help="Only this source (repeatable).")
@click.option("--since", help="Only posts seen at or after this ISO-8601 time.")
@json_option
def posts(db_url, sources, since, as_json):
    """List stored posts, newest first."""
    from storage import queries

    db = open_db(db_url)
    with db.session() as session:
        rows = [queries.post_dict(p) for p in queries.posts(session, since=iso_datetime(since), sources=sources)]
    if as_json:
        for row in rows:
            print_json_line(row)
        return
    table = Table(title=f"{len(rows)} posts")
    for col in ("id", "source", "author", "posted at", "text"):
        table.add_column(col, overflow="ellipsis", no_wrap=col == "text", max_width=80 if col == "text" else None)
    for r in rows:
        table.add_row(str(r["id"]), r["source"], r["author"] or "-", (r["posted_at"] or "-")[:19],
                      " ".join(r["text"].split())[:200])
    out.print(table)


@main.command()
@click.argument("input_file", default="-", type=click.File("rb"))
@click.option("--jsonl", is_flag=True, help='Each input line is {"id", "text"}; one output line each.')
@click.option("--reveal", is_flag=True, help="Show identifiers in full (masked by default).")
@click.option("--explain", is_flag=True, help="Add the cues behind each decision.")
def extract(input_file, jsonl, reveal, explain):
    """Run offer extraction over text or HTML (a file, or - for standard input)."""
    from pipelines.extraction import extract as run_extract
    from spiders.text import html_to_text
    from storage.privacy import mask

    def result(text: str) -> dict:
        data = run_extract(text, explain=explain).to_dict(explain=explain)
        if not reveal:
            for key in ("identifiers", "contacts"):
                data[key] = [{**i, "value": mask(i["type"], i["value"])} for i in data[key]]
        return data

    raw = input_file.read()
    if jsonl:
        for n, line in enumerate(raw.decode("utf-8", "replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                text = record["text"]
            except (json.JSONDecodeError, KeyError, TypeError):
                fail(f"line {n}: expected a JSON object with 'id' and 'text'", 2)
            print_json_line({"id": record.get("id"), **result(text)})
        return
    text = raw.decode("utf-8", "replace")
    if text.lstrip()[:1] == "<":
        text = html_to_text(text)
    print_json_line(result(text))


# --- tor ----------------------------------------------------------------------------------------

@main.group()
def tor():
    """Inspect and steer the Tor client nigran uses."""


def attached_tor(tor_socks, tor_control):
    from crawler.tor import TorConfig, TorError, open_tor

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
    from crawler.tor import status

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
    from crawler.tor import TorError, newnym

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
@json_option
def sources_check(sources_path, as_json):
    """Validate the sources file and list its sources (exit 2 when invalid)."""
    try:
        loaded = load_sources(sources_path)
    except ConfigError as exc:
        fail(str(exc), 2)
    if as_json:
        for s in loaded:
            print_json_line(s.model_dump(mode="json"))
        return
    table = Table(title=f"{sources_path}: {len(loaded)} sources, valid")
    for col in ("name", "kind", "via", "render", "enabled", "schedule", "start"):
        table.add_column(col, overflow="fold")
    for s in loaded:
        start = ", ".join(s.start_urls) if s.kind != "telegram" else ", ".join(s.channels)
        table.add_row(s.name, s.kind, s.via, s.render, "yes" if s.enabled else "no", s.schedule or "-", start)
    out.print(table)


from crawler.cli_ops import register as _register_ops  # noqa: E402

_register_ops(main)

from crawler.cli_evidence import register as _register_evidence  # noqa: E402

_register_evidence(main)

if __name__ == "__main__":
    main()
