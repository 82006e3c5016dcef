"""minisign-format Ed25519 signatures, cross-checked with the stock minisign binary."""

import base64
import os
import shutil
import stat
import subprocess

import pytest

from nigran.storage.evidence.minisign import (PublicKey, SecretKey, SignatureError, fingerprint, generate_keypair,
                                              read_public_key, read_secret_key, sign, verify)

MINISIGN = shutil.which("minisign")
needs_minisign = pytest.mark.skipif(
    MINISIGN is None, reason="stock minisign binary not installed (CI installs it)")
DATA = b'{"manifest": "bytes"}\n\x00\xff'


@pytest.fixture
def keys(tmp_path):
    public = generate_keypair(tmp_path / "signer.key", tmp_path / "signer.pub")
    return read_secret_key(tmp_path / "signer.key"), public, tmp_path


@pytest.fixture
def other_key(tmp_path):
    generate_keypair(tmp_path / "other.key", tmp_path / "other.pub")
    return read_secret_key(tmp_path / "other.key")


def _minisign(*args):
    return subprocess.run([MINISIGN, *args], capture_output=True, text=True, timeout=30)


def test_round_trip(keys):
    secret, public, _ = keys
    sig = sign(DATA, secret, "case:X manifest:abc")
    assert verify(DATA, sig, public) == "case:X manifest:abc"
    assert base64.b64decode(sig.splitlines()[1])[:2] == b"ED"


def test_key_files(keys):
    secret, public, tmp = keys
    assert stat.S_IMODE(os.stat(tmp / "signer.key").st_mode) == 0o600
    assert secret.public_key == public == read_public_key(tmp / "signer.pub")
    assert secret.seed.hex() not in repr(secret) and str(secret.seed) not in repr(secret)
    assert PublicKey.from_text(public.base64) == public
    text = (tmp / "signer.pub").read_text()
    assert text == f"untrusted comment: minisign public key {fingerprint(public)}\n{public.base64}\n"
    assert int(fingerprint(public), 16) == int.from_bytes(public.key_id, "little")
    with pytest.raises(FileExistsError):
        generate_keypair(tmp / "signer.key", tmp / "again.pub")


def test_tampering_is_rejected(keys, other_key):
    secret, public, _ = keys
    sig = sign(DATA, secret, "trusted")
    with pytest.raises(SignatureError, match="does not match the data"):
        verify(DATA + b"x", sig, public)
    lines = sig.splitlines(keepends=True)
    lines[2] = "trusted comment: edited\n"
    with pytest.raises(SignatureError, match="trusted comment"):
        verify(DATA, "".join(lines), public)
    with pytest.raises(SignatureError, match="signature made by key"):
        verify(DATA, sign(DATA, other_key, "trusted"), public)
    impostor = SecretKey(secret.key_id, other_key.seed)  # same key id, other key
    with pytest.raises(SignatureError, match="does not match the data"):
        verify(DATA, sign(DATA, impostor, "trusted"), public)
    with pytest.raises(SignatureError, match="not a minisign signature"):
        verify(DATA, "garbage", public)


def test_comments_are_single_line(keys):
    with pytest.raises(SignatureError):
        sign(DATA, keys[0], "two\nlines")


def test_secret_key_file_checks(keys):
    secret, _, tmp = keys
    raw = bytearray(base64.b64decode((tmp / "signer.key").read_text().splitlines()[1]))
    corrupt = bytearray(raw)
    corrupt[70] ^= 1
    with pytest.raises(SignatureError, match="checksum"):
        SecretKey.from_text("untrusted comment: x\n" + base64.b64encode(corrupt).decode())
    raw[2:4] = b"Sc"
    with pytest.raises(SignatureError, match="password-protected"):
        SecretKey.from_text("untrusted comment: x\n" + base64.b64encode(raw).decode())


@needs_minisign
def test_stock_minisign_verifies_our_signature(keys, other_key):
    secret, _, tmp = keys
    (tmp / "manifest.json").write_bytes(DATA)
    (tmp / "manifest.json.minisig").write_text(sign(DATA, secret, "case:X"))
    ok = _minisign("-Vm", str(tmp / "manifest.json"), "-p", str(tmp / "signer.pub"))
    assert ok.returncode == 0, ok.stderr
    assert "Trusted comment: case:X" in ok.stdout

    (tmp / "manifest.json").write_bytes(bytes([DATA[0] ^ 1]) + DATA[1:])
    assert _minisign("-Vm", str(tmp / "manifest.json"), "-p", str(tmp / "signer.pub")).returncode == 1

    (tmp / "manifest.json").write_bytes(DATA)
    (tmp / "manifest.json.minisig").write_text(sign(DATA, other_key, "case:X"))
    assert _minisign("-Vm", str(tmp / "manifest.json"), "-p", str(tmp / "signer.pub")).returncode == 1


@needs_minisign
@pytest.mark.parametrize("legacy", [False, True])
def test_we_verify_stock_minisign_signatures_with_our_key(keys, legacy):
    _, public, tmp = keys
    (tmp / "data").write_bytes(DATA)
    args = ["-S", "-s", str(tmp / "signer.key"), "-m", str(tmp / "data"), "-t", "from stock"]
    done = _minisign(*args, *(["-l"] if legacy else []))
    assert done.returncode == 0, done.stderr
    assert verify(DATA, (tmp / "data.minisig").read_text(), public) == "from stock"


@needs_minisign
def test_we_read_keys_made_by_stock_minisign(tmp_path):
    made = _minisign("-G", "-W", "-p", str(tmp_path / "m.pub"), "-s", str(tmp_path / "m.key"))
    assert made.returncode == 0, made.stderr
    secret = read_secret_key(tmp_path / "m.key")
    public = read_public_key(tmp_path / "m.pub")
    assert secret.public_key == public
    assert (tmp_path / "m.pub").read_text().splitlines()[0].endswith(fingerprint(public))
    assert verify(DATA, sign(DATA, secret, "t"), public) == "t"
