"""A local RFC 3161 timestamp authority: `openssl ts -reply` behind a fixture server on 127.0.0.1."""
from __future__ import annotations

import subprocess
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from tests.support.fixture_server import FixtureServer, Request

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


@contextmanager
def local_tsa(d: Path):
    """A TSA answering on 127.0.0.1 with `openssl ts -reply`, its keys made in `d`: its URL, its root and
    another, untrusted root."""
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
