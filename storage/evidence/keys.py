"""The installation's evidence signing key: minisign Ed25519, created at first use in the data home."""
from __future__ import annotations

from pathlib import Path

from nigran.storage.evidence.minisign import (PublicKey, SecretKey, SignatureError, fingerprint, generate_keypair,
                                              public_keys_from_text, read_secret_key)
from nigran.storage.home import data_home

SECRET_NAME = "signing.key"
PUBLIC_NAME = "signing.pub"
TRUSTED_NAME = "trusted_keys"


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


def existing_signing_key(home: Path) -> SecretKey | None:
    """The secret key of `home`, or None when it has none; nothing is created."""
    secret_path = key_paths(home)[0]
    return read_secret_key(secret_path) if secret_path.is_file() else None


def public_key(home: Path | None = None) -> PublicKey:
    return signing_key(home).public_key


def describe(key: PublicKey) -> dict[str, str]:
    """Key id (as minisign prints it) and the full public key to pin."""
    return {"alg": "ed25519-minisign", "key_id": fingerprint(key), "public_key": key.base64}


def given_key(value: str) -> PublicKey:
    """A key named on the command line: a ``.pub`` file, or the base64 key itself."""
    path = Path(value)
    if not path.is_file():
        try:
            return PublicKey.from_text(value)
        except SignatureError:
            raise SignatureError(f"key {value[:80]}: neither a file nor a minisign public key") from None
    try:
        return PublicKey.from_text(path.read_text())
    except (OSError, UnicodeDecodeError, SignatureError) as exc:
        raise SignatureError(f"key {value}: {exc}") from None


def pinned_keys(given: tuple[str, ...] = (), trusted_file: Path | None = None) -> list[PublicKey]:
    """The keys a bundle may be signed by: each given key, and every key of the trusted-keys file
    (default $NIGRAN_HOME/trusted_keys, when it exists)."""
    keys = [given_key(value) for value in given]
    path = Path(trusted_file) if trusted_file else data_home() / TRUSTED_NAME
    if trusted_file or path.is_file():
        try:
            keys += public_keys_from_text(path.read_text(), str(path))
        except (OSError, UnicodeDecodeError) as exc:
            raise SignatureError(f"trusted keys {path}: {exc}") from None
    return keys
