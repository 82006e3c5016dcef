"""The sources file: valid files load, invalid ones stop everything with one clear line."""
from __future__ import annotations

import textwrap

import pytest

from nigran.config.schema import ConfigError, load_sources, select
from tests.support.run import REPO, nigran


def write(tmp_path, text: str):
    path = tmp_path / "sources.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_example_file_is_valid_and_documented():
    sources = load_sources(REPO / "config" / "sources.example.yaml")
    assert {s.kind for s in sources} == {"market", "forum", "paste", "telegram"}
    text = (REPO / "config" / "sources.example.yaml").read_text()
    for field in ("name", "kind", "start_urls", "via", "render", "allowed_domains", "max_depth", "max_pages",
                  "follow", "post", "engine", "fields", "channels", "base_url", "schedule", "enabled", "tags",
                  "download_delay", "concurrency"):
        assert f"#   {field}" in text, f"{field} is not documented"


def test_defaults_tor_and_allowed_domains(tmp_path):
    [s] = load_sources(write(tmp_path, """
        sources:
          - name: a
            start_urls: ["http://shop.example.org/x", "https://shop.example.org/y"]
    """))
    assert s.via == "tor" and s.render == "http" and s.enabled
    assert s.allowed_domains == ["shop.example.org"]


def test_onion_hosts_always_use_tor_even_when_direct(tmp_path):
    [s] = load_sources(write(tmp_path, """
        sources:
          - name: a
            via: direct
            start_urls: ["http://127.0.0.1:8000/"]
    """))
    assert not s.uses_tor("127.0.0.1")
    assert s.uses_tor("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcd.onion")


@pytest.mark.parametrize("body, expected", [
    ("sources:\n  - name: Bad Name\n    start_urls: ['http://x.org/']\n", "source 'Bad Name': field name: must be a slug"),
    ("sources:\n  - name: a\n    start_urls: ['ftp://x.org/']\n", "source 'a': field start_urls: not an http(s) URL"),
    ("sources:\n  - name: a\n    start_urls: ['http://x.org/']\n    via: socks\n", "source 'a': field via:"),
    ("sources:\n  - name: a\n    start_urls: ['http://x.org/']\n    max_pages: 0\n", "source 'a': field max_pages:"),
    ("sources:\n  - name: a\n    start_urls: ['http://x.org/']\n    colour: red\n", "source 'a': field colour:"),
    ("sources:\n  - name: a\n    start_urls: ['http://x.org/']\n    schedule: 'every day'\n", "source 'a': field schedule: not a cron"),
    ("sources:\n  - name: a\n    kind: telegram\n", "source 'a': field channels: a telegram source needs"),
    ("sources:\n  - name: a\n    kind: forum\n", "source 'a': field start_urls: needs at least one URL"),
    ("sources:\n  - name: a\n    start_urls: ['http://x.org/']\n  - name: a\n    start_urls: ['http://y.org/']\n",
     "duplicate source name 'a'"),
    ("sources: [\n", "not valid YAML at line"),
    ("- just\n- a list\n", "field sources: missing"),
])
def test_invalid_files_name_file_source_and_field(tmp_path, body, expected):
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as err:
        load_sources(path)
    message = str(err.value)
    assert message.startswith(str(path)) and expected in message and "\n" not in message


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_sources(tmp_path / "nope.yaml")


def test_select_unknown_source(tmp_path):
    sources = load_sources(write(tmp_path, "sources:\n  - name: a\n    start_urls: ['http://x.org/']\n"
                                           "  - name: b\n    enabled: false\n    start_urls: ['http://x.org/']\n"))
    assert [s.name for s in select(sources, ())] == ["a"]
    assert [s.name for s in select(sources, ("b",))] == ["b"]
    with pytest.raises(ConfigError, match="unknown source 'c'"):
        select(sources, ("c",))


def test_cli_sources_check(tmp_path, home):
    good = nigran("sources", "check", "--sources", str(REPO / "config" / "sources.example.yaml"), "--json")
    assert good.returncode == 0, good.stderr
    assert len(good.stdout.splitlines()) == 7  # every source of the example file, one JSON line each
    bad = write(tmp_path, "sources:\n  - name: a\n    start_urls: ['http://x.org/']\n    max_depth: -1\n")
    result = nigran("sources", "check", "--sources", str(bad))
    assert result.returncode == 2
    assert result.stderr.decode().count("\n") == 1 and "source 'a': field max_depth" in result.stderr.decode()


def test_invalid_config_runs_nothing(tmp_path, home):
    bad = write(tmp_path, "sources:\n  - name: a\n    start_urls: ['http://127.0.0.1:9/']\n    via: direct\n    bogus: 1\n")
    result = nigran("crawl", "--sources", str(bad))
    assert result.returncode == 2 and "field bogus" in result.stderr.decode()
    assert not (home / "nigran.db").exists()
