"""Who and what made a capture or an export: tool versions, git commit, host, operator."""
from __future__ import annotations

import getpass
import platform
import socket
import subprocess
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from nigran.config.registry import env

REPO = Path(__file__).resolve().parents[2]


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


@lru_cache(maxsize=1)
def git_commit() -> str:
    """The source tree's commit (with "-dirty" when it has local changes), or "unknown"."""
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10)
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head.stdout.strip() + ("-dirty" if dirty else "")


@lru_cache(maxsize=1)
def tool_info() -> dict[str, str]:
    """Versions of nigran and the components that shape its captures."""
    return {"name": "nigran", "version": _version("nigran"), "git_commit": git_commit(),
            "python": platform.python_version(), "scrapy": _version("scrapy"), "warcio": _version("warcio"),
            "httpx2": _version("httpx2"), "platform": platform.platform()}


def host() -> str:
    return socket.gethostname()


def operator() -> str:
    """$NIGRAN_OPERATOR, else the login name."""
    return env("NIGRAN_OPERATOR") or getpass.getuser()
