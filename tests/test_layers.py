"""Layers point down: config < storage < spiders < pipelines < crawler (issue #13). Read from the source."""
from __future__ import annotations

import ast
import re
import tomllib

import pytest

from tests.support.run import REPO


def ours(*names: str) -> tuple[str, ...]:
    return tuple(f"nigran.{name}" for name in names)


CODE = ["config", "storage", "pipelines", "spiders", "crawler", "scheduler.py"]
FORBIDDEN = {  # package -> the imports it must never make (a name or a name's prefix)
    "config": ours("storage", "pipelines", "spiders", "crawler", "scheduler"),
    "storage": ours("pipelines", "spiders", "crawler", "scheduler"),
    "pipelines": ours("crawler", "scheduler"),  # items and HTML-to-text are the spiders': pipelines may use them
    "spiders": (*ours("pipelines", "scheduler", "crawler.distributed", "crawler.tor", "crawler.frontier",
                      "crawler.runtime", "storage.models", "storage.db"), "sqlalchemy"),
}


def modules(top: str):
    root = REPO / top
    yield from [root] if root.is_file() else sorted(root.rglob("*.py"))


def imports(path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.append(node.module or "")
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_layer_imports_a_higher_one(package):
    banned = FORBIDDEN[package]
    offending = [f"{path.relative_to(REPO)}: {name}" for path in modules(package) for name in imports(path)
                 if any(name == b or name.startswith(b + ".") for b in banned)]
    assert offending == []


def test_components_reach_shared_state_through_the_runtime_not_the_crawler():
    """No attribute stuck onto Scrapy's Crawler."""
    pattern = re.compile(r"\.nigran_\w+|attr\([^)]*[\"']nigran_")
    offending = [f"{path.relative_to(REPO)}:{n}" for top in CODE for path in modules(top)
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert offending == []


def test_no_module_reaches_a_sibling_through_sys_modules():
    """Modules import what they use; none looks another up in sys.modules (the old CLI registration did)."""
    offending = [f"{path.relative_to(REPO)}:{node.lineno}" for top in CODE for path in modules(top)
                 for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                 if isinstance(node, ast.Attribute) and node.attr == "modules"
                 and isinstance(node.value, ast.Name) and node.value.id == "sys"]
    assert offending == []


def test_nigran_code_imports_itself_only_as_nigran_dot_something():
    """Installed top-level names are `nigran` only, so no other distribution's `config` or `storage` clashes."""
    tops = {"config", "crawler", "spiders", "pipelines", "storage", "scheduler"}
    everything = [*CODE, "tests", "benchmarks", "scripts"]
    offending = [f"{path.relative_to(REPO)}: {name}" for top in everything for path in modules(top)
                 for name in imports(path) if name.split(".")[0] in tops]
    assert offending == []


def test_every_package_folder_is_installed_under_nigran():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {"nigran." + ".".join(init.parent.relative_to(REPO).parts) for top in CODE if top != "scheduler.py"
               for init in (REPO / top).rglob("__init__.py")}
    assert listed == {"nigran", *folders}
