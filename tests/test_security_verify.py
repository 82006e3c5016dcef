"""Hostile-input defects of `nigran verify`: forged bundles signed by an unpinned key, zip bombs,
malformed manifests, unlisted timestamp tokens, and corrupted body files under `verify --db`."""
import json
import shutil
import struct
import tempfile
import zipfile

import pytest
from sqlalchemy import select

from nigran.pipelines.extraction import find_identifiers
from nigran.storage.evidence import custody, minisign
from nigran.storage.evidence.bundle_verify import Unreadable, ZipLimits, verify_bundle
from nigran.storage.evidence.export import Selection, export_bundle
from nigran.storage.models import Capture
from tests.support.run import nigran
from tests.support.stores import make_store, rehash_listed

POSTS = [{"url": f"http://marketxyz.onion/item/{n}", "text": f"CNIC copies batch {n}, Rs 500 each"}
         for n in range(4)]


@pytest.fixture
def genuine(home, tmp_path, monkeypatch):
    """A folder bundle exported by this installation, and its signing key."""
    monkeypatch.delenv("NIGRAN_TSA_URLS", raising=False)
    return _export(home, tmp_path / "genuine", POSTS)


def _export(home, out, posts, as_dir=True):
    db = make_store(home, f"sqlite:///{home / 'nigran.db'}", posts)
    export_bundle(db, home, out, operator="alice", case="CASE-7", selection=Selection(), find=find_identifiers, as_dir=as_dir)
    return {"bundle": out, "home": home, "pub": home / "signing.pub",
            "key": minisign.read_public_key(home / "signing.pub")}


def _copy(bundle, tmp_path, name="copy"):
    target = tmp_path / name
    shutil.copytree(bundle, target)
    return target


def _lines(done):
    return done.stdout.decode().splitlines()


# --- defect 3: a bundle is VALID only when signed by a pinned key --------------------------------

def test_security_verify_without_pinned_key_is_never_valid(genuine, tmp_path, monkeypatch):
    """An attacker with a key of their own exports an edited store: WARC, capture.json, custody events,
    proofs, checkpoint and both signatures are all consistent. Only the key betrays it."""
    attacker_home = tmp_path / "attacker"
    attacker_home.mkdir()
    monkeypatch.setenv("NIGRAN_HOME", str(attacker_home))
    edited = [dict(p, text=p["text"].replace("Rs 500", "Rs 50,000")) for p in POSTS]
    forged = _export(attacker_home, tmp_path / "forged.zip", edited, as_dir=False)
    attacker_id, genuine_id = minisign.fingerprint(forged["key"]), minisign.fingerprint(genuine["key"])
    with zipfile.ZipFile(forged["bundle"]) as zf:
        forged_manifest = json.loads(zf.read("manifest.json"))
    genuine_manifest = json.loads((genuine["bundle"] / "manifest.json").read_text())
    assert [c["url"] for c in forged_manifest["captures"]] == [c["url"] for c in genuine_manifest["captures"]]
    assert {c["body_sha256"] for c in forged_manifest["captures"]}.isdisjoint(
        c["body_sha256"] for c in genuine_manifest["captures"])  # every body differs

    done = nigran("verify", str(forged["bundle"]))
    assert done.returncode == 4, done.stdout.decode()
    assert _lines(done)[-1] == f"UNVERIFIED: signed by an unpinned key {attacker_id}"
    assert "FAIL" not in done.stdout.decode()  # the forgery is complete: nothing but the key is wrong
    as_json = json.loads(nigran("verify", str(forged["bundle"]), "--json").stdout)
    assert as_json["verdict"] == "unverified" and as_json["valid"] is False
    assert as_json["signer"] == {"key_id": attacker_id, "public_key": forged["key"].base64, "pinned": False}

    done = nigran("verify", str(forged["bundle"]), "--key", str(genuine["pub"]))
    out = done.stdout.decode()
    assert done.returncode == 1 and _lines(done)[-1].startswith("INVALID: ")
    assert f"FAIL manifest.json.minisig: signature made by key {attacker_id}, not by key {genuine_id}" in out
    assert f"FAIL custody/checkpoint.json: signature made by key {attacker_id}, not by key {genuine_id}" in out

    done = nigran("verify", str(genuine["bundle"]), "--key", str(genuine["pub"]))
    assert done.returncode == 0 and _lines(done)[-1] == "VALID", done.stdout.decode()
    done = nigran("verify", str(genuine["bundle"]))
    assert done.returncode == 4 and _lines(done)[-1] == f"UNVERIFIED: signed by an unpinned key {genuine_id}"
    assert "4 unverified" in nigran("verify", "--help").stdout.decode()


