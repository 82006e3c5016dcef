"""What the CLI prints fits where it goes: tables at the width of COLUMNS or the terminal (a real pty here),
whole ids, dates and masked numbers in every cell; a closed pipe is no error; errors are alike, and JSON
under --json."""
from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import pytest
from click.testing import CliRunner

from nigran.crawler.cli import main
from tests.support.run import REPO, nigran
from tests.test_cli import crawled  # noqa: F401  (the fixture: a database with the demo paste site crawled in)

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, args, env=env, prog_name="nigran")


def offers_of(env: dict) -> list[dict]:
    done = nigran("offers", "--json", env=env)
    assert done.returncode == 0, done.stderr.decode()
    return [json.loads(line) for line in done.stdout.decode().splitlines()]


def in_pty(args: tuple[str, ...], env: dict, columns: int) -> str:
    """What `nigran ARGS` shows in a real terminal `columns` wide (its styling removed)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    child = subprocess.Popen([sys.executable, "-m", "nigran.crawler", *args], cwd=REPO, stdin=subprocess.DEVNULL,
                             stdout=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert child.wait(timeout=60) == 0, child.stderr.read().decode()
    return ANSI.sub("", shown.decode().replace("\r\n", "\n"))


def cell_tokens(text: str) -> set[str]:
    """The words in the table rows of `text` (not its title, head or caption), a list's comma dropped."""
    rows = [line for line in text.splitlines() if line.startswith("│")]
    assert rows, text
    return {word.rstrip(",") for line in rows for cell in line.split("│") for word in cell.split()}


def assert_fits_80_with_whole_tokens(text: str, offers: list[dict]) -> None:
    assert max(len(line) for line in text.splitlines()) <= 80, text
    shown = cell_tokens(text)
    whole = {"-", *(str(o["id"]) for o in offers), *(o["source"] for o in offers),
             *(o["first_seen"][:19] for o in offers), *(c for o in offers for c in o["categories"]),
             *(i["value"] for o in offers for i in o["identifiers"])}
    assert shown <= whole, f"cut tokens: {sorted(shown - whole)}"
    assert {i["value"] for o in offers for i in o["identifiers"]} <= shown  # every masked number is there
    assert "not shown at 80 columns: kind, prices, contacts" in " ".join(text.split())  # the ones dropped first


def test_offers_in_80_columns_piped_keep_whole_tokens(crawled):  # noqa: F811
    offers = offers_of(crawled)
    assert any(len(o["identifiers"]) > 5 for o in offers), "the demo paste has an offer of many identifiers"
    done = nigran("offers", env={**crawled, "COLUMNS": "80"})
    assert done.returncode == 0 and done.stderr == b""
    assert_fits_80_with_whole_tokens(done.stdout.decode(), offers)


@pytest.mark.parametrize("window, columns", [(80, None), (200, "80")], ids=["80-column terminal", "COLUMNS wins"])
def test_offers_in_an_80_column_terminal_keep_whole_tokens(crawled, window, columns):  # noqa: F811
    env = {k: v for k, v in {**os.environ, **crawled, "TERM": "xterm-256color"}.items() if k != "COLUMNS"}
    shown = in_pty(("offers",), {**env, **({"COLUMNS": columns} if columns else {})}, window)
    assert_fits_80_with_whole_tokens(shown, offers_of(crawled))


def test_piped_without_columns_nothing_is_wrapped_or_left_out(crawled, monkeypatch):  # noqa: F811
    monkeypatch.delenv("COLUMNS", raising=False)
    offers = offers_of(crawled)
    text = nigran("offers", env=crawled).stdout.decode()
    rows = [line for line in text.splitlines() if line.startswith("│")]
    assert len(rows) == len(offers) and "not shown" not in text  # one line per offer, every column
    for offer in offers:
        assert ", ".join(i["value"] for i in offer["identifiers"]) in text
        assert ", ".join(c["value"] for c in offer["contacts"]) in text


