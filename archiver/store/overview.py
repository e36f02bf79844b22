"""What the manifests' index page is drawn from: every citation's state, every check.

Two narrow reads; `archiver.manifest.history` folds them into the per-article counts
and the rot-over-time chart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from archiver.store import schema as t


def _citations_query():
    a, c, tg, rv = t.article, t.citation, t.target, t.review
    return (
        select(
            a.c.id,
            a.c.title,
            a.c.source_url,
            a.c.added_at,
            c.c.n,
            tg.c.rot,
            tg.c.capture_state,
            tg.c.dead,
            rv.c.state.label("review"),
        )
        .select_from(
            a.outerjoin(c, c.c.article_id == a.c.id)
            .outerjoin(tg, tg.c.id == c.c.target_id)
            .outerjoin(rv, rv.c.citation_id == c.c.id)
        )
        .order_by(a.c.added_at, a.c.id, c.c.n)
    )


class OverviewMixin:
    def citation_rows(self) -> list[Any]:
        """One row per citation (or one empty row for an article without any): the
        article's id, title, source_url, added_at; the citation's n, its target's rot,
        capture_state and dead, its review state (``review``)."""
        with self.read() as conn:
            return conn.execute(_citations_query()).all()

    def check_events(self) -> tuple[list[tuple[int, datetime, str]], dict[int, int]]:
        """Every check (target, time, class) in time order, and how many citations each
        target has.

        One narrow row per check; at weekly checks of 10,000 targets that is ~0.5 M rows
        a year, read once per index rewrite.
        """
        c, ck = t.citation, t.check
        weights_q = select(c.c.target_id, func.count().label("n")).group_by(c.c.target_id)
        events_q = select(ck.c.target_id, ck.c.checked_at, ck.c.classification).order_by(
            ck.c.checked_at, ck.c.id
        )
        with self.read() as conn:
            weights = {r.target_id: r.n for r in conn.execute(weights_q)}
            events = [(r.target_id, r.checked_at, r.classification) for r in conn.execute(events_q)]
        return events, weights
