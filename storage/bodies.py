"""Content-addressed store of response bodies, exactly as received."""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


class BodyStore:
    """Files named by their SHA-256 under ROOT/ab/cd/<sha256>; written once, never rewritten."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._dirs: set[Path] = set()

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, body: bytes) -> str:
        """Store body atomically (temp file, fsync, rename); return its SHA-256."""
        digest = hashlib.sha256(body).hexdigest()
        target = self.path(digest)
        if target.exists():
            return digest
        if target.parent not in self._dirs:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(target.parent)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o440)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def get(self, sha256: str) -> bytes:
        """The stored bytes; raises ValueError when they no longer match their name."""
        data = self.path(sha256).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError(f"body {sha256} is corrupt: its bytes no longer hash to its name")
        return data
