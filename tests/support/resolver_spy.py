"""A spy on the local resolver of the child processes a test starts."""
from __future__ import annotations

import os
from pathlib import Path

from tests.support.run import REPO

# Logs every host name the crawl process asks its local resolver about (Python's socket.getaddrinfo).
RESOLVER_SPY = """
import socket, os
_real = socket.getaddrinfo
def _spy(host, *args, **kwargs):
    with open(os.environ["NIGRAN_RESOLVER_LOG"], "a") as fh:
        fh.write(f"{host}\\n")
    return _real(host, *args, **kwargs)
socket.getaddrinfo = _spy
"""


def resolver_spy(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """The environment that makes a child process log each name it resolves locally, and that log."""
    spy_dir = tmp_path / "spy"
    spy_dir.mkdir()
    (spy_dir / "sitecustomize.py").write_text(RESOLVER_SPY)
    log = tmp_path / "resolved.txt"
    log.touch()
    env = {"PYTHONPATH": os.pathsep.join([str(spy_dir), str(REPO)]), "NIGRAN_RESOLVER_LOG": str(log)}
    return env, log
