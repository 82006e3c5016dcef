"""Crawling a members-only phpBB forum: a login wall without a session, every thread with an imported
cookies.txt, a stop within 2 requests when the session expires mid-crawl, and a form login whose password
never reaches a log, a WARC or the database."""
from __future__ import annotations

import gzip
import json

from sqlalchemy import select

from nigran.storage.db import Database
from nigran.storage.models import Capture, GuardStop, Post
from tests.support.members_forum import PASSWORD, MembersForum
from tests.support.run import nigran, sources_file


def forum_source(forum: MembersForum, **extra) -> dict:
    return {"name": "members", "kind": "forum", "via": "direct", "start_urls": [forum.index_url], "max_depth": 3,
            "max_pages": 100, **extra}


def crawl(tmp_path, home, forum, env=None, **extra):
    db_url = f"sqlite:///{home / 'nigran.db'}"
    sources = sources_file(tmp_path, [forum_source(forum, **extra)])
    done = nigran("crawl", "--sources", sources, "--db", db_url, "--json", env=env)
    return done, Database(db_url)


def stored_posts(db: Database) -> list[str]:
    with db.session() as s:
        return s.scalars(select(Post.post_key).where(Post.url.contains("viewtopic"))).all()


def test_without_a_session_the_forum_is_a_login_wall_naming_the_session_command(tmp_path, home):
    with MembersForum() as forum:
        done, db = crawl(tmp_path, home, forum)
    assert done.returncode == 1
    [line] = [x for x in done.stderr.decode().splitlines() if x.startswith("source members:")]
    assert "login_wall:" in line and line.endswith("next: nigran session login members")
    assert json.loads(done.stdout)["sources"][0]["next_step"] == "nigran session login members"
    with db.session() as s:
        [stop] = s.scalars(select(GuardStop)).all()
        assert stop.status == "login_wall" and s.get(Capture, stop.capture_id).url == forum.index_url
    assert forum.unauthenticated == 1  # the wall was fetched once, and nothing after it


def test_with_an_imported_cookies_txt_every_thread_is_crawled_and_the_cookie_stays_out_of_the_database(
        tmp_path, home, resolver_spy):
    spy_env, resolved = resolver_spy
    with MembersForum() as forum:
        exported = forum.cookies_txt(tmp_path / "cookies.txt")
        imported = nigran("session", "import", "members", str(exported))
        assert imported.returncode == 0, imported.stderr.decode()
        # An empty tldextract cache: Scrapy's own cookie jar would fetch the Public Suffix List from GitHub
        done, db = crawl(tmp_path, home, forum, env={**spy_env, "TLDEXTRACT_CACHE": str(tmp_path / "tld")},
                         session="members")
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        assert forum.unauthenticated == 0
    assert set(resolved.read_text().split()) <= {"127.0.0.1"}  # nothing resolved, nothing fetched outside
    keys = stored_posts(db)
    assert len(keys) == len(set(keys)) == forum.posts_total
    sid = [line.split("\t")[-1] for line in exported.read_text().splitlines() if "phpbb3_sid" in line][0]
    assert sid.encode() not in (home / "nigran.db").read_bytes()  # Cookie values: only in the WARC request records
    warcs = b"".join(gzip.open(p).read() for p in home.rglob("*.warc.gz"))
    assert f"phpbb3_sid={sid}".encode() in warcs


def test_a_session_that_expires_mid_crawl_stops_within_two_requests_and_keeps_what_was_stored(tmp_path, home):
    with MembersForum(expire_after=6) as forum:
        nigran("session", "import", "members", str(forum.cookies_txt(tmp_path / "cookies.txt")))
        done, db = crawl(tmp_path, home, forum)  # no `session:`: the one stored under the source's name
        dead = forum.unauthenticated
    assert done.returncode == 1
    assert 1 <= dead <= 2  # the request that met the wall (and its redirect to the login page)
    [line] = [x for x in done.stderr.decode().splitlines() if x.startswith("source members:")]
    assert "session_expired:" in line and "nigran session login members" in line
    assert 0 < len(stored_posts(db)) < forum.posts_total  # what was stored before the expiry stays
    with db.session() as s:
        assert s.scalars(select(GuardStop.status)).all() == ["session_expired"]


def test_a_form_login_crawls_the_forum_and_the_password_is_nowhere(tmp_path, home):
    with MembersForum() as forum:
        login = {"url": forum.login_url, "form": "form#login", "username": forum.username,
                 "password_env": "MEMBERS_PASSWORD"}
        done, db = crawl(tmp_path, home, forum, env={"MEMBERS_PASSWORD": PASSWORD}, login=login,
                         logged_in="#username_logged_in")
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert len(set(stored_posts(db))) == forum.posts_total
    secret = PASSWORD.encode()
    assert secret not in done.stdout + done.stderr
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert secret not in (gzip.decompress(data) if path.name.endswith(".gz") else data), path


def test_a_wrong_password_stops_the_source_as_login_failed(tmp_path, home):
    with MembersForum() as forum:
        login = {"url": forum.login_url, "form": "form#login", "username": forum.username, "password_env": "PW"}
        done, db = crawl(tmp_path, home, forum, env={"PW": "not the password"}, login=login)
    assert done.returncode == 1
    [line] = [x for x in done.stderr.decode().splitlines() if x.startswith("source members:")]
    assert "login_failed:" in line and "not the password" not in line
    assert stored_posts(db) == []


def test_session_check_says_whether_the_stored_session_still_logs_in(tmp_path, home):
    with MembersForum(expire_after=1) as forum:
        sources = sources_file(tmp_path, [forum_source(forum)])
        db_url = f"sqlite:///{home / 'nigran.db'}"
        check = ("session", "check", "members", "--sources", sources, "--db", db_url)
        missing = nigran(*check)
        assert missing.returncode == 1 and forum.unauthenticated == 0  # nothing to check: nothing fetched
        assert missing.stderr.decode().strip().endswith("no session 'members' is stored; next: nigran session login members")
        nigran("session", "import", "members", str(forum.cookies_txt(tmp_path / "cookies.txt")))
        good = nigran(*check, "--json")
        assert good.returncode == 0, good.stderr.decode()
        assert json.loads(good.stdout) == {"source": "members", "logged_in": True, "failure": None, "next": None}
        expired = nigran(*check)  # the forum ends the session after one page
    assert expired.returncode == 1
    line = expired.stderr.decode().splitlines()[-1]  # after the crawl's own log of the stop
    assert line.startswith("nigran: error: source members: session_expired:") and line.endswith("next: nigran session login members")
    runs = nigran("runs", "--db", db_url, "--trigger", "session-check", "--json")
    assert len(runs.stdout.splitlines()) == 2  # each check is a run, its page kept as evidence
