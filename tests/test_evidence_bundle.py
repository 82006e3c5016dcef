"""Round trip: crawl the demo sites, export a bundle, verify it offline; replay it in pywb; check it with
stock tools; and catch every kind of tampering."""
import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
import yaml

from nigran.crawler.demo.config import demo_sources
from nigran.storage.evidence import minisign
from nigran.storage.evidence.bundle_verify import verify_bundle
from tests.support.run import REPO, nigran
from tests.support.stores import rehash_listed

# pywb pins redis 2.x, which the crawler's redis client cannot share a virtualenv with, so
# scripts/install.sh gives it its own (.venv-pywb); investigators run it as a separate tool anyway.
WAYBACK = Path(os.environ.get("NIGRAN_PYWB_BIN", REPO / ".venv-pywb" / "bin")) / "wayback"


@pytest.fixture(scope="module")
def crawled(tmp_path_factory, demo_sites):
    root = tmp_path_factory.mktemp("evidence")
    home = root / "home"
    home.mkdir()
    env = {"NIGRAN_HOME": str(home), "NIGRAN_DB": f"sqlite:///{home / 'nigran.db'}", "NIGRAN_OPERATOR": "collector-1",
           "NIGRAN_TSA_URLS": "", "NIGRAN_KEY_FILE": str(home / "identifier.key")}
    sources = root / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": [s.model_dump(mode="json", exclude_none=True)
                                                   for s in demo_sources(demo_sites.urls)]}))
    done = nigran("crawl", "--sources", str(sources), "--json", env=env)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    for args in (["--out", str(root / "bundle"), "--dir"], ["--out", str(root / "bundle.zip")]):
        done = nigran("export", *args, "--operator", "alice", "--case", "CASE-42", env=env)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    return {"root": root, "home": home, "env": env, "dir": root / "bundle", "zip": root / "bundle.zip",
            "key": home / "signing.pub"}


@pytest.fixture
def copy(crawled, tmp_path):
    """A private copy of the folder bundle to tamper with."""
    target = tmp_path / "bundle"
    shutil.copytree(crawled["dir"], target)
    return target


def problems(bundle, crawled):
    report = verify_bundle(bundle, trusted=[minisign.read_public_key(crawled["key"])])
    assert not report.valid
    return "\n".join(report.problems)


def test_round_trip_verifies(crawled):
    done = nigran("verify", str(crawled["zip"]), "--key", str(crawled["key"]), env=crawled["env"])
    out = done.stdout.decode()
    assert done.returncode == 0, out
    assert out.rstrip().endswith("VALID") and "FAIL" not in out
    assert "captures.wacz:" in out and "custody:" in out and "signed by key" in out

    manifest = json.loads((crawled["dir"] / "manifest.json").read_text())
    offers = [json.loads(line) for line in (crawled["dir"] / "offers.jsonl").read_text().splitlines()]
    listed = nigran("offers", "--json", env=crawled["env"]).stdout.decode().splitlines()
    assert len(offers) == len(listed) == manifest["counts"]["offers"] > 20
    roles = {f["path"]: f["role"] for f in manifest["files"]}
    assert roles["captures.wacz"] == "evidentiary" and roles["report.html"] == "derived"
    assert roles["custody/proofs.jsonl"] == "custody" and manifest["case"] == "CASE-42"
    assert manifest["signer"]["public_key"] == minisign.read_public_key(crawled["key"]).base64

    capture = json.loads(next((crawled["dir"] / "captures").glob("*/capture.json")).read_text())
    assert capture["collector"] == "collector-1" and capture["route"]["transport"] == "direct"
    assert capture["warc"]["payload_digest"] == f"sha256:{capture['body']['sha256']}"
    assert capture["tools"]["software"].startswith("nigran ") and capture["post_keys"]

    shown = nigran("keys", "show", "--json", env=crawled["env"])
    assert json.loads(shown.stdout)["key_id"] == manifest["signer"]["key_id"]

    checked = nigran("verify", "--db", env=crawled["env"])
    assert checked.returncode == 0 and checked.stdout.decode().rstrip().endswith("VALID")


