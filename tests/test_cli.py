"""The `nigran` command line in-process (click's CliRunner): help, JSON output, errors, reading a crawled database."""
from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from nigran.crawler.cli import main
from tests.support.ops import demo_sources_file
from tests.support.run import REPO, nigran

CNIC_OFFER = "CNIC data for sale: 35202-1234567-1 and more, Rs 500 each, WhatsApp 0300-1234567"


def run(*args: str, env: dict | None = None, input: str | bytes | None = None):
    """`nigran ARGS` in this process; stdout and stderr apart."""
    return CliRunner().invoke(main, args, env=env, input=input, prog_name="nigran")


def json_lines(result) -> list[dict]:
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def commands(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


@pytest.fixture(scope="module")
def crawled(tmp_path_factory, demo_sites):
    """The environment of a database with the demo paste site crawled into it (by the real CLI)."""
    root = tmp_path_factory.mktemp("cli")
    home = root / "home"
    home.mkdir()
    env = {"NIGRAN_HOME": str(home), "NIGRAN_DB": f"sqlite:///{home / 'nigran.db'}",
           "NIGRAN_KEY_FILE": str(home / "identifier.key"), "NIGRAN_TSA_URLS": ""}
    sources = demo_sources_file(root / "sources.yaml", demo_sites)
    done = nigran("crawl", "--sources", str(sources), "--json", env=env)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return {**env, "sources": str(sources)}


@pytest.fixture
def db(home) -> str:
    return f"sqlite:///{home / 'nigran.db'}"


@pytest.mark.parametrize("path", [p for p, _ in commands(main)], ids=" ".join)
def test_help_of_every_command_lists_its_options(path):
    command = dict(commands(main))[path]
    result = run(*path, "--help")
    assert result.exit_code == 0 and result.stdout.startswith("Usage: ")
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert max(param.opts, key=len) in result.stdout


def test_db_env_and_flag_are_one_option_everywhere():
    """`--db` reads NIGRAN_DB in every command but `verify`, where --db alone means 'the store, not a bundle'."""
    for path, command in commands(main):
        for param in command.params:
            if "--db" in param.opts:
                assert param.envvar == (None if path == ("verify",) else "NIGRAN_DB"), path


@pytest.mark.parametrize("args, message", [
    (("verify", "--quick"), "--quick applies to --db only"),
    (("verify",), "give a BUNDLE to verify, or --db"),
    (("tor", "status"), "no tor to inspect"),
    (("watch", "add", "--label", "x", "--cnic", "35202-1234567-1", "--phone", "0300-1234567"),
     "give exactly one of --cnic, --phone, --passport"),
    (("watch", "add", "--label", "x", "--cnic", "12345"), "12345"),
    (("sources", "check", "--sources", "{tmp}/missing.yaml"), "missing.yaml"),
    (("crawl", "--sources", "{tmp}/none.yaml"), "no enabled source to crawl"),
    (("sweep", "--sources", "{tmp}/none.yaml"), "no enabled source to sweep"),
    (("schedule", "add", "--source", "demo-paste", "--cron", "0 25 * * *", "--sources", "{tmp}/paste.yaml"), ""),
    (("schedule", "add", "--source", "nowhere", "--every", "1h", "--sources", "{tmp}/paste.yaml"), "nowhere"),
    # click's own usage errors: one line too, naming the help to read
    (("offers", "--since", "yesterday"), "not an ISO-8601 date or time: 'yesterday' (see: nigran offers --help)"),
    (("offers", "--category", "shoes"), "'shoes' is not one of"),
    (("crawl", "--no-such-flag"), "No such option '--no-such-flag'"),
    (("no-such-command",), "No such command 'no-such-command'"),
    (("watch", "add"), "Missing option '--label'"),
])
def test_bad_input_exits_2_with_one_error_line(args, message, tmp_path, db, demo_sites, monkeypatch):
    monkeypatch.delenv("NIGRAN_TOR_CONTROL", raising=False)
    demo_sources_file(tmp_path / "none.yaml", demo_sites, enabled=())
    demo_sources_file(tmp_path / "paste.yaml", demo_sites)
    result = run(*(a.format(tmp=tmp_path) for a in args), env={"NIGRAN_DB": db})
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("nigran: error: ")
    assert message in result.stderr and result.stdout == ""


def test_extract_reads_stdin_and_masks_unless_revealed():
    masked = json_lines(run("extract", input=CNIC_OFFER))
    assert len(masked) == 1 and masked[0]["kind"] == "offer" and "cnic" in masked[0]["categories"]
    assert [i["value"] for i in masked[0]["identifiers"]] == ["35202-*******-*", "0300-*******"]
    revealed = json_lines(run("extract", "--reveal", input=CNIC_OFFER))[0]
    assert [i["value"] for i in revealed["identifiers"]] == ["35202-1234567-1", "+923001234567"]
    html = json_lines(run("extract", "-", input=f"<html><body><p>{CNIC_OFFER}</p></body></html>"))[0]
    assert html["identifiers"] == masked[0]["identifiers"] and html["kind"] == "offer"
    assert "cues" in json_lines(run("extract", "--explain", input=CNIC_OFFER))[0]


def test_extract_jsonl_answers_line_by_line_and_stops_at_a_bad_line():
    good = json.dumps({"id": "a", "text": CNIC_OFFER}) + "\n\n" + json.dumps({"id": 7, "text": "hello"}) + "\n"
    assert [r["id"] for r in json_lines(run("extract", "--jsonl", input=good))] == ["a", 7]
    bad = run("extract", "--jsonl", input=good + '{"id": 8}\n')
    assert bad.exit_code == 2 and len(bad.stdout.splitlines()) == 2
    assert bad.stderr == "nigran: error: line 4: expected a JSON object with 'id' and 'text'\n"


def test_offers_posts_and_runs_of_a_crawled_database(crawled):
    offers = json_lines(run("offers", "--json", env=crawled))
    assert offers and {o["source"] for o in offers} == {"demo-paste"}
    shown = [i["value"] for o in offers for i in o["identifiers"]]
    assert shown and all("*" in v for v in shown)
    cnic = json_lines(run("offers", "--json", "--category", "cnic", env=crawled))
    assert cnic and all("cnic" in o["categories"] for o in cnic)
    assert json_lines(run("offers", "--json", "--since", "2999-01-01", env=crawled)) == []
    assert json_lines(run("offers", "--json", "--source", "demo-forum", env=crawled)) == []
    table = run("offers", env=crawled)
    assert table.exit_code == 0 and f"{len(offers)} offers and requests" in table.stdout

    posts = json_lines(run("posts", "--json", env=crawled))
    assert len(posts) >= len(offers) and {p["source"] for p in posts} == {"demo-paste"}
    assert f"{len(posts)} posts" in run("posts", "--source", "demo-paste", env=crawled).stdout

    [crawl] = json_lines(run("runs", "--json", env=crawled))
    assert (crawl["trigger"], crawl["status"], crawl["exit_code"]) == ("manual", "finished", 0)
    assert list(crawl["sources"]) == ["demo-paste"] and crawl["posts"] == len(posts)
    assert crawl["captures"] == crawl["sources"]["demo-paste"]["captures"] > 0
    assert json_lines(run("runs", "--json", "--trigger", "sweep", env=crawled)) == []
    assert "1 runs" in run("runs", "--limit", "1", env=crawled).stdout


def test_offers_reveal_shows_raw_identifiers_and_is_audited(crawled):
    masked = {o["id"]: o for o in json_lines(run("offers", "--json", "--category", "cnic", env=crawled))}
    revealed = json_lines(run("offers", "--json", "--category", "cnic", "--reveal", "--operator", "alice",
                              env=crawled))
    assert [o["id"] for o in revealed] == list(masked)
    for offer in revealed:
        assert [i["type"] for i in offer["identifiers"]] == [i["type"] for i in masked[offer["id"]]["identifiers"]]
    raw = [i["value"] for o in revealed for i in o["identifiers"]]
    assert raw and not any("*" in v for v in raw)
    [audit] = json_lines(run("reveals", "--json", env=crawled))
    assert audit["operator"] == "alice" and sorted(audit["offer_ids"]) == sorted(masked)
    assert "1 reveals" in run("reveals", env=crawled).stdout


def test_schedule_watch_and_sources_round_trips(crawled, db):
    assert json_lines(run("schedule", "list", "--json", "--db", db)) == []
    added = run("schedule", "add", "--source", "demo-paste", "--every", "6h", "--sources", crawled["sources"],
                "--db", db)
    assert added.exit_code == 0 and added.stdout.startswith("demo-paste: every 6h")
    [job] = json_lines(run("schedule", "list", "--json", "--db", db))
    assert job["source"] == "demo-paste" and not job["paused"]
    assert run("schedule", "pause", "demo-paste", "--db", db).stdout.startswith("demo-paste: paused")
    assert json_lines(run("schedule", "list", "--json", "--db", db))[0]["paused"]
    assert run("schedule", "remove", "demo-paste", "--db", db).stdout == "demo-paste: schedule removed\n"
    gone = run("schedule", "resume", "demo-paste", "--db", db)
    assert gone.exit_code == 1 and gone.stderr.startswith("nigran: error: no schedule for 'demo-paste'")

    [watched] = json_lines(run("watch", "add", "--cnic", "-", "--label", "Ali", "--json", "--db", db,
                               input="35202-1234567-1\n"))
    assert watched["masked"] == "35202-*******-*" and watched["label"] == "Ali"
    again = run("watch", "add", "--cnic", "35202-1234567-1", "--label", "Ali", "--db", db)
    assert again.exit_code == 1 and again.stderr.startswith("nigran: error: ")
    assert [w["id"] for w in json_lines(run("watch", "list", "--json", "--db", db))] == [watched["id"]]
    assert run("watch", "remove", str(watched["id"]), "--db", db).exit_code == 0
    assert run("watch", "remove", str(watched["id"]), "--db", db).exit_code == 1

    listed = json_lines(run("sources", "check", "--json", "--sources", crawled["sources"]))
    assert "demo-paste" in {s["name"] for s in listed}


def test_db_upgrade_and_keys_show(db):
    assert run("db", "upgrade", "--db", db).stdout.endswith("(upgraded)\n")
    assert run("db", "upgrade", "--db", db).stdout.endswith("(already current)\n")
    [key] = json_lines(run("keys", "show", "--json"))
    assert set(key) >= {"key_id", "public_key", "public_key_file"}
    assert key["public_key"] in run("keys", "show").stdout


@pytest.mark.parametrize("module, imported", [("nigran.crawler", True), ("nigran.crawler.cli", False)])
def test_python_dash_m_runs_the_cli_and_imports_it_once(module, imported, home):
    """Both entry points work; run as `-m nigran.crawler.cli` the module is __main__ and nothing imports it again."""
    probe = ("import atexit, runpy, sys; "
             "atexit.register(lambda: print('nigran.crawler.cli' in sys.modules, file=sys.stderr)); "
             f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)")
    done = subprocess.run([sys.executable, "-c", probe, "keys", "show", "--json"], cwd=REPO, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["key_id"] and done.stderr == f"{imported}\n"
