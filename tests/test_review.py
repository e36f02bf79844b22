"""Editors' reviews: the store mixin, the service (ledger + manifests) and `archive review`."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from archiver.app import App, init_archive
from archiver.cli import _login_name, cli
from archiver.config import load_settings
from archiver.errors import UsageError
from archiver.extract import extract_text
from archiver.ledger import ledger_for
from archiver.ledger.chain import GENESIS, line_hash
from archiver.ledger.events import Paired
from archiver.ledger.pairs import row_digest
from archiver.manifest.articles import article_doc
from archiver.manifest.review import parse_citation_ref, review_citation
from archiver.store import schema as t

NOW = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)
ARTICLE = """Two links

First https://example.org/one and then https://example.org/two were cited.
"""


@pytest.fixture
def app(tmp_path) -> App:
    init_archive(tmp_path)
    app = App(settings=load_settings(tmp_path / "config.toml"), clock=lambda: NOW)
    app.store.save_article(extract_text(ARTICLE), "a.txt")
    return app


def _article(app: App) -> str:
    return app.store.article_ids()[0]


def _run(app: App, *args: str):
    return CliRunner().invoke(
        cli, ["--config", str(app.settings.root / "config.toml"), "review", *args], obj={}
    )


@pytest.mark.parametrize(
    "ref, expected",
    [
        ("two-links:2", ("two-links", 2)),
        (" two-links:10 ", ("two-links", 10)),
        ("17", (None, 17)),
    ],
)
def test_parse_citation_ref(ref, expected):
    assert parse_citation_ref(ref) == expected


@pytest.mark.parametrize(
    "ref", ["", "two-links", "two-links:", "two-links:x", ":3", "two-links:0", "a:b:2x", "-1"]
)
def test_parse_citation_ref_rejects(ref):
    with pytest.raises(UsageError):
        parse_citation_ref(ref)


def test_set_review_by_number_and_by_raw_id(app):
    aid = _article(app)
    app.store.mark_clean([aid])
    got = app.store.set_review(aid, 2, "approved", "fine", "maria")
    assert {k: got[k] for k in ("article", "citation", "state", "note", "by", "at")} == {
        "article": aid,
        "citation": 2,
        "state": "approved",
        "note": "fine",
        "by": "maria",
        "at": NOW,
    }
    assert app.store.article_ids(dirty_only=True) == [aid]
    again = app.store.set_review(None, got["citation_id"], "flagged", None, None)
    assert (again["article"], again["citation"], again["state"]) == (aid, 2, "flagged")
    review = article_doc(app.store, aid)["citations"][1]["review"]
    assert review == {"state": "flagged", "note": None, "by": None, "at": "2026-11-25T21:00:00Z"}


@pytest.mark.parametrize("article, n", [("two-links", 9), ("nope", 1), (None, 999)])
def test_set_review_unknown_citation(app, article, n):
    with pytest.raises(UsageError, match="no citation"):
        app.store.set_review(article, n, "approved", None, None)


def test_set_review_refuses_unknown_state(app):
    with pytest.raises(UsageError):
        app.store.set_review(_article(app), 1, "maybe", None, None)


def test_set_review_creates_a_missing_review_row(app):
    aid = _article(app)
    with app.store.tx() as conn:
        conn.execute(t.review.delete())
    app.store.set_review(aid, 1, "approved", None, "ed")
    with app.store.read() as conn:
        assert conn.execute(select(t.review.c.state)).scalars().all() == ["approved"]


def test_review_citation_ledgers_and_rewrites_manifests(app):
    aid = _article(app)
    got = review_citation(app, f"{aid}:1", "flagged", note="a bot wall", by="maria")
    folder = app.settings.manifests_path
    assert [p.name for p in got["paths"]] == [
        f"{aid}.json",
        f"{aid}.csv",
        f"{aid}.html",
        "index.html",
    ]
    doc = json.loads((folder / f"{aid}.json").read_text("utf-8"))
    assert doc["citations"][0]["review"]["state"] == "flagged"
    assert "a bot wall" in (folder / f"{aid}.html").read_text("utf-8")
    lines = (folder / "ledger.jsonl").read_bytes().splitlines()
    line = json.loads(lines[-1])
    assert line == {
        "seq": 1,
        "at": "2026-11-25T21:00:00.000000Z",
        "event": "review",
        "article": aid,
        "citation": 1,
        "state": "flagged",
        "note": "a bot wall",
        "by": "maria",
        "row": got["citation_id"],
        "digest": row_digest(Paired.REVIEW, app.store.read_paired(Paired.REVIEW, [1])[0]),
        "prev": GENESIS,
    }
    review_citation(app, f"{aid}:2", "approved")
    second = json.loads((folder / "ledger.jsonl").read_bytes().splitlines()[1])
    assert second["prev"] == line_hash(lines[0]) and second["seq"] == 2
    assert ledger_for(app.settings).problems() == []


def test_cli_review_approve_and_flag(app):
    aid = _article(app)
    res = _run(app, f"{aid}:2", "--approve", "--by", "maria", "--note", "checked in print")
    assert res.exit_code == 0, res.output
    assert res.output.strip() == f"{aid}:2 approved by maria: checked in print"
    res = _run(app, f"{aid}:2", "--flag")
    assert res.exit_code == 0, res.output
    review = article_doc(app.store, aid)["citations"][1]["review"]
    assert review["state"] == "flagged" and review["note"] is None  # a new decision, new note
    assert review["by"] == _login_name()  # the login name when there is one, else None


@pytest.mark.parametrize("flags", [[], ["--approve", "--flag"]])
def test_cli_review_needs_exactly_one_decision(app, flags):
    res = _run(app, f"{_article(app)}:1", *flags)
    assert res.exit_code == 2
    assert "exactly one of --approve or --flag" in res.output


@pytest.mark.parametrize("ref", ["two-links:9", "nope:1", "two-links:x"])
def test_cli_review_bad_citation_is_a_usage_error(app, ref):
    res = _run(app, ref, "--approve")
    assert res.exit_code == 2
    assert res.output.startswith("Error: ")
    assert not (app.settings.manifests_path / "ledger.jsonl").exists()
