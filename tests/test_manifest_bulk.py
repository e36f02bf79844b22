"""Rewriting many manifests at once: bulk reads, staged writes, the process pool, orjson.

Each path that makes `archive manifest` fast must write what the one-article-at-a-time
path writes, byte for byte.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import archiver.manifest as manifest
from archiver.errors import ArchiveWriteError, UsageError
from archiver.manifest import documents, files, refresh
from archiver.manifest.articles import article_doc, article_docs
from tests.test_manifest import (
    ARTICLE,
    T0,
    add_article,
    add_check,
    add_snapshot,
    make_app,
    rich_archive,
    target_of,
)

SECOND = """Another story

It cites the same post again: https://t.me/channel/2850 and a new page,
https://example.org/other — “non-ASCII” text stays UTF-8.
"""


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch):
    """Archives built a moment apart must not differ in their times (a second boundary
    between two builds made the byte-for-byte comparisons flaky)."""
    import tests.test_manifest as base
    from archiver.app import App
    from archiver.config import load_settings

    def make_app(root: Path) -> App:
        base.init_archive(root)
        return App(settings=load_settings(root / "config.toml"), clock=lambda: T0)

    monkeypatch.setattr(base, "make_app", make_app)


def two_articles(tmp_path: Path):
    """The rich article plus one citing one of its URLs (a shared target) and a new one."""
    app, aid = rich_archive(tmp_path)
    other = add_article(app, SECOND, source="second.txt")
    add_snapshot(app, target_of(app, other, 2), offset=777, title="Other — page")
    add_check(app, target_of(app, other, 2), T0, "gone", similarity=0.0, status=404)
    return app, [aid, other]


def tree(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# ------------------------------------------------------------------ bulk reads


def test_article_docs_are_article_doc_of_each_id_in_order(tmp_path):
    app, ids = two_articles(tmp_path)
    one_by_one = [article_doc(app.store, i) for i in reversed(ids)]
    assert list(article_docs(app.store, list(reversed(ids)))) == one_by_one
    assert list(article_docs(app.store, [*ids, "no-such-article"], chunk=1)) == [
        article_doc(app.store, i) for i in ids
    ]


def test_a_shared_target_gives_each_document_its_own_copies(tmp_path):
    app, ids = two_articles(tmp_path)
    first, second = article_docs(app.store, ids)
    mine = next(c for c in first["citations"] if c["url"] == "https://t.me/channel/2850")
    theirs = next(c for c in second["citations"] if c["url"] == "https://t.me/channel/2850")
    assert mine["snapshots"] == theirs["snapshots"] and mine["checks"] == theirs["checks"]
    theirs["snapshots"][0]["redirects"].append("https://changed.example/")
    theirs["checks"].clear()
    assert mine == next(
        c for c in article_doc(app.store, ids[0])["citations"] if c["url"] == mine["url"]
    )


def test_article_doc_of_an_unknown_article_is_a_usage_error(tmp_path):
    app = make_app(tmp_path)
    add_article(app, ARTICLE)
    with pytest.raises(UsageError, match="no article 'nope'"):
        article_doc(app.store, "nope")


# ------------------------------------------------------------------ the same bytes


def _serial_tree(tmp_path: Path, monkeypatch) -> dict[str, bytes]:
    app, ids = two_articles(tmp_path / "serial")
    monkeypatch.setattr(manifest, "BATCH", 1)
    monkeypatch.setattr(manifest, "PARALLEL_FROM", 10**9)
    refresh(app, ids)
    return tree(app.settings.manifests_path)


def test_batches_write_what_one_article_at_a_time_writes(tmp_path, monkeypatch):
    one_at_a_time = _serial_tree(tmp_path, monkeypatch)
    app, ids = two_articles(tmp_path / "batched")
    monkeypatch.setattr(manifest, "BATCH", 250)
    written = refresh(app, ids)
    assert [p.name for p in written] == [
        f"{ids[0]}.json",
        f"{ids[0]}.csv",
        f"{ids[0]}.html",
        f"{ids[1]}.json",
        f"{ids[1]}.csv",
        f"{ids[1]}.html",
        "index.html",
    ]
    assert tree(app.settings.manifests_path) == one_at_a_time


def test_the_process_pool_writes_the_same_files(tmp_path, monkeypatch):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: refresh never starts a pool")
    one_at_a_time = _serial_tree(tmp_path, monkeypatch)
    app, ids = two_articles(tmp_path / "pool")
    monkeypatch.setattr(manifest, "PARALLEL_FROM", 2)  # two batches of one article
    started = []
    real = manifest._processes
    monkeypatch.setattr(manifest, "_processes", lambda n: started.append(real(n)) or started[-1])
    written = refresh(app, ids)
    assert started == [2]
    assert [p.name for p in written][-1] == "index.html" and len(written) == 7
    assert tree(app.settings.manifests_path) == one_at_a_time
    assert app.store.article_ids(dirty_only=True) == []


def test_the_process_pool_passes_errors_back(tmp_path, monkeypatch):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: refresh never starts a pool")
    app, ids = two_articles(tmp_path)
    monkeypatch.setattr(manifest, "BATCH", 1)
    monkeypatch.setattr(manifest, "PARALLEL_FROM", 2)
    with pytest.raises(UsageError, match="no article 'nope'"):
        refresh(app, [ids[0], "nope"])
    assert {p.name for p in app.settings.manifests_path.iterdir()} <= {
        ".refresh.lock",
        f"{ids[0]}.json",
        f"{ids[0]}.csv",
        f"{ids[0]}.html",
    }


# ------------------------------------------------------------------ staged files


def test_staged_files_appear_only_on_commit(tmp_path):
    (tmp_path / "a.json").write_text("old")
    with files.StagedFiles() as staged:
        staged.add(tmp_path / "a.json", "new ✓")
        staged.add(tmp_path / "b.csv", b"x,y\r\n")
        staged._wait()  # written and fsynced, still under temp names
        assert (tmp_path / "a.json").read_text() == "old"
        assert not (tmp_path / "b.csv").exists()
        assert staged.commit() == [tmp_path / "a.json", tmp_path / "b.csv"]
    assert (tmp_path / "a.json").read_text("utf-8") == "new ✓"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.csv"]
    assert (tmp_path / "b.csv").stat().st_mode & 0o777 == 0o644


def test_staged_files_are_removed_when_the_batch_fails(tmp_path):
    (tmp_path / "a.json").write_text("old")
    with pytest.raises(RuntimeError), files.StagedFiles() as staged:
        for i in range(100):
            staged.add(tmp_path / f"{i}.json", "x" * 1000)
        raise RuntimeError("rendering failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_a_full_disk_while_staging_is_an_archive_write_error(tmp_path, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    with files.StagedFiles() as staged:
        staged.add(tmp_path / "a.json", "x")
        with pytest.raises(ArchiveWriteError, match=r"^cannot write a\.json: disk full$"):
            staged.commit()
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ JSON bytes


_FLOATS = st.one_of(
    st.none(),
    st.integers(0, 10_000).map(lambda k: round(k / 10_000, 4)),  # what check stores
    st.floats(allow_nan=True, allow_infinity=True),  # anything: json's spelling wins
)


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(st.characters(blacklist_categories=("Cs",))),
    similarity=_FLOATS,
    number=st.integers(0, 2**63 - 1),
)
def test_json_bytes_are_what_json_dumps_writes(text, similarity, number):
    doc = {
        "article": {"id": "a", "title": text, "n": number, "none": None, "ok": True},
        "citations": [
            {"context": text, "snapshots": [], "checks": [{"similarity": similarity}]},
            {"context": "", "snapshots": [{"redirects": [text, text]}], "checks": []},
        ],
    }
    old = (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    assert documents.json_bytes(doc) == old
    assert documents.json_text(doc) == old.decode("utf-8")
