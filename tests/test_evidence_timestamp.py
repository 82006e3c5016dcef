"""RFC 3161 tokens from a local TSA made with `openssl ts` on 127.0.0.1 (no internet)."""
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from storage.evidence import minisign, timestamp
from pipelines.extraction import find_identifiers
from storage.evidence.export import Selection, export_bundle
from tests.conftest import nigran
from tests.support.fixture_server import FixtureServer, Request
from tests.test_evidence_recorder import make_store

TSA_CONF = """[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _openssl(*args, cwd):
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done


def _root(cwd: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-keyout", f"{name}.key",
             "-out", f"{name}.crt", "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign", cwd=cwd)


@pytest.fixture(scope="module")
def tsa(tmp_path_factory):
    """A TSA answering on 127.0.0.1 with `openssl ts -reply`; its root, and another untrusted root."""
    d = tmp_path_factory.mktemp("tsa")
    _root(d, "root")
    _root(d, "other-root")
    _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr",
             "-subj", "/CN=Local Test TSA", cwd=d)
    (d / "ext.cnf").write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                               "extendedKeyUsage=critical,timeStamping\n")
    _openssl("x509", "-req", "-days", "3650", "-in", "tsa.csr", "-CA", "root.crt", "-CAkey", "root.key",
             "-set_serial", "2", "-out", "tsa.crt", "-extfile", "ext.cnf", cwd=d)
    (d / "serial").write_text("01\n")
    (d / "tsa.cnf").write_text(TSA_CONF.format(dir=d))
    lock = threading.Lock()

    def reply(request: Request):
        with lock, tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "q.tsq").write_bytes(request.body)
            subprocess.run(["openssl", "ts", "-reply", "-config", str(d / "tsa.cnf"), "-queryfile",
                            f"{tmp}/q.tsq", "-out", f"{tmp}/r.tsr"], capture_output=True, timeout=60, check=True)
            token = Path(tmp, "r.tsr").read_bytes()
        return 200, {"Content-Type": "application/timestamp-reply"}, token

    with FixtureServer(reply, protocol="HTTP/1.0", methods=("POST",), name="tsa") as server:
        yield {"url": server.url("/"), "dir": d, "root": d / "root.crt", "other": d / "other-root.crt"}


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
