"""Guard pages: an EndGame-style queue and captcha front as an onion service on the private Tor network.
A short self-refreshing queue is waited out; a captcha or a long queue stops the source at once, with its
status, the next command, a stored stop and an alert; the guard is fetched at most twice."""
from __future__ import annotations

import json

import pytest
import yaml
from sqlalchemy import select

from nigran.storage.db import Database
from nigran.storage.models import Alert, Capture, GuardStop, Post
from tests.support.run import nigran, sources_file, tor_env
from tests.support.webhook import WebhookReceiver, free_port


def guarded(net, name: str, path: str) -> dict:
    return {"name": name, "kind": "market", "start_urls": [f"http://{net.onion('guard')}{path}"], "timeout": 30,
            "max_depth": 1, "max_pages": 20}


def test_a_short_self_refreshing_queue_is_waited_out_once_and_the_market_behind_it_is_crawled(
        tmp_path, home, tornet, guard_site):
    guard_site.reset()
    db_url = f"sqlite:///{home / 'nigran.db'}"
    sources = sources_file(tmp_path, [guarded(tornet, "queued-market", "/short/")])
    done = nigran("crawl", "--sources", sources, "--db", db_url, "--json", env=tor_env(tornet), timeout=240)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert guard_site.hits("/short") == 1  # the queue page once; then its refresh, once, let us in
    with Database(db_url).session() as s:
        items = {url for url in s.scalars(select(Post.url)) if "/item/" in url}
        assert s.scalars(select(GuardStop)).all() == []
    assert len(items) == 3


@pytest.mark.parametrize("path, status", [("/captcha/", "captcha"), ("/long/", "queue")])
def test_a_captcha_or_a_long_queue_stops_the_source_with_an_alert_and_the_next_command(
        tmp_path, home, tornet, guard_site, path, status):
    guard_site.reset()
    db_url = f"sqlite:///{home / 'nigran.db'}"
    name = f"guarded-{status}"
    sources = sources_file(tmp_path, [guarded(tornet, name, path)])
    port = free_port()
    alerts = tmp_path / "alerts.yaml"
    alerts.write_text(yaml.safe_dump({"channels": [{"type": "webhook", "name": "soc", "secret": "webhook-signing-secret",
                                                    "url": f"http://127.0.0.1:{port}/nigran"}]}))
    with WebhookReceiver(port) as receiver:
        done = nigran("sweep", "--sources", sources, "--alerts", str(alerts), "--db", db_url, "--json",
                      env=tor_env(tornet), timeout=240)
    assert done.returncode == 1, done.stderr.decode()[-2000:]
    assert guard_site.hits(path.rstrip("/")) <= 2  # never hammered
    lines = [line for line in done.stderr.decode().splitlines() if line.startswith(f"source {name}:")]
    assert len(lines) == 1 and f"{status}:" in lines[0] and f"next: nigran session login {name}" in lines[0]
    report = json.loads(done.stdout.decode().splitlines()[-1])
    assert report["exit_code"] == 1
    with Database(db_url).session() as s:
        [stop] = s.scalars(select(GuardStop)).all()
        page = s.get(Capture, stop.capture_id)
        [alert] = s.scalars(select(Alert)).all()
    assert (stop.source, stop.status, stop.next_step) == (name, status, f"nigran session login {name}")
    assert page.status == 200 and path in page.url  # the guard page itself is kept as evidence
    assert alert.offer_id is None and alert.reason == f"guard:{name}"
    [sent] = receiver.alerts()
    assert sent["summary"] == f"source {name} needs a human: {status}"
    assert sent["next"] == f"nigran session login {name}" and sent["capture_sha256"] == page.body_sha256
    checked = nigran("sources", "check", "--sources", sources, "--db", db_url, "--json")
    assert json.loads(checked.stdout)["stopped"]["status"] == status
