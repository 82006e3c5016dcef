"""Hostile bundles are refused (exit 2) and nothing is written outside a temporary folder."""
import os
import stat
import zipfile

import pytest

from nigran.storage.evidence import bundle_verify
from tests.support.run import nigran


def _zip(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", "{}")
        for name, data, mode in members:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode:
                info.external_attr = mode << 16
            zf.writestr(info, data)
    return path


@pytest.mark.parametrize("name,data,mode,reason", [
    ("../../escaped.txt", b"x", 0, "unsafe path"),
    ("/tmp/absolute.txt", b"x", 0, "unsafe path"),
    ("captures/..\\..\\win.txt", b"x", 0, "unsafe path"),
    ("keys/signer.pub", b"/etc/passwd", stat.S_IFLNK | 0o777, "symbolic link"),
    ("bomb.bin", b"\0" * (64 << 20), 0, "zip bomb"),
])
def test_hostile_members_are_refused(tmp_path, name, data, mode, reason):
    bundle = _zip(tmp_path / "hostile.zip", [(name, data, mode)])
    before = set(os.listdir(tmp_path.parent))
    done = nigran("verify", str(bundle))
    assert done.returncode == 2, done.stdout
    assert reason in done.stderr.decode() and "refused" in done.stderr.decode()
    assert not (tmp_path.parent.parent / "escaped.txt").exists() and set(os.listdir(tmp_path.parent)) == before


def test_a_real_huge_zip_is_refused_by_the_cli(tmp_path):
    bundle = tmp_path / "huge.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_STORED) as zf:
        for i in range(bundle_verify.MAX_MEMBERS + 1):
            zf.writestr(f"{i}", b"")
    done = nigran("verify", str(bundle))
    assert done.returncode == 2 and "holds more than 250000 members" in done.stderr.decode()


def test_unreadable_inputs_exit_2(tmp_path):
    (tmp_path / "junk.zip").write_bytes(b"not a zip at all")
    assert nigran("verify", str(tmp_path / "junk.zip")).returncode == 2
    assert nigran("verify", str(tmp_path / "missing.zip")).returncode == 2
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "manifest.json").write_text("{}")
    os.symlink("/etc/hostname", folder / "link")
    done = nigran("verify", str(folder))
    assert done.returncode == 2 and "link" in done.stderr.decode()
