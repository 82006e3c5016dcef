"""Ed25519 keys and signatures in minisign's format, checkable with stock ``minisign -V``.

Formats (jedisct1.github.io/minisign):

- public key: ``base64("Ed" || key_id[8] || pk[32])``
- secret key: ``base64("Ed" || kdf "\\0\\0" || "B2" || salt[32] || ops[8] || mem[8]
  || key_id[8] || seed+pk[64] || blake2b256("Ed" || key_id || seed+pk))``, i.e. the
  unencrypted form ``minisign -G -W`` writes, so ``minisign -S`` can use it too.
- signature: ``base64("ED" || key_id || Ed25519(BLAKE2b-512(data)))`` followed by
  the trusted comment and ``base64(Ed25519(signature || trusted_comment))``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

SIG_ALG = b"Ed"
SIG_ALG_PREHASHED = b"ED"
CHK_ALG = b"B2"
KDF_NONE = b"\0\0"
UNTRUSTED = "untrusted comment: "
TRUSTED = "trusted comment: "


class SignatureError(ValueError):
    """A key or signature is malformed, or a signature does not verify."""


def _key_id_hex(key_id: bytes) -> str:
    """Key id as minisign prints it: the little-endian integer in upper-case hex."""
    return format(int.from_bytes(key_id, "little"), "X")


def _b64decode(line: str, what: str) -> bytes:
    try:
        return base64.b64decode(line.strip(), validate=True)
    except binascii.Error as exc:
        raise SignatureError(f"{what}: invalid base64") from exc


def _check_comment(comment: str) -> None:
    if "\n" in comment or "\r" in comment:
        raise SignatureError("comments must be a single line")


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key with its 8-byte minisign key id."""

    key_id: bytes
    key: bytes

    @classmethod
    def from_text(cls, text: str) -> PublicKey:
        """Parse a ``.pub`` file's text or the bare base64 line (``minisign -P``)."""
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if lines and lines[0].startswith(UNTRUSTED):
            lines = lines[1:]
        if not lines:
            raise SignatureError("public key: empty")
        raw = _b64decode(lines[0], "public key")
        if len(raw) != 42 or raw[:2] != SIG_ALG:
            raise SignatureError("public key: not a minisign Ed25519 key")
        return cls(raw[2:10], raw[10:])

    @property
    def base64(self) -> str:
        """The one-line form accepted by ``minisign -P``."""
        return base64.b64encode(SIG_ALG + self.key_id + self.key).decode()

    def to_text(self) -> str:
        """The ``.pub`` file contents."""
        return f"{UNTRUSTED}minisign public key {_key_id_hex(self.key_id)}\n{self.base64}\n"


@dataclass(frozen=True)
class SecretKey:
    """An Ed25519 seed with its 8-byte minisign key id (the seed stays out of repr)."""

    key_id: bytes
    seed: bytes = field(repr=False)

    @property
    def public_key(self) -> PublicKey:
        pk = self._private().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return PublicKey(self.key_id, pk)

    def _private(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    def to_text(self) -> str:
        """The unencrypted minisign secret key file contents."""
        kdf_params = bytes(32 + 8 + 8)  # salt, opslimit, memlimit: unused without a KDF
        keynum = self.key_id + self.seed + self.public_key.key
        chk = hashlib.blake2b(SIG_ALG + keynum, digest_size=32).digest()
        raw = SIG_ALG + KDF_NONE + CHK_ALG + kdf_params + keynum + chk
        return f"{UNTRUSTED}minisign unencrypted secret key\n{base64.b64encode(raw).decode()}\n"

    @classmethod
    def from_text(cls, text: str) -> SecretKey:
        """Parse an unencrypted minisign secret key file."""
        lines = text.splitlines()
        raw = _b64decode(lines[1] if len(lines) > 1 else "", "secret key")
        if len(raw) != 158 or raw[:2] != SIG_ALG or raw[4:6] != CHK_ALG:
            raise SignatureError("secret key: not a minisign Ed25519 secret key")
        if raw[2:4] != KDF_NONE:
            raise SignatureError("secret key is password-protected; remove it with `minisign -C -W`")
        key = cls(raw[54:62], raw[62:94])
        chk = raw[126:]
        # minisign -W leaves the checksum zeroed; anything else must match.
        chk_ok = chk == bytes(32) or hmac.compare_digest(
            chk, hashlib.blake2b(SIG_ALG + raw[54:126], digest_size=32).digest())
        if not chk_ok or raw[94:126] != key.public_key.key:
            raise SignatureError("secret key: checksum mismatch (corrupted file)")
        return key


def generate_keypair(secret_path: str | os.PathLike, public_path: str | os.PathLike) -> PublicKey:
    """Create a new key pair; the secret key file is created 0600 and never overwritten."""
    secret = SecretKey(os.urandom(8), os.urandom(32))
    fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret.to_text())
    Path(public_path).write_text(secret.public_key.to_text())
    return secret.public_key