def test_a_token_too_long_for_its_column_is_shortened_not_broken(crawled):  # noqa: F811
    """A 66-character Session id does not push its column out of a 130-column table: it ends in …"""
    long = [c["value"] for o in offers_of(crawled) for c in o["contacts"] if len(c["value"]) > 40]
    assert long, "the demo paste gives a Session id as contact"
    text = run("offers", env={**crawled, "COLUMNS": "130"}).stdout
    assert max(map(len, text.splitlines())) <= 130 and "contacts" in text
    cut = [t for t in cell_tokens(text) if t.endswith("…")]
    assert cut and all(any(value.startswith(t[:-1]) for value in long) for t in cut)
    assert not any(value[-8:] in text for value in long)  # the rest is not wrapped onto a next line


def test_narrow_posts_shorten_the_text_first(crawled):  # noqa: F811
    wide = run("posts", env={**crawled, "COLUMNS": "400"}).stdout
    narrow = run("posts", env={**crawled, "COLUMNS": "80"}).stdout
    assert max(map(len, narrow.splitlines())) <= 80 < max(map(len, wide.splitlines()))
    assert "…" in narrow and "not shown" not in narrow  # the text column is cut short; all columns stay
    assert len(narrow.splitlines()) == len(wide.splitlines())  # one line per post still


@pytest.mark.parametrize("args", [("offers", "--json"), ("offers",), ("runs",)])
def test_a_closed_pipe_ends_the_command_quietly_with_0(crawled, args):  # noqa: F811
    """The reader is gone before nigran writes (as `head` is after its line): no error, no traceback."""
    read, write = os.pipe()
    os.close(read)
    done = subprocess.run([sys.executable, "-m", "nigran.crawler", *args], cwd=REPO, stdout=write,
                          stderr=subprocess.PIPE, env={**os.environ, **crawled}, timeout=60)
    os.close(write)
    assert (done.returncode, done.stderr) == (0, b"")


def test_json_offers_into_head_exits_0(crawled):  # noqa: F811
    shell = f"set -o pipefail; {sys.executable} -m nigran.crawler offers --json | head -1"
    done = subprocess.run(["bash", "-c", shell], cwd=REPO, capture_output=True, env={**os.environ, **crawled},
                          timeout=60)
    assert (done.returncode, done.stderr) == (0, b"")
    assert json.loads(done.stdout)["id"]


@pytest.mark.parametrize("args, code, message", [
    (("offers", "--json", "--since", "yesterday"), 2, "not an ISO-8601 date or time: 'yesterday'"),
    (("offers", "--category", "shoes", "--json"), 2, "'shoes' is not one of"),  # --json not parsed yet
    (("watch", "add", "--json", "--label", "x", "--cnic", "12345"), 2, "12345"),
    (("watch", "add", "--json", "--label", "x"), 2, "give exactly one of --cnic, --phone, --passport"),
])
def test_json_errors_are_one_json_object_on_stderr(args, code, message, home):
    result = run(*args, env={"NIGRAN_DB": f"sqlite:///{home / 'nigran.db'}"})
    assert result.exit_code == code and result.stdout == ""
    assert result.stderr.count("\n") == 1
    error = json.loads(result.stderr)
    assert list(error) == ["error"] and message in error["error"]


def test_json_error_keeps_its_exit_status(home):
    db = {"NIGRAN_DB": f"sqlite:///{home / 'nigran.db'}"}
    assert run("watch", "add", "--label", "x", "--cnic", "35202-1234567-1", env=db).exit_code == 0
    again = run("watch", "add", "--json", "--label", "y", "--cnic", "35202-1234567-1", env=db)
    assert again.exit_code == 1 and "already watched" in json.loads(again.stderr)["error"]


def test_usage_errors_of_the_real_command_are_nigran_errors(home):
    done = nigran("offers", "--no-such-flag")
    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr.decode().startswith("nigran: error: No such option '--no-such-flag'")
    bare = nigran()  # no command: the help, not a usage error squeezed onto one line
    assert bare.returncode == 2 and bare.stderr.decode().startswith("Usage: ") and "Commands:" in bare.stderr.decode()
