"""Manifests for editors: per-article JSON, CSV and HTML, the index page, the ledger.

`refresh()` is what capture, check, add and review call after every change; it rewrites
only the articles it is given (or the dirty ones) plus the index, each file atomically.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from archiver.errors import UsageError
from archiver.interop.robust import replay_prefix
from archiver.manifest import documents, history, html, view
from archiver.manifest.chart import stacked_chart
from archiver.manifest.files import atomic_write, folder_lock
from archiver.manifest.ledger import LEDGER_NAME, Ledger

# article ids are slugs; anything else must not become a file name
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,47}")


def ledger_for(settings) -> Ledger:
    return Ledger(settings.manifests_path / LEDGER_NAME)


def _replay_prefix(settings) -> str | None:
    # `archive replay` (pywb) URLs once [replay] base_url is set; while it is empty the
    # "cite this instead" snippet names the WARC file and offset (archiver.interop.robust).
    return replay_prefix(settings.replay.base_url)


def write_article(
    folder: Path, doc: dict[str, Any], *, generated_at: str, replay_prefix: str | None = None
) -> list[Path]:
    """<id>.json, <id>.csv and <id>.html for one article document."""
    article_id = doc["article"]["id"]
    if not _SAFE_ID.fullmatch(article_id):
        raise UsageError(f"article id {article_id!r} cannot be a file name")
    page = html.render_article(
        view.article_view(doc, generated_at=generated_at, replay_prefix=replay_prefix)
    )
    return [
        atomic_write(folder / f"{article_id}.json", documents.json_text(doc)),
        atomic_write(folder / f"{article_id}.csv", documents.csv_text(doc)),
        atomic_write(folder / f"{article_id}.html", page),
    ]


def write_index(app, folder: Path, *, generated_at: str) -> Path:
    articles = history.article_counts(history.citation_rows(app.store))
    events, weights = history.check_events(app.store)
    points = history.resample(history.rot_series(events, weights))
    chart = stacked_chart(points, view.ROT_CLASSES) if points else None
    page = html.render_index(
        articles=articles, totals=history.totals(articles), chart=chart, generated_at=generated_at
    )
    return atomic_write(folder / "index.html", page)


def refresh(app, article_ids: list[str] | None = None) -> list[Path]:
    """Rewrite the given articles' manifests (None: every dirty one), then index.html.

    Returns the paths written. Articles are marked clean only after their files are in
    place, so a crash midway leaves them dirty for the next refresh.
    """
    folder = app.settings.manifests_path
    generated_at = app.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
    replay = _replay_prefix(app.settings)
    with folder_lock(folder):
        ids = app.store.article_ids(dirty_only=True) if article_ids is None else list(article_ids)
        written: list[Path] = []
        for article_id in ids:
            doc = app.store.article_doc(article_id)
            written += write_article(folder, doc, generated_at=generated_at, replay_prefix=replay)
        written.append(write_index(app, folder, generated_at=generated_at))
        if ids:
            app.store.mark_clean(ids)
    return written


def export(app, article_id: str, fmt: str) -> str:
    """One article's manifest as CSV or JSON text, for `archive export`."""
    doc = app.store.article_doc(article_id)
    if fmt == "csv":
        return documents.csv_text(doc)
    if fmt == "json":
        return documents.json_text(doc)
    raise UsageError(f"export format must be csv or json, not {fmt!r}")


__all__ = ["Ledger", "export", "ledger_for", "refresh", "write_article", "write_index"]
