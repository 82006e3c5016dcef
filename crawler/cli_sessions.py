"""`nigran session`: the stored sessions of sources behind a login (`list`, `import`, `login`, `check`, `remove`).

A session is a secret: no command prints a cookie's value, in text or in JSON."""
from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import click

from nigran.config.schema import DEFAULT_SOURCES
from nigran.crawler.cli_common import (db_option, fail, json_option, load_or_exit, open_db, out, print_json_line,
                                       print_json_lines, sources_option, table, tor_control_option, tor_socks_option)
from nigran.crawler.terminal import say
from nigran.storage.sessions import SessionError, SessionInfo, SessionStore, check_name
from nigran.storage.utc import iso


@click.group("session")
def session():
    """Stored sessions of sources behind a login: cookies (and a browser's local storage), encrypted
    under the installation key in the data home.

    A source crawls with the session its `session:` names, else the one named after it. Record one by
    logging in by hand (`nigran session login SOURCE`) or import your browser's export
    (`nigran session import NAME FILE`). No command shows a cookie's value.
    """


def describe(info: SessionInfo) -> str:
    """One line about a session, without any cookie value."""
    if info.error:
        return f"session {info.name}: unreadable: {info.error}"
    expiry = "session cookies only" if info.expires_at is None else \
        f"{'expired' if info.expired() else 'expires'} {iso(info.expires_at)}"
    cookies = f"{info.cookies} cookie{'' if info.cookies == 1 else 's'}"
    return (f"session {info.name}: {cookies} for {', '.join(info.domains) or 'no domain'} "
            f"({info.origin}, {iso(info.created_at)}); {expiry}")


def show_session(info: SessionInfo, as_json: bool) -> None:
    if as_json:
        print_json_line(info.as_dict())
    else:
        say(describe(info))


def press_enter(source: str) -> Callable[[], None]:
    """The login's confirmation: Enter on standard input once the analyst is logged in."""
    def confirm() -> None:
        say(f"Log in to {source} in the Chromium window, then press Enter here to keep the session "
            "(Ctrl-C gives up).", err=True)
        if not sys.stdin.readline():
            raise SessionError("standard input closed before the login was confirmed; nothing was saved")
    return confirm


def tor_progress() -> Callable[[int, str], None]:
    """A reporter of Tor's bootstrap progress on stderr, each percentage once."""
    shown: list[int] = []

    def show(percent: int, summary: str) -> None:
        if shown[-1:] != [percent]:
            shown.append(percent)
            say(f"tor: bootstrapped {percent}% ({summary})", err=True)
    return show


@session.command("list")
@json_option
def session_list(as_json):
    """List the stored sessions. Exit status: 0, 1 some session cannot be read (listed with why).

    JSON fields: name, origin, created_at, cookies, domains, expires_at, expired, error."""
    infos = SessionStore().list()
    if as_json:
        print_json_lines(info.as_dict() for info in infos)
    else:
        out.print(table(f"{len(infos)} sessions", ("name", "from", "created (UTC)", "cookies", "domains",
                                                   "expires (UTC)", "problem"), [
            (i.name, i.origin, (iso(i.created_at) or "")[:19] or None, i.cookies, i.domains,
             "expired" if i.expired() else (iso(i.expires_at) or "")[:19] or None, i.error) for i in infos]))
    unreadable = [i.name for i in infos if i.error]
    if unreadable:
        fail(f"cannot read session {', '.join(unreadable)} (see the list; remove it, then log in or import again)")


@session.command("import")
@click.argument("name")
@click.argument("file", type=click.Path(path_type=Path))
@json_option
def session_import(name, file, as_json):
    """Keep a session exported from your browser as NAME: a cookies.txt, a cookie extension's JSON
    (EditThisCookie, Cookie-Editor) or a Playwright storage state. Delete the export afterwards.

    Exit status: 0 imported, 1 cannot be stored, 2 not a session name or not a cookie export."""
    from nigran.storage.session_import import read_session_file

    try:
        check_name(name)
        state = read_session_file(file)
    except SessionError as exc:
        fail(str(exc), 2)
    try:
        SessionStore().save(name, state)
    except OSError as exc:
        fail(f"cannot store session {name!r}: {exc.strerror or exc}")
    show_session(SessionInfo.of(name, state), as_json)
    say(f"nigran: warning: {file} holds the session unencrypted: delete it now "
        f"(shred -u {shlex.quote(str(file))})", err=True)


@session.command("login")
@click.argument("source")
@sources_option
@tor_socks_option
@tor_control_option
@click.option("--timeout", type=click.FloatRange(min=1), default=600.0, show_default=True,
              help="Seconds to open the page, and again to log in and press Enter.")
@json_option
def session_login(source, sources_path, tor_socks, tor_control, timeout, as_json):
    """Log in to SOURCE by hand in a Chromium window, then keep its session for the source's crawls.

    The window goes through Tor unless the source is `via: direct` and not an onion. It needs a display:
    a desktop, a VNC session, or `xvfb-run`. Exit status: 0 saved, 1 no display, no Tor, or the login
    failed or was not confirmed, 2 unknown source or invalid sources file.
    """
    from nigran.crawler.session_login import login_source
    from nigran.crawler.tor import TorConfig, TorError

    [chosen] = load_or_exit(sources_path, (source,))
    try:
        info = login_source(chosen, SessionStore(), confirm=press_enter(source), on_progress=tor_progress(),
                            tor=TorConfig.from_env(tor_socks, tor_control), timeout=timeout)
    except (SessionError, TorError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot store the session of {source!r}: {exc.strerror or exc}")
    show_session(info, as_json)
    sources = "" if sources_path == DEFAULT_SOURCES else f" --sources {sources_path}"
    say(f"next: nigran crawl --source {source}{sources}", err=as_json)


@session.command("check")
@click.argument("source")
@sources_option
@db_option
@tor_socks_option
@tor_control_option
@json_option
def session_check(source, sources_path, db_url, tor_socks, tor_control, as_json):
    """Fetch SOURCE's first start URL once with its session and say whether it is still logged in. The
    page is kept as evidence, as in any crawl.

    Exit status: 0 logged in, 1 not (no session, a login wall or guard, or unreachable: one line says what
    to run next), 2 unknown source or invalid sources file. JSON fields: source, logged_in, failure, next.
    """
    from nigran.crawler.crawl import check_session
    from nigran.crawler.tor import TorConfig

    [chosen] = load_or_exit(sources_path, (source,))
    try:
        report = check_session(chosen, open_db(db_url).url, tor=TorConfig.from_env(tor_socks, tor_control))
    except SessionError as exc:
        fail(str(exc))
    if as_json:
        print_json_line({"source": source, "logged_in": report.ok, "failure": report.failure, "next": report.next_step})
    if not report.ok:
        fail(f"source {source}: {report.failure}" + (f"; next: {report.next_step}" if report.next_step else ""))
    say(f"source {source}: logged in ({chosen.start_urls[0]} answered without a login wall or guard)", err=as_json)


@session.command("remove")
@click.argument("name")
def session_remove(name):
    """Delete a stored session. Exit status: 0 removed, 1 no such session, 2 not a session name."""
    try:
        removed = SessionStore().remove(name)
    except SessionError as exc:
        fail(str(exc), 2)
    if not removed:
        fail(f"no session {name!r} (see: nigran session list)")
    say(f"session {name} removed")


COMMANDS = (session,)
