"""The outcome of `nigran verify` (a bundle or the local store): what held, what failed, the verdict.

VALID needs no problem and a signer the verifier pinned; intact evidence signed by a key nobody
pinned is UNVERIFIED, never VALID, since anyone can make a consistent bundle with a key of their own.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from nigran.storage.evidence import minisign

VALID, INVALID, UNREADABLE, UNVERIFIED = "valid", "invalid", "unreadable", "unverified"
EXIT_STATUS = {VALID: 0, INVALID: 1, UNREADABLE: 2, UNVERIFIED: 4}


@dataclass
class Report:
    ok: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    signer: minisign.PublicKey | None = None
    pinned: bool = False  # the signer is a key the verifier trusts
    facts: dict = field(default_factory=dict)  # counts and per-part problems, for --json

    @property
    def verdict(self) -> str:
        if self.problems:
            return INVALID
        return VALID if self.pinned else UNVERIFIED

    @property
    def valid(self) -> bool:
        return self.verdict == VALID

    @property
    def exit_status(self) -> int:
        return EXIT_STATUS[self.verdict]

    def verdict_line(self) -> str:
        if self.verdict == INVALID:
            return f"INVALID: {len(self.problems)} problem(s)"
        if self.verdict == UNVERIFIED:
            who = minisign.fingerprint(self.signer) if self.signer else "nobody"
            return f"UNVERIFIED: signed by an unpinned key {who}"
        return "VALID"

    def as_dict(self) -> dict:
        signer = self.signer and {"key_id": minisign.fingerprint(self.signer), "public_key": self.signer.base64,
                                  "pinned": self.pinned}
        return {"verdict": self.verdict, "valid": self.valid, "signer": signer, "ok": self.ok,
                "problems": self.problems, "notes": self.notes, **self.facts}


def unreadable(message: str) -> dict:
    """The --json line of a bundle that could not be read."""
    return {"verdict": UNREADABLE, "valid": False, "unreadable": message}