def _resign_manifest(bundle, home, manifest):
    data = custody.canonical_json(manifest)
    (bundle / "manifest.json").write_bytes(data)
    secret = minisign.read_secret_key(home / "signing.key")
    (bundle / "manifest.json.minisig").write_text(minisign.sign(data, secret, "re-signed"))


def _reseal(bundle, home):
    """Re-hash every listed file into the manifest and SHA256SUMS, and re-sign both with the real key."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    rehash_listed(bundle, manifest)
    _resign_manifest(bundle, home, manifest)
    secret = minisign.read_secret_key(home / "signing.key")
    (bundle / "SHA256SUMS.minisig").write_text(minisign.sign((bundle / "SHA256SUMS").read_bytes(), secret, "x"))


def test_security_verify_checkpoint_is_checked_against_the_pinned_signer(genuine, tmp_path):
    """A sealed bundle whose custody checkpoint is signed by another key, and names that key, is INVALID:
    the checkpoint must be the pinned signer's, whatever key it names."""
    bundle = _copy(genuine["bundle"], tmp_path)
    other = minisign.SecretKey(b"\x01" * 8, b"\x02" * 32)
    path = bundle / "custody" / "checkpoint.json"
    cp = json.loads(path.read_text())
    cp.update(public_key=other.public_key.base64, signature=minisign.sign(
        custody.checkpoint_bytes(cp["tree_size"], cp["root"], cp["head_hash"], cp["at"]), other, "forged"))
    path.write_text(json.dumps(cp))
    _reseal(bundle, genuine["home"])
    done = nigran("verify", str(bundle), "--key", str(genuine["pub"]))
    out = done.stdout.decode()
    assert done.returncode == 1 and out.splitlines()[-1] == "INVALID: 1 problem(s)", out
    assert f"FAIL custody/checkpoint.json: signature made by key {minisign.fingerprint(other.public_key)}, " \
           f"not by key {minisign.fingerprint(genuine['key'])}\n" in out


def test_security_verify_trusted_keys_file_and_key_literal_pin_the_signer(genuine, tmp_path):
    unrelated = minisign.SecretKey(b"\x03" * 8, b"\x04" * 32).public_key
    trusted = tmp_path / "trusted_keys"
    trusted.write_text(f"# keys of the team\n{unrelated.to_text()}\n# the collector\n{genuine['key'].base64}\n")
    done = nigran("verify", str(genuine["bundle"]), "--trusted-keys", str(trusted))
    assert done.returncode == 0 and _lines(done)[-1] == "VALID", done.stdout.decode()

    shown = json.loads(nigran("keys", "show", "--json").stdout)
    done = nigran("verify", str(genuine["bundle"]), "--key", shown["public_key"])
    assert done.returncode == 0 and _lines(done)[-1] == "VALID"

    shutil.copy(trusted, genuine["home"] / "trusted_keys")  # the default location
    done = nigran("verify", str(genuine["bundle"]))
    assert done.returncode == 0 and _lines(done)[-1] == "VALID"

    trusted.write_text(f"{genuine['key'].base64}\nnot-a-key\n")
    done = nigran("verify", str(genuine["bundle"]), "--trusted-keys", str(trusted))
    err = done.stderr.decode()
    assert done.returncode == 2 and err.startswith("nigran: error: ") and "line 2" in err and err.count("\n") == 1


# --- defect 10: zip bombs are refused before anything is extracted --------------------------------

def _patch_eocd_count(path, count):
    data = bytearray(path.read_bytes())
    at = data.rfind(b"PK\x05\x06")
    data[at + 8:at + 12] = struct.pack("<HH", count, count)
    path.write_bytes(bytes(data))


