"""An editor's review of one citation: store it, ledger it, rewrite the article's manifests."""

from __future__ import annotations

import re
from typing import Any

from archiver.errors import UsageError
from archiver.ledger.events import Paired
from archiver.ledger.pairs import write_paired
from archiver.states import ReviewState

_REF = re.compile(r"(?:(?P<article>[^:\s]+):)?(?P<n>[0-9]+)")


def parse_citation_ref(ref: str) -> tuple[str | None, int]:
    """'ARTICLE:N' → (ARTICLE, N); a bare number is the raw citation id → (None, id)."""
    m = _REF.fullmatch(ref.strip())
    if not m or int(m["n"]) < 1:
        raise UsageError(
            f"citation must be ARTICLE:N (N as in the manifest) or a citation id, not {ref!r}"
        )
    return m["article"], int(m["n"])


def review_citation(
    app, ref: str, state: ReviewState, *, note: str | None = None, by: str | None = None
) -> dict[str, Any]:
    """Approve or flag a citation; returns the review with the manifest paths written."""
    from archiver.ledger import ledger_for
    from archiver.manifest import refresh

    article_id, n = parse_citation_ref(ref)
    app.store.citation_for_review(article_id, n)  # a wrong one before the ledger's lock
    review: dict[str, Any] = {}

    def commit(seqs: list[int]) -> list[Any]:
        review.update(app.store.set_review(article_id, n, state, note, by, seq=seqs[0]))
        return app.store.read_paired(Paired.REVIEW, seqs)

    write_paired(ledger_for(app.settings, clock=app.clock), app.store, Paired.REVIEW, 1, commit)
    paths = refresh(app, [review["article"]])
    return {**review, "paths": paths}
