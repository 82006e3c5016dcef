"""The installation's evidence signing key: minisign Ed25519, created at first use in the data home."""
from __future__ import annotations

from pathlib import Path

from storage.evidence.minisign import PublicKey, SecretKey, fingerprint, generate_keypair, read_secret_key
from storage.home import data_home

SECRET_NAME = "signing.key"
PUBLIC_NAME = "signing.pub"


def key_paths(home: Path | None = None) -> tuple[Path, Path]:
    home = Path(home) if home else data_home()
    return home / SECRET_NAME, home / PUBLIC_NAME


def signing_key(home: Path | None = None) -> SecretKey:
    """The secret key (mode 0600), generated on first use; the public key file is (re)written beside it."""
    secret_path, public_path = key_paths(home)
    try:
        generate_keypair(secret_path, public_path)
    except FileExistsError:
        pass
    secret = read_secret_key(secret_path)
    if not public_path.exists() or PublicKey.from_text(public_path.read_text()) != secret.public_key:
        public_path.write_text(secret.public_key.to_text())
    return secret


def public_key(home: Path | None = None) -> PublicKey:
    return signing_key(home).public_key


def describe(key: PublicKey) -> dict[str, str]:
    """Key id (as minisign prints it) and the full public key to pin."""
    return {"alg": "ed25519-minisign", "key_id": fingerprint(key), "public_key": key.base64}
