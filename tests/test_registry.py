"""Every setting is declared once (config/registry.py), used by that name, and documented (README, "Settings")."""
from __future__ import annotations

import re

import click

from nigran.config.registry import SETTINGS
from nigran.crawler.cli import main
from nigran.crawler.crawl import scrapy_settings
from nigran.crawler.runtime import Services
from nigran.storage.db import Database
from nigran.storage.recorder import Recorder
from tests.support.run import REPO

CODE = ["config", "storage", "pipelines", "spiders", "crawler", "scheduler.py"]


def table_row(s) -> str:
    flag = f"`{s.flag}`" if s.flag else ""
    return f"| `{s.name}` | {flag} | {'yes' if s.scrapy else ''} | {s.default} | {s.help}" \
        f"{' (set by nigran)' if s.internal else ''} |"


def test_every_nigran_name_in_the_code_is_registered():
    used = {name for top in CODE for path in ([REPO / top] if top.endswith(".py") else (REPO / top).rglob("*.py"))
            for name in re.findall(r"NIGRAN_[A-Z_]+[A-Z]", path.read_text(encoding="utf-8"))}
    assert used - set(SETTINGS) == set()
    assert set(SETTINGS) - used == set()  # nothing registered that nothing reads


def test_the_readme_lists_every_setting_as_registered():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if re.match(r"\| `NIGRAN_", line)]
    assert [table_row(s) for s in SETTINGS.values()] == [r for r in rows if r.split("`")[1] in SETTINGS][:len(SETTINGS)]


def commands(group: click.Group, prefix: str = ""):
    for name, command in group.commands.items():
        yield f"{prefix}{name}", command
        if isinstance(command, click.Group):
            yield from commands(command, f"{prefix}{name} ")


def test_every_option_read_from_the_environment_is_a_registered_flag():
    seen = {}
    for path, command in commands(main):
        for param in command.params:
            if isinstance(param, click.Option) and param.envvar:
                setting = SETTINGS.get(param.envvar)
                assert setting is not None, f"nigran {path} {param.opts[0]}: {param.envvar} is not registered"
                assert setting.flag in param.opts, f"nigran {path}: {param.envvar} is {setting.flag}, not {param.opts}"
                seen[param.envvar] = path
    assert {s.name for s in SETTINGS.values() if s.flag and s.name != "NIGRAN_OPERATOR"} <= set(seen)  # --operator: a default, see offers


def test_a_scrapy_setting_in_the_environment_reaches_nigran_crawl(home, monkeypatch):
    monkeypatch.setenv("NIGRAN_BROWSER_PAGES_PER_CONTEXT", "7")
    settings = scrapy_settings(Services(Recorder(Database("sqlite://"), home / "bodies"), 1))
    assert settings.getint("NIGRAN_BROWSER_PAGES_PER_CONTEXT") == 7
