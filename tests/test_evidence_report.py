"""report.html: a seller's hostile markup runs no script in a real browser; identifiers become pseudonyms."""
import re
import subprocess

import pytest

from nigran.pipelines.extraction import find_identifiers
from nigran.storage.evidence.export import Selection, export_bundle
from tests.support.fixture_server import FixtureServer, Request
from tests.support.stores import PNG, make_store

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.browser


@pytest.fixture
def hits():
    """A server on 127.0.0.1 recording every request a payload manages to make."""
    seen = []

    def record(request: Request):
        seen.append(request.path)
        return 204, {}, b""

    with FixtureServer(record, protocol="HTTP/1.0", name="payload-hits") as server:
        yield seen, server.base


def payloads(base: str) -> str:
    return (f"<script>document.title='PWNED';fetch('{base}/script')</script>"
            f"<img src=x onerror=\"document.title='PWNED';fetch('{base}/onerror')\">"
            f"<svg onload=\"fetch('{base}/svg')\"></svg><iframe src=\"javascript:fetch('{base}/iframe')\"></iframe>"
            f"<a href=\"javascript:fetch('{base}/link')\">details</a><img src=\"{base}/pixel.png\">"
            f"<style>@import '{base}/css';</style><meta http-equiv=\"refresh\" content=\"0;url={base}/refresh\">")


def dump_dom(path) -> str:
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=3000",
                           "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_hostile_post_runs_no_script_in_chromium(home, tmp_path, hits):
    seen, base = hits
    evil = payloads(base)
    control = tmp_path / "control.html"  # the same markup, unescaped and without CSP, does run
    control.write_text(f"<html><head><title>clean</title></head><body>{evil}</body></html>")
    assert "PWNED" in dump_dom(control) and "/script" in seen
    seen.clear()

    db = make_store(home, f"sqlite:///{home / 'nigran.db'}", [
        {"url": f"javascript:fetch('{base}/url')", "title": evil, "author": evil, "screenshot": PNG,
         "text": f"CNIC 35202-1234567-1 Rs 500 {evil}", "identifiers": [("cnic", "35202-1234567-1")]},
        {"url": "http://market.onion/2", "text": "Same person again: 35202-1234567-1, and 42101-7654321-3",
         "identifiers": [("cnic", "35202-1234567-1"), ("cnic", "42101-7654321-3")]}])
    export_bundle(db, home, tmp_path / "bundle", operator="alice", case="XSS <b>case</b>", selection=Selection(), find=find_identifiers,
                  as_dir=True)
    report = tmp_path / "bundle" / "report.html"
    html = report.read_text()
    dom = dump_dom(report)

    assert seen == []
    assert "<title>nigran evidence report: XSS &lt;b&gt;case&lt;/b&gt;</title>" in dom and "PWNED</title>" not in dom
    assert "&lt;script&gt;document.title='PWNED'" in dom  # shown to the reader as text
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert "<script" not in html and "javascript:fetch" not in re.findall(r'(?:href|src)="([^"]*)"', html)
    assert 'src="data:image/png;base64,' in html  # the screenshot is embedded

    assert "35202-1234567-1" not in html and "42101-7654321-3" not in html
    pseudonyms = re.findall(r"CNIC-[0-9a-f]{10}", html)
    assert len(set(pseudonyms)) == 2  # the same person keeps one pseudonym across offers
    assert html.count(f"[{pseudonyms[0]}]") == 2 or html.count(f"[{pseudonyms[-1]}]") == 2
