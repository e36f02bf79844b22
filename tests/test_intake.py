"""Article intake (issue 12): watched folders and RSS/Atom feeds, against the fixture web.

The publication is news.example.test (tests/web/sites/feeds.py). Unreadable files: the
tests run as root, so chmod 000 blocks nothing; they use a binary file (NUL bytes), an
empty file, a file without links, a broken symlink and a folder named ``folder.txt``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from archiver import cli as cli_module
from archiver.cli import cli
from archiver.intake.feeds import (
    ENTRY_RETRY_FOR,
    Entry,
    backoff,
    conditional_headers,
    entries_to_add,
    parse_feed,
)
from archiver.intake.folders import FileState, files_to_add, is_article_name, standing_error
from archiver.manifest.articles import article_doc
from archiver.runs.intake import run_intake
from archiver.store import schema as t

from .conftest import make_archive

NEWS = "https://news.example.test"
RECORDS = "https://records.example.test"
S1 = f"{NEWS}/2024/05/01/court-upholds-fine.html"
S2 = f"{NEWS}/2024/05/02/blogger-detained.html"
S3 = f"{NEWS}/2024/05/03/channel-blocked.html"
S4 = f"{NEWS}/2024/05/04/archive-closes.html"
S5 = f"{NEWS}/2024/05/05/feed-fixed.html"
HOST = "news.example.test"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class Clock:
    """The archive's clock, moved by hand (feeds' schedules and backoff use it)."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


def archive_with(tmp_path: Path, web, *, feeds=(), folders=(), clock=None, **sections):
    intake = {"feeds": list(feeds), "folders": list(folders), **sections.pop("intake", {})}
    # the daemon tests here are about intake: no screenshots job
    sections.setdefault("screenshots", {"chromium": "no-chromium-for-this-test"})
    app = make_archive(tmp_path / "a", web, intake=intake, **sections)
    return dataclasses.replace(app, clock=clock) if clock else app


def feed(name: str) -> str:
    return f"{NEWS}/{name}"


def path_of(url: str) -> str:
    return url.removeprefix(NEWS)


def source_row(app, location: str) -> dict:
    return next(r for r in app.store.intake_rows() if r["location"] == location)


def article_urls(app) -> dict[str, str]:
    """source_url → article id, for every article."""
    with app.store.read() as conn:
        rows = conn.execute(select(t.article.c.id, t.article.c.source_url))
        return {r.source_url: r.id for r in rows}


def cited(app, article_id: str) -> dict[str, str]:
    """url → role of each citation of one article."""
    return {c["url"]: c["role"] for c in article_doc(app.store, article_id)["citations"]}


