"""Where nigran keeps its data: one directory, overridable by NIGRAN_HOME, readable by its owner only."""
from __future__ import annotations

import os
from pathlib import Path

from nigran.config.registry import env


def private_dir(path: Path) -> Path:
    """`path` created if missing, and 0700 even when it existed (an earlier version may have left it open)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def private_file(path: Path, *, new: bool = False) -> int:
    """`path` opened for appending, 0600 even when it existed; `new` refuses an existing file. Returns the fd."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_EXCL if new else 0), 0o600)
    os.fchmod(fd, 0o600)
    return fd


def configured_home() -> Path | None:
    """$NIGRAN_HOME when set, without creating it."""
    given = env("NIGRAN_HOME")
    return Path(given) if given else None


def data_home() -> Path:
    """$NIGRAN_HOME, else $XDG_DATA_HOME/nigran, else ~/.local/share/nigran (0700)."""
    given = env("NIGRAN_HOME")
    if given:
        return private_dir(Path(given))
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return private_dir(Path(base) / "nigran")


def default_db_url() -> str:
    """$NIGRAN_DB, else SQLite in the data directory."""
    return env("NIGRAN_DB") or f"sqlite:///{data_home() / 'nigran.db'}"
