"""Logs and terminal output under hostile input: no raw identifier in any log, no terminal driven by scraped text."""
from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nigran.crawler.demo import DEMO_DIR
from nigran.crawler.demo.config import demo_sources
from nigran.pipelines.extraction import find_identifiers
from nigran.spiders.text import html_to_text
from tests.support.fixture_server import FixtureServer
from tests.support.run import REPO, nigran

# --- personal data never reaches the logs ----------------------------------------------------------------

EVIDENCE_DIRS = ("bodies", "warc")  # the captures keep the raw values by design


def demo_identifiers() -> dict[str, str]:
    """Every identifier nigran's engine finds on the demo sites' pages: value -> type."""
    found = {}
    for page in (DEMO_DIR / "sites").rglob("*.html"):
        for ident in find_identifiers(html_to_text(page.read_text(encoding="utf-8"))):
            found[ident.value] = ident.type
    return found


def any_spelling(kind: str, value: str) -> re.Pattern:
    """`value` however it is written: with or without dashes, spaces or dots between its characters, and a
    mobile number with 0, 92 or +92 before its last ten digits (0301-2345678, 03012345678, +923012345678)."""
    core = value if kind == "passport" else re.sub(r"\D", "", value)
    if kind == "pk_mobile":
        core = core[-10:]
    return re.compile(r"[\s.-]?".join(map(re.escape, core)).encode(), re.IGNORECASE)


PATTERNS = {value: any_spelling(kind, value) for value, kind in demo_identifiers().items()}


def raw_identifiers_in(data: bytes) -> list[str]:
    return [value for value, pattern in PATTERNS.items() if pattern.search(data)]


def raw_identifiers_outside_evidence(home: Path) -> dict[str, list[str]]:
    """Raw demo identifiers in any file of the data home but the captured evidence and the key files."""
    hits = {}
    for f in sorted(home.rglob("*")):
        rel = f.relative_to(home)
        if f.is_file() and not set(rel.parts) & set(EVIDENCE_DIRS) and not f.name.endswith(".key"):
            if found := raw_identifiers_in(f.read_bytes()):
                hits[str(rel)] = found
    return hits


def demo_sources_file(tmp_path: Path, demo_sites, only: str | None = None) -> str:
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [
        s.model_dump(mode="json", exclude_defaults=True, exclude={"allowed_domains"})
        for s in demo_sources(demo_sites.urls) if only in (None, s.name)]}), encoding="utf-8")
    return str(path)


def test_security_demo_leaves_no_raw_identifier_outside_the_evidence(home):
    assert len(PATTERNS) > 40  # the demo's CNICs, mobile numbers and passports
    result = nigran("demo")
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    (run_home,) = (home / "demo").iterdir()
    assert [p.name for p in (run_home / "logs").iterdir()] == ["run-1.log"]
    assert raw_identifiers_outside_evidence(home) == {}
    assert raw_identifiers_in(result.stdout + result.stderr) == []


def test_security_verbose_crawl_logs_no_raw_identifier(tmp_path, home, demo_sites):
    result = nigran("crawl", "--sources", demo_sources_file(tmp_path, demo_sites), "-v")
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert b"INFO" in result.stderr  # -v shows the INFO log
    assert raw_identifiers_outside_evidence(home) == {}
    assert raw_identifiers_in(result.stdout + result.stderr) == []


def test_security_scrapy_debug_log_names_items_without_their_values(tmp_path, home, demo_sites):
    env = {**os.environ, "NIGRAN_SOURCES": demo_sources_file(tmp_path, demo_sites, "demo-paste"),
           "NIGRAN_DB": f"sqlite:///{home / 'nigran.db'}"}
    result = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "demo-paste", "-L", "DEBUG"], cwd=REPO,
                            capture_output=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert raw_identifiers_in(result.stderr) == []
    log = result.stderr.decode()
    assert "Scraped post http://" in log and "of demo-paste (capture " in log  # items are named, by their ids


def test_security_run_logs_are_private_to_their_owner(tmp_path, home, demo_sites):
    (home / "logs").mkdir()
    (home / "logs").chmod(0o755)  # as an earlier version left it
    result = nigran("crawl", "--sources", demo_sources_file(tmp_path, demo_sites, "demo-paste"))
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert stat.S_IMODE((home / "logs").stat().st_mode) == 0o700
    logs = list((home / "logs").iterdir())
    assert logs and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in logs)


# --- scraped text cannot drive the analyst's terminal ---------------------------------------------------

# What a terminal would act on: C0 controls but tab and newline, DEL, C1 controls, bidi overrides/isolates.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# rich's own output when a terminal is forced: colours, and the progress display's cursor moves
RICH_OWN = re.compile("\x1b\\[[0-9;]*[mAK]|\x1b\\[\\?25[hl]|\r")
URDU = "شناختی کارڈ کی کاپی دستیاب ہے"
HOSTILE_POSTS = [  # (author, text): short enough to show whole in `nigran posts`
    ("mallory\x1b]0;pwned\x07", "CNIC copy for sale Rs 500 \x1b[2J\x1b[H cls \x9b31m tg @clear_seller"),
    ("eve", "SIM owner details Rs 300 [link=http://evil.example]click[/link] tg @link_seller"),
    ("trent", "CDR call logs for sale Rs 900 closing [/bold] tag tg @bold_seller"),
    ("bidi", "passport data for sale Rs 700 invoice\u202egnp.exe \u2066iso\u2069 tg @bidi_seller"),
    ("urdu", f"{URDU}، قیمت 500 روپے، ٹیلیگرام @urdu_seller"),
]


