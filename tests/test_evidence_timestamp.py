"""RFC 3161 tokens from a local TSA made with `openssl ts` on 127.0.0.1 (no internet)."""
import subprocess

import pytest

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
