"""Articles for the editors' web app: filtered, searched and paged in the database.

A page is one query for the ids (filters are EXISTS subqueries over the article's
citations, so the database stops at the first match) and one aggregate over the
citations of that page only: the cost follows the page size, not the archive's.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import and_, exists, func, or_, select

from archiver.store import schema as t

ROTTED = ("gone", "blocked", "soft-404", "server-error", "unreachable", "drifted")


class ArticleFilter(enum.StrEnum):
    ALL = "all"
    NEEDS_REVIEW = "needs-review"  # a citation nobody approved or flagged yet
    FLAGGED = "flagged"
    ROTTED = "rotted"
    FAILED = "failed"  # the last capture attempt failed
    DEAD = "dead"
    BLOCKED = "blocked"


@dataclass(frozen=True, kw_only=True)
class ArticleRow:
    id: str
    title: str
    source_url: str | None
    added_at: object
    citations: int
    archived: int
    failed: int
    rotted: int
    dead: int
    pending_review: int
    flagged: int


@dataclass(frozen=True, kw_only=True)
class ArticlePage:
    rows: list[ArticleRow]
    total: int


def _cited(*where):
    """EXISTS a citation of the article (joined to its target and review) matching where."""
    c, tg, rv = t.citation, t.target, t.review
    return exists(
        select(c.c.id)
        .select_from(c.join(tg, tg.c.id == c.c.target_id).outerjoin(rv, rv.c.citation_id == c.c.id))
        .where(c.c.article_id == t.article.c.id, *where)
    )


def _filter_clause(kind: ArticleFilter):
    tg, rv = t.target, t.review
    return {
        ArticleFilter.ALL: None,
        ArticleFilter.NEEDS_REVIEW: _cited(or_(rv.c.state.is_(None), rv.c.state == "pending")),
        ArticleFilter.FLAGGED: _cited(rv.c.state == "flagged"),
        ArticleFilter.ROTTED: _cited(tg.c.rot.in_(ROTTED)),
        ArticleFilter.FAILED: _cited(tg.c.capture_state == "failed"),
        ArticleFilter.DEAD: _cited(tg.c.dead.is_(True)),
        ArticleFilter.BLOCKED: _cited(tg.c.rot == "blocked"),
    }[kind]


def _search_clause(text: str):
    """Case-insensitive substring of the article's id, title or URL, or a cited URL or host."""
    a, tg = t.article, t.target
    needle = text.lower()

    def has(col):
        return func.lower(col).contains(needle, autoescape=True)

    return or_(
        has(a.c.id), has(a.c.title), has(a.c.source_url), _cited(or_(has(tg.c.url), has(tg.c.host)))
    )


class BrowseMixin:
    def article_page(
        self, kind: ArticleFilter, search: str | None, *, offset: int, limit: int
    ) -> ArticlePage:
        """Newest first; ``search`` matches id, title, source URL, cited URLs and hosts."""
        a = t.article
        where = [
            w for w in (_filter_clause(kind), search and _search_clause(search)) if w is not None
        ]
        ids_q = select(a.c.id).where(*where).order_by(a.c.added_at.desc(), a.c.id.desc())
        count_q = select(func.count()).select_from(a).where(*where)
        with self.read() as conn:
            total = conn.execute(count_q).scalar_one()
            ids = [r.id for r in conn.execute(ids_q.offset(offset).limit(limit))]
            counts = {r.id: r for r in conn.execute(_counts_query(ids))} if ids else {}
        return ArticlePage(rows=[_row(counts[i]) for i in ids], total=total)


def _counts_query(ids: list[str]):
    a, c, tg, rv = t.article, t.citation, t.target, t.review

    def count(cond):
        return func.coalesce(func.sum(cond.cast(t.Integer)), 0)

    return (
        select(
            a.c.id,
            a.c.title,
            a.c.source_url,
            a.c.added_at,
            func.count(c.c.id).label("citations"),
            count(tg.c.capture_state == "archived").label("archived"),
            count(tg.c.capture_state == "failed").label("failed"),
            count(tg.c.rot.in_(ROTTED)).label("rotted"),
            count(tg.c.dead.is_(True)).label("dead"),
            count(
                and_(c.c.id.is_not(None), func.coalesce(rv.c.state, "pending") == "pending")
            ).label("pending_review"),
            count(rv.c.state == "flagged").label("flagged"),
        )
        .select_from(
            a.outerjoin(c, c.c.article_id == a.c.id)
            .outerjoin(tg, tg.c.id == c.c.target_id)
            .outerjoin(rv, rv.c.citation_id == c.c.id)
        )
        .where(a.c.id.in_(ids))
        .group_by(a.c.id, a.c.title, a.c.source_url, a.c.added_at)
    )


def _row(r) -> ArticleRow:
    return ArticleRow(
        id=r.id,
        title=r.title,
        source_url=r.source_url,
        added_at=r.added_at,
        citations=int(r.citations),
        archived=int(r.archived),
        failed=int(r.failed),
        rotted=int(r.rotted),
        dead=int(r.dead),
        pending_review=int(r.pending_review),
        flagged=int(r.flagged),
    )