class HostileTextSite:
    """One page of posts on 127.0.0.1 whose text carries escape sequences, rich markup, bidi overrides and Urdu."""

    def __init__(self):
        body = "".join(f"<article class='post' id='p{n}'><span class='who'>{author}</span>"
                       f"<div class='body'>{text}</div></article>" for n, (author, text) in enumerate(HOSTILE_POSTS))
        page = f"<html><head><meta charset='utf-8'></head><body>{body}</body></html>".encode()
        self.server = FixtureServer(lambda request: (200, {"Content-Type": "text/html; charset=utf-8"}, page),
                                    protocol="HTTP/1.0", name="hostile-text-site")
        self.url = self.server.url("/")

    def __enter__(self) -> HostileTextSite:
        self.server.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop()


@pytest.fixture(scope="module")
def hostile_site():
    with HostileTextSite() as site:
        yield site


def write_sources(tmp_path: Path, source: dict) -> str:
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [source]}, allow_unicode=True), encoding="utf-8")
    return str(path)


def shown(result: subprocess.CompletedProcess, forced: bool) -> str:
    """What reached the terminal, asserting nothing in it is a control sequence not made by rich itself."""
    text = (result.stdout + result.stderr).decode()
    if forced:
        assert RICH_OWN.search(text), "rich took it for a terminal"
        assert "\x1b]" not in text  # no OSC: no window title, no hyperlink
        text = RICH_OWN.sub("", text)
    assert UNSAFE.findall(text) == []
    return text


TERMINALS = {"plain": {"TERM": "dumb"}, "forced": {"FORCE_COLOR": "1", "TERM": "xterm", "COLUMNS": "200"}}


@pytest.mark.parametrize("terminal", TERMINALS)
def test_security_scraped_text_cannot_drive_the_terminal(tmp_path, home, monkeypatch, hostile_site, terminal):
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    env, forced = TERMINALS[terminal], terminal == "forced"
    sources = write_sources(tmp_path, {"name": "hostile", "via": "direct", "start_urls": [hostile_site.url],
                                       "max_depth": 0, "post": "article.post",
                                       "fields": {"text": "div.body", "author": "span.who"}})
    crawl = nigran("crawl", "--sources", sources, env=env)
    assert crawl.returncode == 0, crawl.stderr.decode()[-2000:]
    shown(crawl, forced)

    posts = nigran("posts", env=env)
    assert posts.returncode == 0, posts.stderr.decode()[-2000:]
    text = shown(posts, forced)
    assert "5 posts" in text
    assert "[link=http://evil.example]click[/link]" in text and "closing [/bold] tag" in text  # literally
    assert "mallory]0;pwned" in text and "[2J[H cls 31m" in text  # what is left of the sequences, inert
    assert "invoicegnp.exe" in text
    assert URDU in text

    for command in (("offers",), ("runs",)):
        result = nigran(*command, env=env)
        assert result.returncode == 0, result.stderr.decode()[-2000:]
        assert "hostile" in shown(result, forced)


def test_security_sources_check_shows_config_values_literally(tmp_path, home):
    url = "http://127.0.0.1:9/\x1b]0;pwned\x07[link=http://evil.example]x[/link]\u202etxt.exe"
    result = nigran("sources", "check", "--sources", write_sources(tmp_path, {"name": "odd", "start_urls": [url]}))
    assert result.returncode == 0, result.stderr.decode()
    text = shown(result, forced=False)
    assert "http://127.0.0.1:9/]0;pwned[link=http://evil.example]x[/link]txt.exe" in text


def error_line(result: subprocess.CompletedProcess) -> str:
    """The one line a failing command prints, checked to be safe."""
    text = shown(result, forced=False)
    assert text.count("\n") == 1 and text.startswith("nigran: error: "), text
    return text


def test_security_error_lines_are_one_safe_line(tmp_path, home):
    missing = tmp_path / "x\nnigran: error: forged\x1b]0;pwned\x07.yaml"
    result = nigran("sources", "check", "--sources", str(missing))
    assert result.returncode == 2
    assert "x nigran: error: forged]0;pwned.yaml: file not found" in error_line(result)

    bad_cron = write_sources(tmp_path, {"name": "odd", "start_urls": ["http://127.0.0.1:9/"],
                                        "schedule": "0 3 * * \x1b[2J"})
    result = nigran("sources", "check", "--sources", bad_cron)
    assert result.returncode == 2
    assert 'not a cron expression (Unrecognized expression "[2J"' in error_line(result)


def test_security_watch_labels_are_shown_literally(home):
    label = "boss\x1b]0;pwned\x07 [/bold] [link=http://evil.example]x[/link] \u202eabc"
    added = nigran("watch", "add", "--cnic", "-", "--label", label, input=b"35202-1234567-1\n")
    assert added.returncode == 0, added.stderr.decode()
    listed = nigran("watch", "list")
    assert listed.returncode == 0, listed.stderr.decode()
    for result in (added, listed):
        assert "boss]0;pwned [/bold] [link=http://evil.example]x[/link] abc" in shown(result, forced=False)
    again = nigran("watch", "add", "--cnic", "-", "--label", "twice", input=b"35202-1234567-1\n")
    assert again.returncode == 1
    assert "already watched as #1 (boss]0;pwned [/bold]" in error_line(again)