def drop(folder: Path, name: str, content: str | bytes, *, age: float = 10.0) -> Path:
    """Write a file into a watched folder, settled (modified ``age`` seconds ago)."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    settle(path, age)
    return path


def settle(path: Path, age: float = 10.0) -> None:
    past = time.time() - age
    os.utime(path, (past, past), follow_symlinks=False)


def snapshots_of(app, url: str) -> int:
    with app.store.read() as conn:
        q = (
            select(func.count())
            .select_from(t.snapshot.join(t.target, t.snapshot.c.target_id == t.target.c.id))
            .where(t.target.c.url == url)
        )
        return conn.execute(q).scalar_one()


# ---------------------------------------------------------------- pure decisions


@pytest.mark.parametrize(
    ("failures", "every", "expected"),
    [
        (1, 900, timedelta(minutes=15)),
        (2, 900, timedelta(minutes=30)),
        (3, 900, timedelta(hours=1)),
        (6, 900, timedelta(hours=6)),  # capped
        (60, 900, timedelta(hours=6)),
        (1, 2 * 86400, timedelta(days=2)),  # never more often than the interval
        (3, 2 * 86400, timedelta(days=2)),
    ],
)
def test_backoff_doubles_and_is_capped(failures, every, expected):
    assert backoff(failures, every) == expected


@pytest.mark.parametrize(
    ("etag", "modified", "expected"),
    [
        (None, None, {}),
        ('"v1"', None, {"If-None-Match": '"v1"'}),
        (
            None,
            "Thu, 02 May 2024 09:00:00 GMT",
            {"If-Modified-Since": "Thu, 02 May 2024 09:00:00 GMT"},
        ),
        (
            'W/"x"',
            "Thu, 02 May 2024 09:00:00 GMT",
            {"If-None-Match": 'W/"x"', "If-Modified-Since": "Thu, 02 May 2024 09:00:00 GMT"},
        ),
    ],
)
def test_conditional_headers(etag, modified, expected):
    headers = conditional_headers(etag, modified)
    assert headers.pop("Accept").startswith("application/rss+xml")
    assert headers == expected


def _entry(key: str) -> Entry:
    return Entry(key=key, url=f"https://x.test/{key}", title=key)


def test_entries_to_add_new_ones_oldest_first_and_failed_ones_for_a_while():
    now = T0
    seen = {
        "added": {"article_id": "a", "error": None, "seen_at": now - timedelta(days=30)},
        "failed-recently": {
            "article_id": None,
            "error": "503",
            "seen_at": now - timedelta(hours=1),
        },
        "failed-long-ago": {"article_id": None, "error": "404", "seen_at": now - ENTRY_RETRY_FOR},
    }
    entries = [_entry(k) for k in ("newest", "added", "failed-recently", "failed-long-ago", "old")]
    entries.append(_entry("newest"))  # listed twice: once is enough
    todo = entries_to_add(entries, seen, now)
    assert [e.key for e in todo] == ["old", "failed-recently", "newest"]


RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T&nbsp;News</title>
<item><title>One</title><link>https://n.test/1</link><guid isPermaLink="false">g1</guid></item>
<item><title>Relative</title><link>/2</link></item>
<item><title>No link</title><description>a note</description></item>
<item><title>Mail</title><link>mailto:desk@n.test</link></item>
</channel></rss>"""
ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://n.test/news/"><title>A</title>
<id>urn:a</id><updated>2024-05-04T00:00:00Z</updated>
<entry><title>E</title><id>tag:n.test,2024:4</id><link rel="alternate" href="four.html"/>
<updated>2024-05-04T00:00:00Z</updated></entry></feed>"""


def test_parse_feed_rss_keys_links_and_tolerated_entities():
    parsed = parse_feed(RSS, "https://n.test/rss.xml", "application/rss+xml")
    assert parsed.error is None  # &nbsp; is not XML, but feeds use it: tolerated
    assert [(e.key, e.url) for e in parsed.entries] == [
        ("g1", "https://n.test/1"),
        ("https://n.test/2", "https://n.test/2"),  # no guid: keyed by its link
    ]


def test_parse_feed_atom_resolves_against_xml_base():
    parsed = parse_feed(ATOM, "https://n.test/atom.xml", "application/atom+xml")
    assert [(e.key, e.url) for e in parsed.entries] == [
        ("tag:n.test,2024:4", "https://n.test/news/four.html")
    ]


def test_parse_feed_long_ids_are_hashed():
    guid = "x" * 600
    data = RSS.replace(b"g1", guid.encode())
    key = parse_feed(data, "https://n.test/rss.xml").entries[0].key
    assert key.startswith("sha256:") and len(key) == 71


@pytest.mark.parametrize(
    ("data", "ctype", "error"),
    [
        (
            b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>Cut',
            None,
            "not well-formed XML: line 1, column",
        ),
        (
            b"<rss><channel><item><link>https://n.test/1</link></item></chanel></rss>",
            None,
            "not well-formed XML",
        ),
        (
            b"<!DOCTYPE html><html><body><p>Hello</p></body></html>",
            "text/html",
            "not an RSS or Atom feed (text/html)",
        ),
        (b"", None, "not an RSS or Atom feed"),
    ],
)
def test_parse_feed_refuses_what_is_not_a_feed(data, ctype, error):
    parsed = parse_feed(data, "https://n.test/feed", ctype)
    assert parsed.error is not None and parsed.error.startswith(error)
    assert parsed.entries == ()


def _file(key: str, fp: str, error: str | None = None) -> FileState:
    return FileState(key=key, path=Path(key), fingerprint=fp, error=error)


def test_files_to_add_new_and_changed_only():
    seen = {
        "same.txt": {"fingerprint": "1", "error": None},
        "changed.txt": {"fingerprint": "1", "error": None},
        "bad.txt": {"fingerprint": "9", "error": "bad.txt: binary file"},
    }
    found = [
        _file("same.txt", "1"),
        _file("changed.txt", "2"),
        _file("bad.txt", "9"),
        _file("new.md", "3"),
    ]
    assert [f.key for f in files_to_add(found, seen)] == ["changed.txt", "new.md"]
    assert standing_error(found, seen) == "1 file not added: bad.txt: binary file"
    # once the bad file changes (or goes), it no longer stands as the folder's error
    assert standing_error([_file("bad.txt", "10")], seen) is None


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("a.txt", True),
        ("a.MD", True),
        ("a.html", True),
        ("a.htm", True),
        ("a.pdf", False),
        (".a.txt.swp", False),
        (".hidden.txt", False),
        ("~$draft.txt", False),
        ("README", False),
    ],
)
def test_article_names(name, ok):
    assert is_article_name(name) is ok


# ---------------------------------------------------------------- feeds


def test_feed_that_gains_entries_adds_only_the_new_ones(tmp_path, web):
    clock = Clock()
    app = archive_with(tmp_path, web, feeds=[feed("rss.xml")], clock=clock)
    first = run_intake(app)
    assert first.created == 2 and not first.errors
    ids = article_urls(app)
    assert set(ids) == {S1, S2}
    assert sorted(first.article_ids) == sorted(ids.values())
    assert source_row(app, feed("rss.xml"))["new_articles"] == 2

    web.set_state("later")  # story 3 is published
    assert not run_intake(app).sources[0].polled  # not due yet: feed_every is 15m
    assert web.hits.count(HOST, "/rss.xml") == 1
    clock.advance(minutes=15)
    second = run_intake(app)
    assert second.created == 1
    assert set(article_urls(app)) == {S1, S2, S3}
    assert second.article_ids == [article_urls(app)[S3]]
    for url in (S1, S2, S3):  # each article page fetched once: seen entries are never re-added
        assert web.hits.count(HOST, path_of(url)) == 1
    assert source_row(app, feed("rss.xml"))["new_articles"] == 3
    # the citations wait for capture
    with app.store.read() as conn:
        states = {r.capture_state for r in conn.execute(select(t.target.c.capture_state))}
    assert states == {"pending"}


@pytest.mark.parametrize(
    ("name", "etag"),
    [("rss.xml", '"rss-now"'), ("modified.xml", None)],  # ETag + Last-Modified; Last-Modified
)
def test_not_modified_is_honoured(tmp_path, web, name, etag):
    app = archive_with(tmp_path, web, feeds=[feed(name)])
    assert run_intake(app).created >= 1
    row = source_row(app, feed(name))
    assert row["etag"] == etag and row["last_modified"]
    pages = len(web.hits)
    again = run_intake(app, force=True)
    assert again.sources[0].note == "not modified"  # the fixture answers 304 only to validators
    assert again.article_ids == []
    assert len(web.hits) == pages + 1  # the feed, and nothing else
    row = source_row(app, feed(name))
    assert row["failures"] == 0 and row["last_error"] is None


def test_article_page_citations_are_the_article_body_not_nav_or_footer(tmp_path, web):
    app = archive_with(tmp_path, web, feeds=[feed("rss.xml")])
    run_intake(app)
    ids = article_urls(app)
    # <article> holds the story; nav, "read more" aside and footer sit outside it
    assert cited(app, ids[S1]) == {
        S1: "source",  # the article's own page is captured too
        f"{RECORDS}/rulings/2024-117": "cited",
        f"{RECORDS}/statements/ministry-0501": "cited",
    }
    # a page without <article>: the citations are those inside <main>
    assert cited(app, ids[S2]) == {
        S2: "source",
        f"{RECORDS}/records/detention-0502": "cited",
        f"{RECORDS}/posts/warning-0502": "cited",
    }
    doc = article_doc(app.store, ids[S1])
    assert doc["article"]["title"] == "Court upholds fine for reposting a meme"


def test_two_feeds_listing_the_same_story_make_one_article(tmp_path, web):
    app = archive_with(tmp_path, web, feeds=[feed("rss.xml"), feed("atom.xml")])
    summary = run_intake(app)
    assert summary.created == 3  # S1, S2 from RSS; S4 (relative link) from Atom; S1 again
    assert set(article_urls(app)) == {S1, S2, S4}
    atom = next(s for s in summary.sources if s.location == feed("atom.xml"))
    assert sorted(r.created for r in atom.results) == [False, True]  # S1 updated, not doubled


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("broken.xml", "not well-formed XML: line 2"),
        ("error.xml", "the feed answered 500"),
        ("slow.xml", "timeout: read timed out"),
        ("page.html", "not an RSS or Atom feed (text/html)"),
    ],
)
def test_failing_feed_is_reported_backs_off_and_is_retried_later(tmp_path, web, name, error):
    clock = Clock()
    app = archive_with(
        tmp_path, web, feeds=[feed(name)], clock=clock, capture={"read_timeout": "1s"}
    )
    first = run_intake(app)
    assert first.sources[0].failed
    assert first.errors == [f"{feed(name)}: {first.errors[0].split(': ', 1)[1]}"]
    assert error in first.errors[0]
    row = source_row(app, feed(name))
    assert row["failures"] == 1 and error in row["last_error"]
    assert row["next_poll_at"] == T0 + timedelta(minutes=15)
    assert article_urls(app) == {}

    hits = web.hits.count(HOST, f"/{name}")
    clock.advance(minutes=14)
    assert not run_intake(app).sources[0].polled  # backing off: not before its time
    assert web.hits.count(HOST, f"/{name}") == hits
    clock.advance(minutes=1)
    assert run_intake(app).sources[0].failed  # retried, failed again: the wait doubles
    row = source_row(app, feed(name))
    assert row["failures"] == 2
    assert row["next_poll_at"] == clock.now + timedelta(minutes=30)
    assert web.hits.count(HOST, f"/{name}") > hits


def test_broken_feed_recovers(tmp_path, web):
    clock = Clock()
    app = archive_with(tmp_path, web, feeds=[feed("broken.xml")], clock=clock)
    assert run_intake(app).sources[0].failed
    web.set_state("later")  # the publisher fixed its feed
    clock.advance(minutes=15)
    summary = run_intake(app)
    assert not summary.sources[0].failed and summary.created == 1
    row = source_row(app, feed("broken.xml"))
    assert (row["failures"], row["last_error"], row["new_articles"]) == (0, None, 1)
    assert set(article_urls(app)) == {S5}


def test_entry_whose_page_fails_is_reported_retried_then_given_up(tmp_path, web):
    clock = Clock()
    app = archive_with(tmp_path, web, feeds=[feed("retracted.xml")], clock=clock)
    first = run_intake(app)
    assert first.created == 1  # story 4; the retracted story's page is 404
    assert len(first.errors) == 1 and "answered 404" in first.errors[0]
    assert "1 entry not added" in source_row(app, feed("retracted.xml"))["last_error"]
    clock.advance(minutes=15)
    second = run_intake(app)
    assert second.created == 0 and len(second.errors) == 1  # tried again, story 4 not re-added
    assert web.hits.count(HOST, "/2024/05/06/retracted.html") == 2
    assert web.hits.count(HOST, path_of(S4)) == 1
    clock.now = T0 + ENTRY_RETRY_FOR + timedelta(minutes=1)
    third = run_intake(app)
    assert third.errors == [] and third.created == 0  # given up, reported before
    assert web.hits.count(HOST, "/2024/05/06/retracted.html") == 2


def test_same_safety_rules_as_capture(tmp_path, web):
    feeds = ["http://127.0.0.1/rss.xml", "file:///etc/passwd", feed("ssrf.xml")]
    app = archive_with(tmp_path, web, feeds=feeds)
    summary = run_intake(app)
    by_location = {s.location: s for s in summary.sources}
    assert "refused" in by_location["http://127.0.0.1/rss.xml"].note
    assert by_location["file:///etc/passwd"].note == "not an http(s) URL"
    entry_errors = by_location[feed("ssrf.xml")].errors
    assert len(entry_errors) == 2 and all("refused" in e for e in entry_errors)
    assert article_urls(app) == {}
    assert not [h for h in web.hits if h.host in ("127.0.0.1", "169.254.169.254")]


def test_feeds_and_articles_go_through_the_configured_proxy(tmp_path, web):
    # without the proxy the fixture names do not resolve: a success proves the route
    app = archive_with(tmp_path, web, feeds=[feed("atom.xml")])
    assert run_intake(app).created == 2
    assert ("GET", HOST, "/atom.xml") in web.hits


# ---------------------------------------------------------------- folders


ARTICLE_A = """Fines for reposts

