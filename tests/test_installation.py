"""A database records the data home (and signing key) its evidence belongs to: `--db` alone finds it, and
another home's keys are refused without creating anything."""
import shutil

import pytest

from nigran.storage.db import Database
from nigran.storage.evidence import keys
from nigran.storage.installation import InstallationError, evidence_home
from tests.support.run import nigran
from tests.support.stores import make_store

POSTS = [{"url": "http://m.onion/1", "text": "CNIC copy"}]


def tree(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else None


def other_home(tmp_path):
    """Another installation's data home, with a signing key of its own."""
    path = tmp_path / "other"
    path.mkdir()
    keys.signing_key(path)
    return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`nigran demo` run with no NIGRAN_HOME: its database and home under the default data home."""
    root = tmp_path_factory.mktemp("demo")
    env = {"XDG_DATA_HOME": str(root / "data"), "XDG_CONFIG_HOME": str(root / "config"), "NIGRAN_HOME": "",
           "NIGRAN_DB": ""}
    done = nigran("demo", env=env)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    (home,) = (root / "data" / "nigran" / "demo").iterdir()
    assert f"nigran offers --db sqlite:///{home / 'nigran.db'}" in done.stdout.decode()
    return {"env": env, "home": home, "db": f"sqlite:///{home / 'nigran.db'}", "default": root / "data" / "nigran"}


def test_export_and_verify_with_the_demo_db_alone(demo, tmp_path):
    out = tmp_path / "demo.zip"
    done = nigran("export", "--db", demo["db"], "--out", str(out), "--operator", "alice", env=demo["env"])
    assert done.returncode == 0, done.stderr.decode()
    assert f"--key {demo['home'] / 'signing.pub'}" in done.stdout.decode()
    done = nigran("verify", str(out), "--key", str(demo["home"] / "signing.pub"), env=demo["env"])
    assert done.returncode == 0 and "VALID" in done.stdout.decode(), done.stdout.decode()
    done = nigran("verify", "--db", demo["db"], "--quick", env=demo["env"])
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    assert not (demo["default"] / "signing.key").exists()  # no key made in the default home


@pytest.mark.parametrize("command", [("export", "--out", "{out}", "--operator", "alice"), ("verify", "--quick")])
def test_the_demo_db_with_another_homes_keys_is_refused(demo, tmp_path, command):
    other = other_home(tmp_path)
    before = tree(other)
    out = tmp_path / "bundle.zip"
    args = [a.format(out=out) for a in command]
    done = nigran(*args, "--db", demo["db"], env={**demo["env"], "NIGRAN_HOME": str(other)})
    err = done.stderr.decode()
    assert done.returncode == (1 if command[0] == "export" else 2) and err.count("\n") == 1, err
    assert f"belongs to the data home {demo['home']}" in err and f"but {other} holds signing key" in err
    assert tree(other) == before and not out.exists()


def test_a_home_without_keys_is_refused_and_stays_uncreated(demo, tmp_path):
    missing = tmp_path / "nowhere"
    done = nigran("export", "--db", demo["db"], "--out", str(tmp_path / "b.zip"), "--operator", "alice",
                  env={**demo["env"], "NIGRAN_HOME": str(missing)})
    assert done.returncode == 1 and f"but {missing} holds no signing key" in done.stderr.decode()
    assert not missing.exists() and not (tmp_path / "b.zip").exists()


def test_the_recorded_home_is_found_on_sqlite_and_postgresql(db_url, home, tmp_path, monkeypatch):
    db = make_store(home, db_url, POSTS)
    monkeypatch.delenv("NIGRAN_HOME")
    out = tmp_path / "bundle"
    done = nigran("export", "--db", db_url, "--out", str(out), "--dir", "--operator", "alice")
    assert done.returncode == 0, done.stderr.decode()
    assert (out / "keys" / "signer.pub").read_text() == (home / "signing.pub").read_text()
    assert not (tmp_path / "data" / "nigran" / "signing.key").exists()
    with pytest.raises(InstallationError, match="holds signing key"):
        evidence_home(db, other_home(tmp_path))


def test_a_moved_home_with_the_recorded_key_is_accepted(db_url, home, tmp_path):
    db = make_store(home, db_url, POSTS)
    moved = tmp_path / "moved"
    shutil.copytree(home, moved)
    assert evidence_home(db, moved) == moved


def test_the_first_home_to_write_keeps_the_record(db_url, home, tmp_path):
    make_store(home, db_url, POSTS)
    make_store(other_home(tmp_path), db_url, POSTS)  # a later writer does not take the database over
    assert evidence_home(Database(db_url), None) == home
