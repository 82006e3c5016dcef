"""Where nigran keeps its data: one directory, overridable by NIGRAN_HOME."""
from __future__ import annotations

import os
from pathlib import Path


def data_home() -> Path:
    """$NIGRAN_HOME, else $XDG_DATA_HOME/nigran, else ~/.local/share/nigran (created 0700)."""
    env = os.environ.get("NIGRAN_HOME")
    if env:
        home = Path(env)
    else:
        base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
        home = Path(base) / "nigran"
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return home


def default_db_url() -> str:
    """$NIGRAN_DB, else SQLite in the data directory."""
    return os.environ.get("NIGRAN_DB") or f"sqlite:///{data_home() / 'nigran.db'}"