Original url: https://records.example.test/drafts/a

The court's ruling is at https://records.example.test/rulings/a-1 and was reported.
"""


def test_watched_folder_new_changed_and_unreadable_files(tmp_path, web):
    app = archive_with(tmp_path, web, folders=["inbox"])
    inbox = app.root / "inbox"
    a = drop(inbox, "a.txt", ARTICLE_A)
    drop(inbox, "2024/may/b.md", "# Notes\n\nSee [the record](https://records.example.test/b).\n")
    drop(inbox, "binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    drop(inbox, "empty.md", "")
    drop(inbox, "no-links.html", "<html><body><p>No links at all.</p></body></html>")
    ghost = inbox / "ghost.txt"
    ghost.symlink_to(inbox / "gone.txt")
    settle(ghost)
    (inbox / "folder.txt").mkdir()
    settle(inbox / "folder.txt")
    drop(inbox, ".hidden.txt", "https://records.example.test/hidden")
    drop(inbox, "scan.pdf", "https://records.example.test/pdf")
    fresh = drop(inbox, "fresh.txt", "Fresh\n\nhttps://records.example.test/fresh\n", age=0)

    first = run_intake(app)
    assert first.created == 2
    assert {r.source for r in first.sources[0].results} == {str(a), str(inbox / "2024/may/b.md")}
    errors = sorted(first.errors)
    assert len(errors) == 5, errors
    assert errors[0].startswith("binary.txt: binary file")
    assert errors[1].startswith("empty.md: the article is empty")
    assert errors[2] == "folder.txt: is a folder, not an article"
    # links are not followed at all (issue 23): a broken one is refused as a link
    assert errors[3] == "ghost.txt: is a symbolic link: links are not followed here"
    assert errors[4].startswith("no-links.html: no http(s) links")
    standing = source_row(app, "inbox")["last_error"]
    assert standing.startswith("5 files not added: ")
    for name in ("binary.txt", "empty.md", "no-links.html", "ghost.txt", "folder.txt"):
        assert (inbox / name).exists() or (inbox / name).is_symlink()  # left in place

    # the next pass: nothing reported again, nothing retried; the settled file is added
    settle(fresh)
    second = run_intake(app)
    assert second.errors == []
    assert [r.source for r in second.sources[0].results] == [str(fresh)]
    assert source_row(app, "inbox")["last_error"] == standing

    # a changed file is added again: with an "Original url:", the same article updated
    ids_before = set(app.store.article_ids())
    drop(inbox, "a.txt", ARTICLE_A + "\nMore at https://records.example.test/rulings/a-2.\n")
    third = run_intake(app)
    (result,) = third.sources[0].results
    assert not result.created and result.new_citations == 1
    assert set(app.store.article_ids()) == ids_before
    # a fixed file is retried once its content changes
    drop(inbox, "binary.txt", "Now text\n\nhttps://records.example.test/fixed\n")
    fourth = run_intake(app)
    assert [r.created for r in fourth.sources[0].results] == [True]
    assert source_row(app, "inbox")["last_error"].startswith("4 files not added: ")
    assert source_row(app, "inbox")["new_articles"] == 4


def test_missing_folder_is_reported(tmp_path, web):
    app = archive_with(tmp_path, web, folders=["nowhere"])
    summary = run_intake(app)
    assert summary.sources[0].failed
    assert source_row(app, "nowhere")["last_error"].startswith("no such folder: ")


# ---------------------------------------------------------------- CLI


def invoke(app, *args):
    return CliRunner().invoke(cli, ["--config", str(app.root / "config.toml"), *args])


def test_cli_intake_captures_and_status_lists_sources(tmp_path, web, monkeypatch):
    monkeypatch.setattr(cli_module.out, "_width", 250)  # one table row per line
    app = archive_with(tmp_path, web, feeds=[feed("rss.xml"), feed("error.xml")], folders=["inbox"])
    drop(app.root / "inbox", "a.txt", ARTICLE_A)
    result = invoke(app, "intake", "--once")
    assert result.exit_code == 4, result.output  # the failing feed is reported
    assert f"feed {feed('rss.xml')}: 2 entries, 2 new" in result.output
    assert "court-upholds-fine\tadded: 3 citations (3 new)" in result.output
    assert "Captured 8 targets: 8 archived" in result.output
    assert f"Error: {feed('error.xml')}: the feed answered 500" in result.stderr
    for url in (S1, f"{RECORDS}/rulings/2024-117", f"{RECORDS}/rulings/a-1"):
        assert snapshots_of(app, url) == 1

    status = invoke(app, "status")
    assert status.exit_code == 0, status.output
    assert "Intake: watched folders and feeds" in status.output
    assert "feed https://news.example.test/error.xml" in status.output
    assert "the feed answered 500 (1 in a row)" in status.output
    assert "folder inbox" in status.output
    # --json stays what it was: the article list
    doc = json.loads(invoke(app, "status", "--json").output)
    assert {tuple(sorted(r)) for r in doc} == {("citations", "id", "source_url", "title")}

    again = invoke(app, "intake")  # rss.xml not due yet; error.xml backing off
    assert again.exit_code == 0, again.output
    assert "not due (next poll at " in again.output
    forced = invoke(app, "intake", "--force", "--queue")
    assert f"feed {feed('rss.xml')}: not modified" in forced.output


def test_cli_intake_queue_leaves_targets_pending(tmp_path, web):
    app = archive_with(tmp_path, web, feeds=[feed("modified.xml")])
    result = invoke(app, "intake", "--queue")
    assert result.exit_code == 0, result.output
    assert "Queued: run `archive capture`" in result.output
    assert snapshots_of(app, S2) == 0


def test_cli_intake_without_sources_says_how_to_configure(tmp_path, web):
    app = archive_with(tmp_path, web)
    result = invoke(app, "intake")
    assert result.exit_code == 2
    assert "set folders or feeds under [intake]" in result.stderr


# ---------------------------------------------------------------- the daemon


SCRIPT = str(Path(sys.executable).parent / "archive")
if not Path(SCRIPT).exists():
    SCRIPT = shutil.which("archive") or SCRIPT


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            pytest.fail(f"daemon exited ({proc.returncode}) while waiting for {what}")
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def test_daemon_picks_up_new_feed_entries_and_files_and_captures_them(tmp_path, web):
    app = archive_with(
        tmp_path,
        web,
        feeds=[feed("rss.xml")],
        folders=["inbox"],
        intake={"feed_every": "1s"},
        daemon={"intake_every": "1s", "capture_every": "1s", "check_every": "1h"},
    )
    inbox = app.root / "inbox"
    drop(inbox, "a.txt", ARTICLE_A)
    log = tmp_path / "daemon.log"
    env = {**os.environ, **web.env(), "ARCHIVER_CONFIG": str(app.root / "config.toml")}
    proc = subprocess.Popen(
        [SCRIPT, "daemon", "--log-format", "json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        first = [
            S1,
            S2,
            f"{RECORDS}/rulings/2024-117",
            f"{RECORDS}/posts/warning-0502",
            f"{RECORDS}/rulings/a-1",
        ]
        wait_for(lambda: all(snapshots_of(app, u) for u in first), 60, "first captures", proc)

        web.set_state("later")  # story 3 is published, and an editor drops a file
        drop(inbox, "b.md", "# Late\n\nSee [the order](https://records.example.test/orders/b).\n")
        later = [S3, f"{RECORDS}/reports/blocking-2024", f"{RECORDS}/orders/b"]
        wait_for(lambda: all(snapshots_of(app, u) for u in later), 60, "later captures", proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0, log.read_text()
    assert len(app.store.article_ids()) == 5  # S1, S2, S3, a.txt, b.md: nothing twice
    for url in (S1, S2, S3):
        assert snapshots_of(app, url) == 1
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
    intake_runs = [x for x in lines if x.get("job") == "intake" and x.get("ok")]
    assert intake_runs and any("new articles" in x["summary"] for x in intake_runs)
    beats = {b["job"] for b in app.store.heartbeats()}
    assert "intake" in beats


def test_daemon_once_runs_intake_before_capture(tmp_path, web):
    app = archive_with(tmp_path, web, feeds=[feed("modified.xml")], folders=["inbox"])
    drop(app.root / "inbox", "a.txt", ARTICLE_A)
    result = invoke(app, "daemon", "--once")
    # (the exit code also reflects the other jobs, the link check among them)
    out = result.output
    assert "intake done" in out and "capture done" in out, out
    assert out.index("intake done") < out.index("capture done")
    assert "Captured 5 targets: 5 archived" in out
    for url in (S2, f"{RECORDS}/posts/warning-0502", f"{RECORDS}/rulings/a-1"):
        assert snapshots_of(app, url) == 1
    assert source_row(app, feed("modified.xml"))["new_articles"] == 1


def test_failing_feed_honours_retry_after(tmp_path, web):
    clock = Clock()
    url = "https://cases.test/503?retry=7200"  # 503 with Retry-After: 2 hours
    app = archive_with(tmp_path, web, feeds=[url], clock=clock)
    assert run_intake(app).sources[0].failed
    row = source_row(app, url)
    assert row["last_error"] == "the feed answered 503"
    assert row["next_poll_at"] == T0 + timedelta(hours=2)  # not the 15 minutes of backoff
