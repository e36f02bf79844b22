"""Editors' reviews of citations: approve or flag, with a note and who decided."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from archiver.errors import UsageError
from archiver.states import ReviewState
from archiver.store import schema as t


class ReviewsMixin:
    def _citation_for_review(self, conn, article_id: str | None, n: int):
        """ARTICLE:N (N = the citation's number in the manifest) or a raw citation id."""
        c = t.citation
        q = select(c.c.id, c.c.article_id, c.c.n)
        if article_id is None:
            row = conn.execute(q.where(c.c.id == n)).first()
            where = f"citation id {n}"
        else:
            row = conn.execute(q.where(c.c.article_id == article_id, c.c.n == n)).first()
            where = f"citation {article_id}:{n}"
        if row is None:
            raise UsageError(f"no {where} in this archive (see `archive status ARTICLE`)")
        return row

    def citation_for_review(self, article_id: str | None, n: int):
        """The citation ARTICLE:N (or id N) names; UsageError if there is none."""
        with self.read() as conn:
            return self._citation_for_review(conn, article_id, n)

    def set_review(
        self,
        article_id: str | None,
        n: int,
        state: ReviewState | str,
        note: str | None,
        by: str | None,
        seq: int | None = None,
    ) -> dict[str, Any]:
        """Record an editor's decision on one citation; its article's manifests go dirty.

        ``article_id=None`` means ``n`` is the raw citation id. The note is part of the
        decision: a review without one clears the previous note (the ledger keeps history).
        ``seq``: the seq of the decision's ledger line (`ledger.pairs`).
        """
        if state not in tuple(ReviewState):
            raise UsageError(f"review state must be one of {', '.join(ReviewState)}")
        now = self.clock()
        values = {"state": state, "note": note, "by": by, "at": now}
        with self.tx() as conn:
            cit = self._citation_for_review(conn, article_id, n)
            rv = t.review
            row = {**values, "ledger_seq": seq}
            done = conn.execute(rv.update().where(rv.c.citation_id == cit.id).values(**row))
            if done.rowcount == 0:  # citations stored before reviews existed have no row
                conn.execute(rv.insert().values(citation_id=cit.id, **row))
            conn.execute(
                t.article.update()
                .where(t.article.c.id == cit.article_id)
                .values(manifest_dirty=True)
            )
        return {"article": cit.article_id, "citation": cit.n, "citation_id": cit.id, **values}