def read_secret_key(path: str | os.PathLike) -> SecretKey:
    return SecretKey.from_text(Path(path).read_text())


def read_public_key(path: str | os.PathLike) -> PublicKey:
    return PublicKey.from_text(Path(path).read_text())


def public_keys_from_text(text: str, where: str = "keys") -> list[PublicKey]:
    """Every key in a list of keys: base64 key lines or whole ``.pub`` files one after another;
    blank lines, ``#`` comments and ``untrusted comment:`` lines are skipped."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#") or line.startswith(UNTRUSTED):
            continue
        try:
            found.append(PublicKey.from_text(line))
        except SignatureError as exc:
            raise SignatureError(f"{where} line {number}: {exc}") from None
    return found


def fingerprint(public_key: PublicKey) -> str:
    """The key id in hex, as ``minisign`` prints it.

    It names the key but is not collision resistant: to pin a key, compare
    ``public_key.base64`` in full.
    """
    return _key_id_hex(public_key.key_id)


def sign(data: bytes, secret: SecretKey, trusted_comment: str,
         untrusted_comment: str = "signature from nigran secret key") -> str:
    """Return ``.minisig`` text over ``data`` (prehashed ``ED`` mode)."""
    _check_comment(trusted_comment)
    _check_comment(untrusted_comment)
    private = secret._private()
    signature = private.sign(hashlib.blake2b(data).digest())
    global_sig = private.sign(signature + trusted_comment.encode())
    return (f"{UNTRUSTED}{untrusted_comment}\n"
            f"{base64.b64encode(SIG_ALG_PREHASHED + secret.key_id + signature).decode()}\n"
            f"{TRUSTED}{trusted_comment}\n"
            f"{base64.b64encode(global_sig).decode()}\n")


def _signature_parts(minisig_text: str) -> tuple[list[str], bytes]:
    """The lines of ``.minisig`` text and its decoded signature line (algorithm, key id, signature)."""
    lines = minisig_text.splitlines()
    if (len(lines) < 4 or not lines[0].startswith(UNTRUSTED)
            or not lines[2].startswith(TRUSTED)):
        raise SignatureError("signature: not a minisign signature file")
    raw = _b64decode(lines[1], "signature")
    if len(raw) != 74 or raw[:2] not in (SIG_ALG, SIG_ALG_PREHASHED):
        raise SignatureError("signature: unsupported algorithm or length")
    return lines, raw


def signature_key_id(minisig_text: str) -> bytes:
    """The id of the key a ``.minisig`` claims to be made by (unverified: only to pick the key to check)."""
    return _signature_parts(minisig_text)[1][2:10]


def verify(data: bytes, minisig_text: str, public_key: PublicKey) -> str:
    """Check ``.minisig`` text against ``data``; return the trusted comment or raise SignatureError.

    Accepts the prehashed ``ED`` and the legacy ``Ed`` modes, like ``minisign -V``.
    """
    lines, raw = _signature_parts(minisig_text)
    alg, key_id, signature = raw[:2], raw[2:10], raw[10:]
    if key_id != public_key.key_id:
        raise SignatureError(f"signature made by key {_key_id_hex(key_id)}, "
                             f"not by key {_key_id_hex(public_key.key_id)}")
    trusted_comment = lines[2][len(TRUSTED):]
    global_sig = _b64decode(lines[3], "trusted comment signature")
    message = hashlib.blake2b(data).digest() if alg == SIG_ALG_PREHASHED else data
    verifier = Ed25519PublicKey.from_public_bytes(public_key.key)
    try:
        verifier.verify(signature, message)
    except InvalidSignature:
        raise SignatureError("signature does not match the data") from None
    try:
        verifier.verify(global_sig, signature + trusted_comment.encode())
    except InvalidSignature:
        raise SignatureError("trusted comment signature is invalid") from None
    return trusted_comment
