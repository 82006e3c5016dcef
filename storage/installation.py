"""Which data home a database belongs to: the home and signing key recorded in the database when that home
first wrote to it. A command given only `--db` finds the evidence and keys there, and a database is never
paired with another home's keys."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from nigran.storage.db import Database
from nigran.storage.evidence import keys
from nigran.storage.evidence.minisign import PublicKey, SignatureError, fingerprint
from nigran.storage.home import data_home
from nigran.storage.models import Installation, utcnow


class InstallationError(Exception):
    """The database's evidence belongs to a home with another signing key (or none)."""


def claim(session: Session, home: Path, key: PublicKey) -> None:
    """Record `home` and its signing key as the database's installation, unless one is recorded already."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(Installation).values(
        id=1, home=str(Path(home).resolve()), key_id=fingerprint(key), public_key=key.base64, recorded_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["id"]))


def _key_of(home: Path) -> PublicKey | None:
    try:
        secret = keys.existing_signing_key(home)
    except (OSError, UnicodeDecodeError, SignatureError) as exc:
        raise InstallationError(f"signing key in {home}: {exc}") from None
    return secret and secret.public_key


def evidence_home(db: Database, given: Path | None) -> Path:
    """The data home holding `db`'s bodies, WARCs and signing key: `given` ($NIGRAN_HOME) when it holds the
    key the database recorded, else the recorded home; for a database with no record, `given` or the default
    home. Refuses (creating nothing) a home whose key is not the recorded one."""
    with db.session() as session:
        record = session.get(Installation, 1)
    if record is None:
        return Path(given) if given is not None else data_home()
    home = Path(given) if given is not None else Path(record.home)
    key = _key_of(home)
    if key is None or key.base64 != record.public_key:
        held = f"holds signing key {fingerprint(key)}" if key else "holds no signing key"
        fix = "unset NIGRAN_HOME or point it at that home" if given is not None else "set NIGRAN_HOME to where it is now"
        raise InstallationError(f"database {db.safe_url} belongs to the data home {record.home} (signing key "
                                f"{record.key_id}), but {home} {held}; {fix}")
    return home
