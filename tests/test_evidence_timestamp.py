"""RFC 3161 tokens from a local TSA made with `openssl ts` on 127.0.0.1 (no internet)."""
import json
import socket
import subprocess
import zipfile

import pytest
from rfc3161_client import decode_timestamp_response

from nigran.pipelines.extraction import find_identifiers
from nigran.storage.evidence import minisign, timestamp
from nigran.storage.evidence.export import Selection, export_bundle
from tests.support.run import nigran
from tests.support.stores import make_store


def test_tokens_verify_and_bad_ones_fail(tsa):
    roots = timestamp.load_roots(tsa["root"])
    reply, at = timestamp.request(tsa["url"], b"manifest bytes", roots)
    assert timestamp.verify(reply, b"manifest bytes", roots) == at
    with pytest.raises(timestamp.TimestampError, match="Mismatch"):
        timestamp.verify(reply, b"other data", roots)
    with pytest.raises(timestamp.TimestampError):
        timestamp.verify(reply, b"manifest bytes", timestamp.load_roots(tsa["other"]))


def test_exported_bundle_is_time_stamped(tsa, home, tmp_path, monkeypatch):
    db = make_store(home, f"sqlite:///{home / 'nigran.db'}", [{"url": "http://m.onion/1", "text": "CNIC copy"}])
    monkeypatch.setenv("NIGRAN_TSA_URLS", tsa["url"])
    monkeypatch.setenv("NIGRAN_TSA_ROOTS", str(tsa["root"]))
    bundle = tmp_path / "bundle"
    result = export_bundle(db, home, bundle, operator="alice", case="TS-1", selection=Selection(), find=find_identifiers, as_dir=True)
    assert result.warnings == [] and len(result.timestamps) == 1
    token = bundle / "timestamps" / "tsa-1.tsr"

    stock = subprocess.run(["openssl", "ts", "-verify", "-data", "manifest.json", "-in", str(token), "-CAfile",
                            str(tsa["root"]), "-untrusted", "timestamps/tsa-1.chain.pem"], cwd=bundle,
                           capture_output=True, text=True, timeout=60)
    assert stock.returncode == 0 and "Verification: OK" in stock.stdout

    key = str(home / "signing.pub")
    done = nigran("verify", str(bundle), "--key", key, "--tsa-roots", str(tsa["root"]))
    assert done.returncode == 0 and "OK   timestamps/tsa-1.tsr: manifest time-stamped at" in done.stdout.decode()

    done = nigran("verify", str(bundle), "--key", key, "--tsa-roots", str(tsa["other"]))
    assert done.returncode == 1 and "FAIL timestamps/tsa-1.tsr" in done.stdout.decode()

    other, _ = timestamp.request(tsa["url"], b"some other manifest", timestamp.load_roots(tsa["root"]))
    token.write_bytes(other)
    done = nigran("verify", str(bundle), "--key", key, "--tsa-roots", str(tsa["root"]))
    # a swapped token no longer matches the signed list of tokens taken
    assert done.returncode == 1 and "FAIL timestamps/tsa-1.tsr: changed: " in done.stdout.decode()
    assert minisign.read_public_key(key)  # the signature itself still holds: only the token is wrong


# --- a required time-stamp that cannot be taken fails the export, and leaves nothing behind -------------

def dead_tsa_url() -> str:
    """A TSA URL on a 127.0.0.1 port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsa"


@pytest.fixture
def store(home):
    make_store(home, f"sqlite:///{home / 'nigran.db'}", [{"url": "http://m.onion/1", "text": "CNIC copy"}])


def export(tmp_path, *args, **env):
    folder = tmp_path / "out"
    folder.mkdir(exist_ok=True)
    return nigran("export", "--out", str(folder / "case.zip"), "--operator", "alice", *args, env=env), folder


@pytest.mark.parametrize("as_dir", [(), ("--dir",)])
def test_a_dead_tsa_fails_a_required_timestamp_and_writes_nothing(store, tsa, tmp_path, as_dir):
    env = {"NIGRAN_TSA_URLS": dead_tsa_url(), "NIGRAN_TSA_ROOTS": str(tsa["root"])}
    done, folder = export(tmp_path, "--require-timestamp", *as_dir, **env)
    err = done.stderr.decode()
    assert done.returncode == 1 and err.count("\n") == 1, err
    assert err.startswith("nigran: error: a time-stamp is required but no TSA gave one (") and "no bundle written" in err
    assert list(folder.iterdir()) == []  # no bundle, no staging folder, no partial zip


def test_the_setting_requires_a_timestamp_too(store, tsa, tmp_path):
    done, folder = export(tmp_path, NIGRAN_TSA_URLS=dead_tsa_url(), NIGRAN_TSA_ROOTS=str(tsa["root"]),
                          NIGRAN_REQUIRE_TIMESTAMP="1")
    assert done.returncode == 1 and list(folder.iterdir()) == []


def test_without_require_a_dead_tsa_is_a_warning(store, tsa, tmp_path):
    done, folder = export(tmp_path, NIGRAN_TSA_URLS=dead_tsa_url(), NIGRAN_TSA_ROOTS=str(tsa["root"]))
    assert done.returncode == 0, done.stderr
    assert "nigran: warning: timestamp not taken: http://127.0.0.1:" in done.stderr.decode()
    assert [p.name for p in folder.iterdir()] == ["case.zip"]


@pytest.mark.parametrize("env, why", [
    ({"NIGRAN_TSA_ROOTS": ""}, "no trusted TSA roots are configured (NIGRAN_TSA_ROOTS)"),
    ({"NIGRAN_TSA_URLS": ""}, "no TSA is configured (NIGRAN_TSA_URLS)"),
    ({"NIGRAN_TSA_ROOTS": "/nonexistent/roots.pem"}, "TSA roots /nonexistent/roots.pem:"),
])
def test_a_required_timestamp_needs_a_tsa_and_its_roots(store, tsa, tmp_path, env, why):
    done, folder = export(tmp_path, "--require-timestamp",
                          **{"NIGRAN_TSA_URLS": tsa["url"], "NIGRAN_TSA_ROOTS": str(tsa["root"]), **env})
    assert done.returncode == 1 and why in done.stderr.decode() and list(folder.iterdir()) == []


def test_a_required_timestamp_taken_writes_the_bundle(store, tsa, tmp_path):
    done, folder = export(tmp_path, "--require-timestamp", "--json", NIGRAN_TSA_URLS=f"{dead_tsa_url()} {tsa['url']}",
                          NIGRAN_TSA_ROOTS=str(tsa["root"]))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert len(result["timestamps"]) == 1 and len(result["warnings"]) == 1  # one of two TSAs suffices
    with zipfile.ZipFile(folder / "case.zip") as zf:
        token = decode_timestamp_response(zf.read("timestamps/tsa-2.tsr"))
    assert token.tst_info.message_imprint.hash_algorithm.dotted_string == "2.16.840.1.101.3.4.2.3"  # SHA-512


def test_an_existing_output_path_is_a_usage_error(store, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "case.zip").write_bytes(b"an earlier bundle")
    done, folder = export(tmp_path)
    assert done.returncode == 2 and "already exists; bundles are never overwritten" in done.stderr.decode()
    assert (folder / "case.zip").read_bytes() == b"an earlier bundle"
    assert "2 bad usage (an --out that exists" in " ".join(nigran("export", "--help").stdout.decode().split())
