"""Manifests for editors: per-article JSON, CSV and HTML, the index page, the ledger.

`refresh()` is what capture, check, add and review call after every change; it rewrites
only the articles it is given (or the dirty ones) plus the index, each file atomically.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import re
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat
from pathlib import Path
from typing import Any

from archiver.errors import UsageError
from archiver.manifest import documents, history, html, view
from archiver.manifest.articles import article_doc, article_docs
from archiver.manifest.chart import stacked_chart
from archiver.manifest.files import StagedFiles, atomic_write, folder_lock
from archiver.manifest.robust import replay_prefix
from archiver.store import open_store
from archiver.times import iso

# article ids are slugs; anything else must not become a file name
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,47}")


def _replay_prefix(settings) -> str | None:
    # `archive replay` (pywb) URLs once [replay] base_url is set; while it is empty the
    # "cite this instead" snippet names the WARC file and offset (archiver.manifest.robust).
    return replay_prefix(settings.replay.base_url)


def write_article(
    folder: Path,
    doc: dict[str, Any],
    *,
    generated_at: str,
    replay_prefix: str | None = None,
    staged: StagedFiles | None = None,
) -> list[Path]:
    """<id>.json, <id>.csv and <id>.html for one article document.

    With ``staged`` the files only join it (in place once it commits); without, they
    are in place when this returns.
    """
    article_id = doc["article"]["id"]
    if not _SAFE_ID.fullmatch(article_id):
        raise UsageError(f"article id {article_id!r} cannot be a file name")
    if staged is None:
        with StagedFiles() as own:
            write_article(
                folder, doc, generated_at=generated_at, replay_prefix=replay_prefix, staged=own
            )
            return own.commit()
    page = html.render_article(
        view.article_view(doc, generated_at=generated_at, replay_prefix=replay_prefix)
    )
    return [
        staged.add(folder / f"{article_id}.json", documents.json_bytes(doc)),
        staged.add(folder / f"{article_id}.csv", documents.csv_text(doc)),
        staged.add(folder / f"{article_id}.html", page),
    ]


def write_index(app, folder: Path, *, generated_at: str) -> Path:
    return atomic_write(folder / "index.html", index_page(app, generated_at=generated_at))


def index_page(app, *, generated_at: str) -> str:
    articles = history.article_counts(app.store.citation_rows())
    events, weights = app.store.check_events()
    points = history.resample(history.rot_series(events, weights))
    chart = stacked_chart(points, view.ROT_CLASSES) if points else None
    return html.render_index(
        articles=articles, totals=history.totals(articles), chart=chart, generated_at=generated_at
    )


# articles read, rendered and staged at a time: their files are fsynced together
BATCH = 250
# from this many batches on, the batches are shared by a pool of processes (one a core)
PARALLEL_FROM = 4
MAX_PROCESSES = 8


def refresh(app, article_ids: list[str] | None = None) -> list[Path]:
    """Rewrite the given articles' manifests (None: every dirty one), then index.html.

    Returns the paths written. Articles are marked clean only after their files are in
    place, so a crash midway leaves them dirty for the next refresh. Files go in place
    a batch at a time, each atomically (temp file, fsync, rename); from PARALLEL_FROM
    batches on they are written by a pool of processes, one per core (started with
    "spawn": a script calling this needs the ``if __name__ == "__main__":`` guard).
    """
    folder = app.settings.manifests_path
    generated_at = iso(app.clock())
    replay = _replay_prefix(app.settings)
    with folder_lock(folder):
        ids = app.store.article_ids(dirty_only=True) if article_ids is None else list(article_ids)
        batches = [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]
        written: list[Path] = []
        processes = _processes(len(batches))
        if processes > 1:
            with ProcessPoolExecutor(
                processes,
                mp_context=multiprocessing.get_context("spawn"),  # no fork of pools, threads
                initializer=_worker_start,
                initargs=(app.settings, app.store.signing_fingerprint),
            ) as pool:
                done = pool.map(_worker_batch, batches, repeat(generated_at), repeat(replay))
                index = index_page(app, generated_at=generated_at)  # while they work
                for paths in done:
                    written += paths
        else:
            for part in batches:
                written += write_batch(app.store, folder, part, generated_at, replay)
            index = index_page(app, generated_at=generated_at)
        written.append(atomic_write(folder / "index.html", index))
        if ids:
            app.store.mark_clean(ids)
    return written


def write_batch(
    store, folder: Path, ids: list[str], generated_at: str, replay: str | None
) -> list[Path]:
    """Read, render and put in place the manifests of a few articles (see `refresh`)."""
    with _gc_paused():
        docs = {d["article"]["id"]: d for d in article_docs(store, ids, chunk=len(ids))}
        with StagedFiles() as staged:
            for article_id in ids:
                # not read in bulk: unknown (article_doc's UsageError) or added since
                doc = docs.get(article_id) or article_doc(store, article_id)
                write_article(
                    folder, doc, generated_at=generated_at, replay_prefix=replay, staged=staged
                )
            return staged.commit()


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic GC while a batch builds its (acyclic, short-lived) documents and pages.

    Allocating ~10 000 dicts a batch set off collections that scanned the whole heap
    again and again (~30 % of reading the documents); the young objects left are
    collected once at the end instead.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
            gc.collect(0)


def _processes(batches: int) -> int:
    if batches < PARALLEL_FROM:
        return 1
    return max(1, min(MAX_PROCESSES, len(os.sched_getaffinity(0)), batches))


# a pool process's own store and manifests folder (set by _worker_start)
_worker_store = None
_worker_folder: Path | None = None


def _worker_start(settings, signing_fingerprint: str | None) -> None:
    # only reads: the store as the parent's App opened it, told the same signing key
    global _worker_store, _worker_folder
    _worker_store = open_store(settings.database_url)
    _worker_store.signing_fingerprint = signing_fingerprint
    _worker_folder = settings.manifests_path


def _worker_batch(ids: list[str], generated_at: str, replay: str | None) -> list[Path]:
    return write_batch(_worker_store, _worker_folder, ids, generated_at, replay)


def export(app, article_id: str, fmt: str) -> str:
    """One article's manifest as CSV or JSON text, for `archive export`."""
    doc = article_doc(app.store, article_id)
    if fmt == "csv":
        return documents.csv_text(doc)
    if fmt == "json":
        return documents.json_text(doc)
    raise UsageError(f"export format must be csv or json, not {fmt!r}")


__all__ = ["export", "refresh", "write_article", "write_index"]
