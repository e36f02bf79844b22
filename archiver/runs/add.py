"""`archive add`: read sources, extract citations, store them, capture them."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from archiver.errors import ArchiverError, SourceError, TooManyCitations
from archiver.extract import extract
from archiver.manifest import refresh
from archiver.net.fetch import Client
from archiver.runs.capture import capture_pending
from archiver.sources import read_source
from archiver.states import CitationRole

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AddResult:
    """One source added: its article, and how many citations (and how many new)."""

    source: str
    article_id: str
    created: bool
    citations: int
    new_citations: int
    capture: object | None = None


@dataclass(frozen=True)
class AddReport:
    """What `archive add` did: the sources added, those refused, the capture run."""

    results: list[AddResult]
    errors: list[str]
    capture: object | None = None


def add_one(
    app, spec: str, *, client: Client | None = None, follow_symlinks: bool = True
) -> AddResult:
    """Read, extract and store one source (one transaction); raises SourceError.

    ``client``: the HTTP client to fetch an article URL with (intake passes the one it
    fetched the feed with); by default a new one from the capture settings.
    ``follow_symlinks=False`` (watched folders): a file that is a symbolic link is refused.
    """
    source = read_source(
        spec,
        lambda: client or Client(app.settings.capture, clock=app.clock),
        follow_symlinks=follow_symlinks,
    )
    limit = app.settings.max_citations
    try:
        ex = extract(source.text, source.kind, source_url=source.url, max_citations=limit)
    except TooManyCitations as exc:
        raise TooManyCitations(f"{spec}: {exc}") from None
    cited = [c for c in ex.citations if c.role == CitationRole.CITED]
    if not ex.citations:
        raise SourceError(f"{spec}: no http(s) links found in the article")
    article_id, created, added = app.store.save_article(ex, source=spec)
    logger.info("article %s: %d citations (%d new)", article_id, len(ex.citations), added)
    return AddResult(
        spec, article_id, created, len(cited) + (len(ex.citations) - len(cited)), added
    )


def add_sources(app, specs: list[str], *, capture: bool, progress=None) -> AddReport:
    """Add every source; a bad one is reported and skipped, the others go on."""
    results: list[AddResult] = []
    errors: list[str] = []
    for spec in specs:
        try:
            results.append(add_one(app, spec))
        except SourceError as exc:
            errors.append(str(exc))
    ids = sorted({r.article_id for r in results})
    if ids:
        refresh(app, ids)
    captured = None
    if capture and ids:
        targets = app.store.target_ids_for_articles(ids)
        captured = capture_pending(app, progress=progress, target_ids=targets)
    return AddReport(results, errors, captured)


__all__ = ["AddReport", "AddResult", "ArchiverError", "add_sources"]