def test_security_verify_zip_of_many_small_compressible_members_is_refused(tmp_path):
    """300 members of 1 MiB of zeros: each under the per-member ratio floor, together a bomb."""
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("manifest.json", "{}")
        for n in range(300):
            zf.writestr(f"captures/{n}/body.bin", bytes(1 << 20))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    done = nigran("verify", str(bomb), env={"TMPDIR": str(scratch)})
    err = done.stderr.decode()
    assert done.returncode == 2 and err.count("\n") == 1
    assert err.startswith("nigran: error: refused: bomb.zip expands ") and "(zip bomb)" in err
    assert list(scratch.iterdir()) == []


def test_security_verify_total_size_cap_is_checked_before_extraction(tmp_path, monkeypatch):
    bundle = tmp_path / "big.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("manifest.json", "{}")
        for n in range(40):
            zf.writestr(f"captures/{n}/body.bin", bytes(range(256)) * 256)  # 64 KiB each, 2.5 MiB in all
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with pytest.raises(Unreadable, match=r"^refused: big.zip expands to more than 1048576 bytes$"):
        verify_bundle(bundle, limits=ZipLimits(total=1 << 20))
    assert list(scratch.iterdir()) == []


def test_security_verify_member_count_is_taken_from_the_real_central_directory(tmp_path, monkeypatch):
    bundle = tmp_path / "many.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("manifest.json", "{}")
        for n in range(150):
            zf.writestr(f"m/{n}", b"")
    _patch_eocd_count(bundle, 2)  # the end record claims 2 members; the directory holds 151
    with zipfile.ZipFile(bundle) as zf:
        assert len(zf.infolist()) == 151
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with pytest.raises(Unreadable, match=r"^refused: many.zip holds more than 100 members$"):
        verify_bundle(bundle, limits=ZipLimits(members=100))
    assert list(scratch.iterdir()) == []


# --- defect 12: malformed manifest fields are failures, not tracebacks ----------------------------

def test_security_verify_malformed_manifest_fields_are_each_reported(genuine, tmp_path):
    bundle = _copy(genuine["bundle"], tmp_path)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["captures"][0]["capture_id"] = "abc"
    manifest["captures"][1]["capture_id"] = None
    del manifest["captures"][2]["body_sha256"]
    manifest["captures"][3]["custody_seq"] = -3
    manifest["files"][0]["bytes"] = -5
    manifest["files"][1]["sha256"] = 12
    manifest["custody"]["tree_size"] = "many"
    manifest["created_utc"] = None
    _resign_manifest(bundle, genuine["home"], manifest)

    for args in ([], ["--json"]):
        done = nigran("verify", str(bundle), "--key", str(genuine["pub"]), *args)
        assert done.returncode == 1 and b"Traceback" not in done.stderr and done.stderr == b"", done.stderr
    out = nigran("verify", str(bundle), "--key", str(genuine["pub"])).stdout.decode()
    for problem in ('manifest.json: captures[0].capture_id is malformed: "abc"',
                    "manifest.json: captures[1].capture_id is malformed: null",
                    "manifest.json: captures[2].body_sha256 is missing",
                    "manifest.json: captures[3].custody_seq is malformed: -3",
                    "manifest.json: files[0].bytes is malformed: -5",
                    "manifest.json: files[1].sha256 is malformed: 12",
                    'manifest.json: custody.tree_size is malformed: "many"',
                    "manifest.json: created_utc is malformed: null"):
        assert f"FAIL {problem}\n" in out, out
    assert "OK   manifest.json: signed by key" in out and "OK   captures.wacz: " in out  # the rest was checked
    assert out.splitlines()[-1].startswith("INVALID: ")

    _resign_manifest(bundle, genuine["home"], ["not", "a", "manifest"])
    done = nigran("verify", str(bundle), "--key", str(genuine["pub"]))
    assert done.returncode == 2 and done.stderr.decode() == \
        "nigran: error: manifest.json is not a bundle manifest (not a JSON object)\n"


# --- defect 13: the timestamp tokens taken are listed under the bundle's signature -----------------

