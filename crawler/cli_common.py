"""What the `nigran` commands share: the console, error exit, database opening, JSON lines, option decorators."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from nigran.config.registry import SETTINGS
from nigran.config.schema import DEFAULT_SOURCES, ConfigError, load_sources, select
from nigran.crawler.tables import FittedTable
from nigran.crawler.terminal import SafeConsole, reader_gone, say
from nigran.storage.db import Database, DatabaseError
from nigran.storage.home import configured_home, default_db_url

CATEGORIES = ("cnic", "sim", "call_logs", "travel")
out = SafeConsole()


def json_wanted() -> bool:
    """Whether the command running (or a group above it) was given --json."""
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if ctx.params.get("as_json"):
            return True
        ctx = ctx.parent
    return False


def fail(message: str, code: int = 1, as_json: bool | None = None):
    """One line on stderr, then exit with `code`: `nigran: error: …` (line breaks in `message` become
    spaces), or under --json the object {"error": …}."""
    text = " ".join(str(message).splitlines())
    if json_wanted() if as_json is None else as_json:
        click.echo(json.dumps({"error": text}, ensure_ascii=False), err=True)
    else:
        say(f"nigran: error: {text}", err=True)
    sys.exit(code)


class OneLineErrors(click.Group):
    """A command group whose errors are all alike: usage errors (an unknown command or option, a bad value)
    are one line on stderr and exit 2, as every other error of nigran is, instead of click's usage block;
    under --json they are a JSON object. A closed stdout pipe ends any command with exit 0."""

    def main(self, args=None, **kwargs):
        argv = sys.argv[1:] if args is None else list(args)
        try:
            code = super().main(argv, **{**kwargs, "standalone_mode": False})
        except click.exceptions.NoArgsIsHelpError as exc:  # `nigran`, `nigran tor`: the help, not an error line
            exc.show()
            sys.exit(exc.exit_code)
        except click.UsageError as exc:  # its context may not have parsed --json yet: the arguments tell
            see = f" (see: {exc.ctx.command_path} --help)" if exc.ctx else ""
            fail(f"{exc.format_message()}{see}", exc.exit_code, as_json="--json" in argv)
        except click.ClickException as exc:
            fail(exc.format_message(), exc.exit_code, as_json="--json" in argv)
        except click.Abort:
            fail("interrupted", 130, as_json="--json" in argv)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx):
        """Run the command, then flush stdout while a closed pipe can still be told apart (click's own
        handling of one exits 1, and a failed flush at interpreter exit prints a traceback)."""
        try:
            try:
                return super().invoke(ctx)
            finally:
                sys.stdout.flush()
        except BrokenPipeError:
            reader_gone()


def iso_datetime(value: str | None) -> datetime | None:
    """An ISO-8601 date or time as an aware UTC datetime (naive means UTC); None stays None."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO-8601 date or time: {value!r}") from None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def open_db(url: str | None) -> Database:
    """The database at `url` (default: the data home's), or exit 1 when it cannot be opened."""
    try:
        return Database(url or default_db_url())
    except DatabaseError as exc:
        fail(str(exc))


def evidence_home_or_exit(db: Database, code: int = 1) -> Path:
    """The data home of `db`'s evidence and keys (storage/installation.py), or exit with `code`, creating
    nothing, when that home holds another installation's key (or none)."""
    from nigran.storage.installation import InstallationError, evidence_home

    try:
        return evidence_home(db, configured_home())
    except InstallationError as exc:
        fail(str(exc), code)


def load_or_exit(path: Path, names: tuple[str, ...] = ()):
    """The enabled sources of the file (or the named ones), or exit 2 when the file is invalid."""
    try:
        return select(load_sources(path), names)
    except ConfigError as exc:
        fail(str(exc), 2)


def print_json_line(obj) -> None:
    """`obj` as one line of JSON on stdout (non-JSON values as their str)."""
    click.echo(json.dumps(obj, ensure_ascii=False, default=str))


def print_json_lines(rows) -> None:
    """One JSON line per row."""
    for row in rows:
        print_json_line(row)


def table(title: str, columns: tuple[str, ...], rows, **layout) -> FittedTable:
    """A table that fits the output width (crawler/tables.py; `layout`: drop, free, right, styles)."""
    return FittedTable(title, columns, rows, **layout)


def print_stops(result) -> None:
    """On stderr, one line per source of a crawl that a wall or guard stopped, naming the next command."""
    for r in result.reports:
        if r.next_step:
            click.echo(f"source {r.source}: {r.failure}; next: {r.next_step}", err=True)


def print_summary(result, as_json: bool) -> None:
    """A crawl's per-source report: a table, or one JSON line; and its stopped sources' lines (print_stops)."""
    print_stops(result)
    if as_json:
        print_json_line(result.as_dict())
        return
    counts = ("pages", "captures", "posts", "new offers", "updated offers", "errors")
    out.print(table(f"Run {result.run_id}", ("source", "status", *counts), [
        (r.source, "ok" if r.ok else f"failed ({r.failure})",
         r.pages, r.captures, r.posts, r.offers_new, r.offers_updated, r.errors) for r in result.reports],
        right=counts, styles=[None if r.ok else "red" for r in result.reports]))


def setting_option(name: str, dest: str, help: str | None = None, **kwargs):
    """The click option of a registered setting (config/registry.py): its flag, its variable, its help
    (or `help`, naming the variable itself)."""
    setting = SETTINGS[name]
    if help is None:
        default = f"; default: {setting.default}" if setting.default and "default" not in kwargs else ""
        help = f"{setting.help[0].upper()}{setting.help[1:]} (env {name}{default})."
    return click.option(setting.flag, dest, **{"envvar": name, **kwargs}, help=help)


db_option = setting_option("NIGRAN_DB", "db_url")
sources_option = setting_option("NIGRAN_SOURCES", "sources_path", type=click.Path(path_type=Path),
                                default=DEFAULT_SOURCES, show_default=True)
tor_socks_option = setting_option("NIGRAN_TOR_SOCKS", "tor_socks")
tor_control_option = setting_option("NIGRAN_TOR_CONTROL", "tor_control")
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
verbose_option = click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's INFO log on stderr.")
source_filter_option = click.option("--source", "sources", multiple=True, help="Only this source (repeatable).")
