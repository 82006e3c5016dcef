"""Security: a hostile config file cannot hang or crash nigran (issue #18, defect 11).

Every file goes through the real command line; each must end at once with the config-error status (2)
and one short line on stderr.
"""
from __future__ import annotations

import time

import pytest

from nigran.config.yamlsafe import MAX_BYTES
from tests.support.run import nigran

GOOD = "sources:\n  - name: a\n    via: direct\n    start_urls: ['http://127.0.0.1:9/']\n"


def alias_bomb(key: str) -> str:
    """Nine levels of nine aliases: 9**9 strings once expanded (and formatted with `!r` before the fix)."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]
    return "\n".join(lines) + f"\nsources:\n  - {key}: *l9\n    start_urls: ['http://a.example/']\n"


HOSTILE = {
    "alias-bomb-name": (alias_bomb("name"), "line 1, column 5: anchors and aliases (&, *) are not allowed"),
    "alias-bomb-tags": (alias_bomb("tags"), "anchors and aliases"),
    "huge-integer": (GOOD + "    max_pages: " + "9" * 5000 + "\n", "line 5, column 16: integer longer than 64"),
    "deep-nesting": ("sources: " + "[" * 100_000, "nested deeper than 32 levels"),
    "huge-file": (GOOD + "#" * MAX_BYTES, "larger than 1024 KiB"),
    "huge-value": ("sources:\n  - name: a\n    start_urls: ['ftp://" + "x" * 500_000 + "']\n",
                   "field start_urls: not an http(s) URL: 'ftp://xxx"),
    "huge-name": ("sources:\n  - name: '" + "N" * 500_000 + "'\n    start_urls: ['http://a.example/']\n",
                  "field name: must be a slug"),
}


def assert_refused_at_once(args: list[str], expected: str) -> None:
    started = time.monotonic()
    result = nigran(*args, timeout=30)
    err = result.stderr.decode()
    assert result.returncode == 2, err[-2000:]
    assert time.monotonic() - started < 10
    assert err.count("\n") == 1 and len(err) < 500, err[:2000]
    assert err.startswith("nigran: error: ") and expected in err


@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("command", [["sources", "check"], ["crawl"]])
def test_security_hostile_sources_file_is_refused_at_once_in_one_line(tmp_path, home, case, command):
    body, expected = HOSTILE[case]
    path = tmp_path / "sources.yaml"
    path.write_text(body, encoding="utf-8")
    assert_refused_at_once([*command, "--sources", str(path)], expected)
    assert not (home / "nigran.db").exists()  # nothing ran


@pytest.mark.parametrize("body, expected", [
    (alias_bomb("rules").replace("sources:", "delivery: {}\nx:"), "anchors and aliases"),
    ("delivery:\n  attempts: " + "7" * 5000 + "\n", "integer longer than 64"),
    ("channels:\n  - type: webhook\n    name: w\n    secret: s\n    url: 'gopher://" + "y" * 500_000 + "'\n",
     "not an http(s) URL: 'gopher://yyy"),
])
def test_security_hostile_alerts_file_is_refused_at_once_in_one_line(tmp_path, home, body, expected):
    (tmp_path / "sources.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "alerts.yaml").write_text(body, encoding="utf-8")
    assert_refused_at_once(["sweep", "--sources", str(tmp_path / "sources.yaml"), "--alerts",
                            str(tmp_path / "alerts.yaml"), "--db", f"sqlite:///{home / 'nigran.db'}"], expected)