def test_security_verify_timestamp_tokens_missing_added_or_altered_fail(tsa, home, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("NIGRAN_TSA_URLS", f"{tsa['url']} {tsa['url']}")
    monkeypatch.setenv("NIGRAN_TSA_ROOTS", str(tsa["root"]))
    made = _export(home, tmp_path / "stamped", POSTS)
    bundle, pub, roots = made["bundle"], str(made["pub"]), str(tsa["root"])
    listing = json.loads((bundle / "timestamps" / "timestamps.json").read_text())
    assert [t["token"] for t in listing["tokens"]] == ["timestamps/tsa-1.tsr", "timestamps/tsa-2.tsr"]

    def verify(folder):
        done = nigran("verify", str(folder), "--key", pub, "--tsa-roots", roots)
        return done.returncode, done.stdout.decode()

    code, out = verify(bundle)
    assert code == 0 and "OK   timestamps/tsa-2.tsr: manifest time-stamped at" in out, out

    missing = _copy(bundle, tmp_path, "missing")
    (missing / "timestamps" / "tsa-2.tsr").unlink()
    code, out = verify(missing)
    assert code == 1 and "FAIL timestamps/tsa-2.tsr: listed in timestamps/timestamps.json but missing" in out

    added = _copy(bundle, tmp_path, "added")
    shutil.copy(added / "timestamps" / "tsa-1.tsr", added / "timestamps" / "tsa-3.tsr")
    code, out = verify(added)
    assert code == 1 and "FAIL timestamps/tsa-3.tsr: not listed in timestamps/timestamps.json (added)" in out

    altered = _copy(bundle, tmp_path, "altered")
    token = altered / "timestamps" / "tsa-1.tsr"
    token.write_bytes(token.read_bytes()[:-1] + bytes([token.read_bytes()[-1] ^ 1]))
    code, out = verify(altered)
    assert code == 1 and "FAIL timestamps/tsa-1.tsr: changed: its SHA-256 does not match timestamps/" in out

    relisted = _copy(bundle, tmp_path, "relisted")  # drop a token and edit the list to match
    (relisted / "timestamps" / "tsa-2.tsr").unlink()
    edited = dict(listing, tokens=listing["tokens"][:1],
                  files=[f for f in listing["files"] if f["path"] != "timestamps/tsa-2.tsr"])
    (relisted / "timestamps" / "timestamps.json").write_bytes(custody.canonical_json(edited))
    code, out = verify(relisted)
    assert code == 1 and "FAIL timestamps/timestamps.json.minisig: signature does not match the data" in out

    stripped = _copy(bundle, tmp_path, "stripped")
    shutil.rmtree(stripped / "timestamps")
    code, out = verify(stripped)
    assert code == 1 and "FAIL timestamps/timestamps.json: missing, so the timestamps taken cannot be checked" in out


# --- defect 18: verify --db re-hashes every body file ----------------------------------------------

def test_security_verify_db_rehashes_body_files(home, db_url):
    db = make_store(home, db_url, POSTS)
    with db.session() as session:
        first, second = session.execute(select(Capture.id, Capture.body_sha256).order_by(Capture.id)).all()[:2]
    store = home / "bodies"
    corrupted = store / first.body_sha256[:2] / first.body_sha256[2:4] / first.body_sha256
    corrupted.chmod(0o644)
    data = bytearray(corrupted.read_bytes())
    data[-1] ^= 0x01
    corrupted.write_bytes(bytes(data))

    done = nigran("verify", "--db", db_url)
    out = done.stdout.decode()
    assert done.returncode == 1, out
    assert (f"FAIL capture {first.id}: body file bodies/{first.body_sha256[:2]}/{first.body_sha256[2:4]}/"
            f"{first.body_sha256} changed: its SHA-256 no longer matches\n") in out
    assert out.splitlines()[-1] == "INVALID: 1 problem(s)"

    done = nigran("verify", "--db", db_url, "--quick")
    out = done.stdout.decode()
    assert done.returncode == 0 and out.splitlines()[-1] == "VALID", out
    assert "NOTE --quick: body files were not re-hashed (body check skipped)" in out

    missing = store / second.body_sha256[:2] / second.body_sha256[2:4] / second.body_sha256
    missing.unlink()
    report = json.loads(nigran("verify", "--db", db_url, "--json").stdout)
    assert report["verdict"] == "invalid" and report["bodies_checked"] == len(POSTS)
    assert len(report["body_problems"]) == 2 and f"capture {second.id}: body file " in report["body_problems"][1]
    assert report["body_problems"][1].endswith(" is missing")
