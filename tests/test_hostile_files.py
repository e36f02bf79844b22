"""Issue 23, the files and text half: what strangers' files and text may not do.

Canonical URLs that take over other articles (4), inbox links, pipes and devices (5),
quadratic extraction (7), terminal control sequences and Rich markup (10), spreadsheet
formulas in CSV (11), permissions that ignore the umask (13); inbox file names in logs
and the folder pass that hashed every file every time.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import stat
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console
from sqlalchemy import select

from archiver.cli import cli
from archiver.errors import SourceError
from archiver.extract import extract, extract_html, extract_text
from archiver.intake import folders
from archiver.logs import TextFormatter
from archiver.manifest.documents import csv_row
from archiver.manifest.files import StagedFiles, atomic_write
from archiver.progress import PlainProgress
from archiver.runs.add import add_one
from archiver.runs.intake import run_intake
from archiver.store import schema as t

from .conftest import make_archive

OUTSIDE_SECRET = "TOP SECRET https://secret.example.test/leak\n"


# ---------------------------------------------------------------- 4: canonical takeover


def test_canonical_of_another_site_is_not_trusted_on_a_fetched_page():
    page = "https://attacker.example.test/post"
    html = (
        '<html><head><link rel="canonical" href="https://news.example.test/real-story">'
        "<title>Fake</title></head><body><p><a href='https://x.example.test/'>x</a></p>"
        "</body></html>"
    )
    assert extract_html(html, page_url=page).source_url == page
    og = html.replace('<link rel="canonical"', '<meta property="og:url" content')
    og = og.replace('href="https://news.example.test/real-story">', '"https://n.test/a">')
    assert extract_html(og, page_url=page).source_url == page
    # the page's own site (www. and mobile variants too) may name its canonical URL
    own = html.replace("news.example.test", "www.attacker.example.test")
    assert extract_html(own, page_url=page).source_url == (
        "https://www.attacker.example.test/real-story"
    )
    mobile = html.replace("news.example.test", "attacker.example.test")
    assert extract_html(mobile, page_url="https://m.attacker.example.test/post").source_url == (
        "https://attacker.example.test/real-story"
    )


def _article_html(title: str, canonical: str, cited: str) -> str:
    return (
        f'<html><head><link rel="canonical" href="{canonical}"><title>{title}</title></head>'
        f'<body><article><p>See <a href="{cited}">the record</a>.</p></article></body></html>'
    )


def _citations(app, article_id: str) -> set[str]:
    with app.store.read() as conn:
        rows = conn.execute(
            select(t.target.c.url)
            .select_from(t.citation.join(t.target, t.citation.c.target_id == t.target.c.id))
            .where(t.citation.c.article_id == article_id)
        )
        return {r.url for r in rows}


def test_a_file_claiming_another_articles_url_does_not_take_it_over(tmp_path):
    app = make_archive(tmp_path / "a")
    try:
        story = "https://news.example.test/real-story"
        real = tmp_path / "real.html"
        real.write_text(_article_html("Court upholds fine", story, "https://rec.test/ruling"))
        first = add_one(app, str(real))
        planted = tmp_path / "planted.html"
        planted.write_text(_article_html("Retraction", story, "https://evil.test/planted"))
        second = add_one(app, str(planted))
        assert second.article_id != first.article_id and second.created
        assert app.store.article_row(first.article_id).title == "Court upholds fine"
        assert "https://evil.test/planted" not in _citations(app, first.article_id)
        # a new version of the same draft (the same title, one more link) updates it
        draft = tmp_path / "draft-v2.html"
        draft.write_text(_article_html("Court upholds fine", story, "https://rec.test/v2"))
        assert add_one(app, str(draft)).article_id == first.article_id
        assert app.store.article_row(first.article_id).title == "Court upholds fine"
        # the same file again still updates its own article
        real.write_text(_article_html("Court upholds fine", story, "https://rec.test/appeal"))
        again = add_one(app, str(real))
        assert again.article_id == first.article_id and not again.created
        assert "https://rec.test/appeal" in _citations(app, first.article_id)
    finally:
        app.close()


# ---------------------------------------------------------------- 5: the inbox


def _settle(path: Path, age: float = 10.0) -> None:
    past = time.time() - age
    os.utime(path, (past, past), follow_symlinks=False)


def _run_in_thread(fn, timeout: float):
    """fn() in a daemon thread; its result, or a failure if it is still running."""
    box: dict = {}
    thread = threading.Thread(target=lambda: box.update(result=fn()), daemon=True)
    thread.start()
    thread.join(timeout)
    return thread.is_alive(), box.get("result")


def test_inbox_takes_regular_files_only(tmp_path):
    app = make_archive(tmp_path / "a", intake={"folders": ["inbox"]})
    inbox = app.root / "inbox"
    inbox.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text(OUTSIDE_SECRET)
    (inbox / "leak.txt").symlink_to(secret)
    (inbox / "zero.txt").symlink_to("/dev/zero")
    fifo = inbox / "pipe.md"
    os.mkfifo(fifo)
    ok = inbox / "ok.txt"
    ok.write_text("Fine article\n\nhttps://records.example.test/ok\n")
    for p in (inbox / "leak.txt", inbox / "zero.txt", fifo, ok):
        _settle(p)
    try:
        stuck, summary = _run_in_thread(lambda: run_intake(app), timeout=30)
        if stuck:  # unblock a reader waiting on the pipe (today's behaviour), then fail
            with pytest.raises(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        assert not stuck, "intake hung on a pipe or /dev/zero"
        assert [r.source for r in summary.sources[0].results] == [str(ok)]
        errors = sorted(summary.errors)
        assert errors == [
            "leak.txt: is a symbolic link: links are not followed here",
            "pipe.md: is a named pipe, not a regular file",
            "zero.txt: is a symbolic link: links are not followed here",
        ]
        with app.store.read() as conn:
            sources = {r.source for r in conn.execute(select(t.article.c.source))}
            targets = {r.url for r in conn.execute(select(t.target.c.url))}
        assert sources == {str(ok)}
        assert not any("secret" in u for u in targets)
    finally:
        app.close()


def test_inbox_size_cap_comes_before_hashing(tmp_path, monkeypatch):
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:  # sparse: no disk used
        f.truncate(50 * 2**20 + 1)
    _settle(big)
    (state,) = folders.scan(tmp_path).found
    assert state.error and "too large" in state.error
    # refused by its size: the content was never hashed
    assert state.fingerprint != hashlib.sha256(big.read_bytes()).hexdigest()


def test_add_refuses_a_pipe_without_blocking(tmp_path):
    app = make_archive(tmp_path / "a")
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    try:

        def add():
            try:
                add_one(app, str(fifo))
            except SourceError as exc:
                return str(exc)
            return "added"

        stuck, message = _run_in_thread(add, timeout=20)
        if stuck:
            with pytest.raises(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        assert not stuck
        assert message == f"{fifo}: is a named pipe, not a regular file"
    finally:
        app.close()


def test_folder_pass_hashes_only_new_and_changed_files(tmp_path, monkeypatch):
    app = make_archive(tmp_path / "a", intake={"folders": ["inbox"]})
    inbox = app.root / "inbox"
    inbox.mkdir()
    for i in range(3):
        (inbox / f"n{i}.txt").write_text(f"Note {i}\n\nhttps://records.example.test/{i}\n")
        _settle(inbox / f"n{i}.txt")
    (inbox / "empty.txt").write_text("")
    _settle(inbox / "empty.txt")
    read: list[str] = []
    real = folders.fingerprint
    monkeypatch.setattr(folders, "fingerprint", lambda p: read.append(p.name) or real(p))
    try:
        assert run_intake(app).created == 3
        assert sorted(read) == ["empty.txt", "n0.txt", "n1.txt", "n2.txt"]
        read.clear()
        assert run_intake(app).created == 0
        assert read == []  # nothing changed: nothing read
        # touched but unchanged: read once, then known by its new stat
        _settle(inbox / "n0.txt", age=20)
        run_intake(app)
        assert read == ["n0.txt"]
        read.clear()
        run_intake(app)
        assert read == []
        # changed: read and added again
        (inbox / "n1.txt").write_text("Note 1\n\nhttps://records.example.test/1b\n")
        _settle(inbox / "n1.txt")
        summary = run_intake(app)
        assert read == ["n1.txt"] and len(summary.sources[0].results) == 1
    finally:
        app.close()


def test_inbox_file_names_are_escaped_in_logs(tmp_path, caplog):
    app = make_archive(tmp_path / "a", intake={"folders": ["inbox"]})
    inbox = app.root / "inbox"
    inbox.mkdir()
    name = "x\n2030-01-01T00:00:00.000Z INFO archiver: all good\x1b[2J.txt"
    (inbox / name).write_text("No links here.\n")
    _settle(inbox / name)
    try:
        with caplog.at_level(logging.WARNING, logger="archiver.runs.intake"):
            run_intake(app)
        (record,) = [r for r in caplog.records if "file not added" in r.getMessage()]
        line = TextFormatter().format(record)
        assert "\n" not in line and "\x1b" not in line
        assert "x\\n2030-01-01" in line and "\\x1b[2J" in line
    finally:
        app.close()


# ---------------------------------------------------------------- 7: extraction cost


def _many_urls(n: int) -> dict[str, str]:
    words = "Officials said the court had ruled on the appeal"
    return {
        "text": "Title\n\n"
        + " ".join(f"{words} (see https://s{i % 50}.example.org/n/story-{i})." for i in range(n)),
        "html": "<html><body><p>"
        + " ".join(
            f'{words} <a href="https://s{i % 50}.example.org/n/{i}">s</a>.' for i in range(n)
        )
        + "</p></body></html>",
    }


@pytest.mark.parametrize("kind", ["text", "html"])
def test_extraction_is_not_quadratic(kind):
    doc = _many_urls(3000)[kind]
    start = time.perf_counter()
    ex = extract(doc, kind)
    took = time.perf_counter() - start
    assert len(ex.citations) == 3000
    assert took < 10, f"{took:.1f} s for 3,000 URLs"  # today: minutes


def test_citations_per_article_are_capped_with_a_clear_message(tmp_path):
    text = "Notes\n\n" + "\n".join(f"https://r.example.test/{i}" for i in range(6))
    assert len(extract_text(text, max_citations=6).citations) == 6
    app = make_archive(tmp_path / "a", top={"max_citations": 5})
    src = tmp_path / "many.txt"
    src.write_text(text)
    try:
        with pytest.raises(SourceError) as caught:
            add_one(app, str(src))
        assert str(caught.value) == (
            f"{src}: cites more than 5 distinct URLs, the limit (max_citations = 5 in"
            " config.toml): split the article, or raise the limit"
        )
        assert app.store.article_ids() == []
    finally:
        app.close()


# ---------------------------------------------------------------- 10: the terminal

EVIL_TITLE = "Ruling \x1b]0;pwned\x07 [link=https://evil.test/]x[/link] \x9b31m"


def _cli(cfg: Path, *args):
    return CliRunner().invoke(cli, ["--config", str(cfg), *args])


def _no_controls(text: str) -> None:
    bad = [c for c in text if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F]
    assert not bad, f"control characters reached the terminal: {bad!r}"


def test_status_strips_controls_and_escapes_markup(tmp_path):
    assert CliRunner().invoke(cli, ["init", str(tmp_path / "a")]).exit_code == 0
    cfg = tmp_path / "a" / "config.toml"
    page = tmp_path / "evil.html"
    page.write_text(
        f"<html><head><title>{EVIL_TITLE}</title></head><body><p>"
        '<a href="https://records.example.test/x">x</a></p></body></html>'
    )
    added = _cli(cfg, "add", str(page), "--queue")
    assert added.exit_code == 0, added.output
    article = added.output.split("\t")[0]
    for args in (("status",), ("status", "--all"), ("status", article)):
        result = _cli(cfg, *args)
        assert result.exit_code == 0, result.output
        _no_controls(result.output)
        # the markup shows as text (a narrow table folds it: its start is enough)
        assert "[link=https:" in result.output
    plain = _cli(cfg, "status", "--all").output
    assert "Ruling ]0;pwned [link=https://evil.test/]x[/link] 31m" in plain
    as_json = _cli(cfg, "status", article, "--json")
    _no_controls(as_json.output)
    assert "\\u009b31m" in as_json.output  # escaped the JSON way: tools read it back


def test_error_lines_and_progress_strip_controls(tmp_path):
    assert CliRunner().invoke(cli, ["init", str(tmp_path / "a")]).exit_code == 0
    result = _cli(tmp_path / "a" / "config.toml", "add", "no\x1b]0;x\x07such.txt")
    assert result.exit_code == 4
    _no_controls(result.output)
    assert "Error: no]0;xsuch.txt: no such file" in result.output
    buf = io.StringIO()
    progress = PlainProgress(Console(file=buf, width=200))
    progress.start("capture", 1)
    progress.advance("failed: https://x.test/: HTTP 500 \x1b[2J\x07[bold]oops[/bold]")
    _no_controls(buf.getvalue())
    assert "[bold]oops[/bold]" in buf.getvalue()


# ---------------------------------------------------------------- 11: CSV formulas


@pytest.mark.parametrize(
    ("note", "cell"),
    [
        ('=HYPERLINK("https://evil.test","x")', '\'=HYPERLINK("https://evil.test","x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("fine note", "fine note"),
    ],
)
def test_csv_cells_cannot_be_formulas(note, cell):
    citation = {
        "id": 1,
        "url": "https://x.test/",
        "role": "cited",
        "capture_state": "archived",
        "rot": None,
        "dead": False,
        "snapshots": [{"captured_at": "2024-01-01T00:00:00Z", "warc": "w", "offset": 0}],
        "checks": [],
        "review": {"state": "flagged", "note": note},
    }
    row = csv_row(citation)
    assert row["note"] == cell
    assert row["offset"] == "0" and row["id"] == "1"


# ---------------------------------------------------------------- 13: the umask


@pytest.fixture
def umask077():
    old = os.umask(0o077)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_writers_respect_the_umask(tmp_path, umask077):
    from archiver.interop import cdxj, importer, wacz

    atomic_write(tmp_path / "a.json", "{}")
    with StagedFiles() as staged:
        staged.add(tmp_path / "b.csv", "x")
        staged.commit()
    cdxj._replace(tmp_path / "index.cdxj", ["x\n"])
    wacz._write(tmp_path / "e.wacz", lambda zf: zf.writestr("a", b"x"))
    src = tmp_path / "src.warc.gz"
    src.write_bytes(b"warc")
    copied, _ = importer.copy_into(src, tmp_path / "imported", "0" * 64)
    for path in ("a.json", "b.csv", "index.cdxj", "e.wacz"):
        assert _mode(tmp_path / path) == 0o600, path
    assert _mode(copied) == 0o600


def test_writers_keep_the_usual_mode_under_umask_022(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a.json", "{}")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a.json") == 0o644


def test_schema_3_adds_the_stat_column_to_an_older_store(tmp_path):
    from sqlalchemy import inspect, text

    from archiver.store import open_store
    from archiver.store.schema import SCHEMA_VERSION

    store = open_store(f"sqlite:///{tmp_path / 'old.db'}", create=True)
    try:
        with store.tx() as conn:  # a store as schema 2 left it
            conn.execute(text("ALTER TABLE intake_seen DROP COLUMN stat"))
            conn.execute(text("UPDATE meta SET value = '2' WHERE key = 'schema_version'"))
        assert store.schema_version() == 2
        # v3 (this column) and every later step
        assert store.migrate() == SCHEMA_VERSION - 2 and store.schema_version() == SCHEMA_VERSION
        with store.read() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("intake_seen")}
        assert "stat" in columns
    finally:
        store.close()