def test_stock_tools_verify_the_bundle(crawled):
    bundle = crawled["dir"]
    sums = subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=bundle, capture_output=True, text=True)
    assert sums.returncode == 0 and "FAILED" not in sums.stdout
    for name in ("manifest.json", "SHA256SUMS"):
        done = subprocess.run(["minisign", "-Vm", name, "-p", "keys/signer.pub"], cwd=bundle, capture_output=True,
                              text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        assert "Trusted comment: nigran bundle" in done.stdout


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wacz_members(wacz: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wacz) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _validate(wacz: Path) -> subprocess.CompletedProcess:
    """Webrecorder's `wacz validate` (its script: `python -m wacz` does not pass the exit status on)."""
    return subprocess.run([str(Path(sys.executable).parent / "wacz"), "validate", "-f", str(wacz)],
                          capture_output=True, text=True, timeout=60)


def test_wacz_validates_with_py_wacz(crawled, tmp_path):
    wacz = crawled["dir"] / "captures.wacz"
    done = _validate(wacz)
    assert done.returncode == 0 and "Validation succeeded" in done.stdout, done.stdout + done.stderr
    members = _wacz_members(wacz)
    assert json.loads(members["datapackage.json"])["wacz_version"] == "1.1.1"
    header, *pages = [json.loads(line) for line in members["pages/pages.jsonl"].splitlines()]
    assert header["format"] == "json-pages-1.0" and pages
    captures = {c["warc"]["record_id"]: c for c in (json.loads(p.read_text())
                                                  for p in (crawled["dir"] / "captures").glob("*/capture.json"))
                if c["warc"]}
    assert len({p["id"] for p in pages}) == len(pages)  # one id per page: its response record's UUID
    assert all(captures[f"<urn:uuid:{p['id']}>"]["url"] == p["url"] for p in pages)
    titles = [p["title"] for p in pages]
    assert all(titles) and any(t.endswith(" - Andheri Gali") for t in titles)  # the pages' <title>s
    assert not any("&amp;" in t or "&#x27;" in t for t in titles)  # entities undone

    # bad input: an index line edited after packing (datapackage.json not updated) fails validation
    edited = tmp_path / "edited.wacz"
    with zipfile.ZipFile(edited, "x") as zf:
        for name, data in members.items():
            zf.writestr(name, data.replace(b'"status": "200"', b'"status": "404"', 1) if name.startswith("indexes/")
                        else data)
    done = _validate(edited)
    assert done.returncode == 1 and "the passed WACZ is invalid" in done.stdout


def test_wacz_index_matches_cdxj_indexer(crawled, tmp_path):
    """Offsets, lengths and recordDigest (SHA-256 of each record as stored) agree with cdxj-indexer's
    (which digests records only when it also buffers them: -d -p)."""
    members = _wacz_members(crawled["dir"] / "captures.wacz")
    warc = tmp_path / "data.warc.gz"
    warc.write_bytes(members["archive/data.warc.gz"])
    done = subprocess.run([str(Path(sys.executable).parent / "cdxj-indexer"), "-d", "-p", str(warc)], capture_output=True,
                          text=True, timeout=60, check=True)
    theirs = {f["offset"]: f for f in (json.loads(line.split(" ", 2)[2]) for line in done.stdout.splitlines())}
    ours = [json.loads(line.split(b" ", 2)[2]) for line in members["indexes/index.cdx"].splitlines()]
    assert ours
    for line in ours:
        other = theirs[line["offset"]]
        assert (line["url"], line["length"], line["recordDigest"]) == (other["url"], other["length"],
                                                                        other["recordDigest"])


def test_wacz_imports_and_replays_in_pywb(crawled, tmp_path):
    wacz = crawled["dir"] / "captures.wacz"
    for args in (["init", "case"], ["add", "--unpack-wacz", "case", str(wacz)]):
        done = subprocess.run([str(WAYBACK.parent / "wb-manager"), *args], cwd=tmp_path, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    imported = (tmp_path / "collections" / "case" / "indexes" / "index.cdxj").read_bytes().splitlines()
    assert len(imported) == len(_wacz_members(wacz)["indexes/index.cdx"].splitlines()) > 0
    page = json.loads(_wacz_members(wacz)["pages/pages.jsonl"].splitlines()[1])
    capture = next(json.loads(p.read_text()) for p in (crawled["dir"] / "captures").glob("*/capture.json")
                   if json.loads(p.read_text())["url"] == page["url"])
    sha = capture["body"]["sha256"]
    original = (crawled["home"] / "bodies" / sha[:2] / sha[2:4] / sha).read_bytes()

    port = _free_port()
    server = subprocess.Popen([str(WAYBACK), "-p", str(port), "-b", "127.0.0.1", "-d", str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        body, deadline = None, time.monotonic() + 30
        while body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/case/id_/{page['url']}", timeout=5) as r:
                    body = r.read()
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=10)
    # pywb undoes the Content-Encoding the demo server applied, as a browser would
    assert body == (gzip.decompress(original) if original[:2] == b"\x1f\x8b" else original)
    assert b"<html" in body.lower()


def test_flipped_byte_in_the_warc_is_caught(crawled, copy):
    wacz = copy / "captures.wacz"
    with zipfile.ZipFile(wacz) as zf:
        info = zf.getinfo("archive/data.warc.gz")
    data = bytearray(wacz.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0x01
    wacz.write_bytes(bytes(data))
    found = problems(copy, crawled)
    assert "captures.wacz: changed: its SHA-256 does not match the manifest" in found
    assert "archive/data.warc.gz: damaged in the zip" in found


def test_edited_offers_jsonl_is_caught(crawled, copy):
    path = copy / "offers.jsonl"
    path.write_text(path.read_text().replace('"kind": "offer"', '"kind": "request"', 1))
    assert problems(copy, crawled).startswith("offers.jsonl: changed: ")
    assert "\n" not in problems(copy, crawled)  # nothing else is blamed


def _forge_manifest(bundle: Path) -> bytes:
    """Edit offers.jsonl, then rewrite SHA256SUMS and the manifest to match every file, as a forger would."""
    offers = bundle / "offers.jsonl"
    offers.write_text(offers.read_text().replace('"kind": "offer"', '"kind": "request"', 1))
    manifest = json.loads((bundle / "manifest.json").read_text())
    rehash_listed(bundle, manifest)
    data = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    (bundle / "manifest.json").write_bytes(data)
    return data


def test_replaced_manifest_is_caught(crawled, copy):
    _forge_manifest(copy)
    found = problems(copy, crawled)
    assert "manifest.json.minisig: signature does not match the data" in found
    assert "SHA256SUMS.minisig: signature does not match the data" in found


def test_signature_from_another_key_is_caught(crawled, copy, tmp_path):
    forger = minisign.generate_keypair(tmp_path / "forger.key", tmp_path / "forger.pub")
    secret = minisign.read_secret_key(tmp_path / "forger.key")
    (copy / "keys" / "signer.pub").write_text(forger.to_text())
    data = _forge_manifest(copy)
    (copy / "manifest.json.minisig").write_text(minisign.sign(data, secret, "forged"))
    (copy / "SHA256SUMS.minisig").write_text(minisign.sign((copy / "SHA256SUMS").read_bytes(), secret, "forged"))
    found = problems(copy, crawled)
    assert f"keys/signer.pub is key {minisign.fingerprint(forger)}, not the expected key" in found
    assert f"manifest.json.minisig: signature made by key {minisign.fingerprint(forger)}" in found
    assert "offers.jsonl" not in found  # the forger made every hash match: only the key betrays it
    done = nigran("verify", str(copy), "--key", str(crawled["key"]))
    assert done.returncode == 1 and done.stdout.decode().splitlines()[-1].startswith("INVALID")


def test_removed_file_is_caught(crawled, copy):
    victim = next((copy / "captures").glob("*/capture.json"))
    victim.unlink()
    rel = victim.relative_to(copy).as_posix()
    found = problems(copy, crawled)
    assert f"{rel}: listed in the manifest but missing" in found


def test_added_file_is_caught(crawled, copy):
    (copy / "captures" / "extra.html").write_text("<p>planted</p>")
    assert problems(copy, crawled) == "captures/extra.html: not listed in the manifest (added)"


def test_custody_event_edited_or_dropped_is_caught(crawled, copy, tmp_path):
    events = copy / "custody" / "events.jsonl"
    lines = events.read_text().splitlines()
    first = json.loads(lines[0])
    edited = dict(first, operator="someone-else")
    events.write_text("\n".join([json.dumps(edited)] + lines[1:]) + "\n")
    found = problems(copy, crawled)
    assert f"custody event {first['seq']}: edited" in found
    assert "custody/events.jsonl: changed" in found

    events.write_text("\n".join(lines[1:]) + "\n")
    found = problems(copy, crawled)
    assert f"capture {first['capture_id']}: its custody event is missing" in found


def test_redacted_profile_leaves_raw_captures_out(crawled):
    out = crawled["root"] / "redacted.zip"
    done = nigran("export", "--out", str(out), "--operator", "alice", "--profile", "redacted", "--category", "cnic",
                  env=crawled["env"])
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("manifest.json"))
    assert "captures.wacz" not in names and "report.html" in names
    assert manifest["profile"] == "redacted" and all(len(c["body_sha256"]) == 64 for c in manifest["captures"])
    done = nigran("verify", str(out), "--key", str(crawled["key"]))
    assert done.returncode == 0 and "redacted profile" in done.stdout.decode()
    assert nigran("export", "--out", str(out), "--operator", "alice", env=crawled["env"]).returncode == 2
