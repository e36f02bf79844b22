"""Articles for the editors' web app: filtered, searched and paged in the database.

A page is one query for the ids and one aggregate over the citations of that page
only (plus a count; a search, whose matches are few, takes all its ids in one pass and
counts them itself instead of scanning the cited URLs a second time for the count).
The ids walk the articles newest first along ``ix_article_added`` and test each with a
correlated EXISTS over its citations, stopping at the page's end: a common filter
("needs review") costs about a page. A search of cited URLs is an uncorrelated
``IN (SELECT article_id …)``: one pass over the targets, instead of one probe per
article. At 10 000 articles / 100 000 citations `python -m bench.serve` measures both.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import and_, exists, func, or_, select

from archiver.states import ROTTED, CaptureState, ReviewState, Rot
from archiver.store import schema as t


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


def _cited(where, *, correlated: bool):
    """The article has a citation matching ``where`` (on its target or its review)."""
    c, tg, rv = t.citation, t.target, t.review
    joined = c
    if tg in _tables(where):
        joined = joined.join(tg, tg.c.id == c.c.target_id)
    if rv in _tables(where):  # outer: citations stored before reviews existed have none
        joined = joined.outerjoin(rv, rv.c.citation_id == c.c.id)
    if correlated:
        return exists(
            select(c.c.id).select_from(joined).where(c.c.article_id == t.article.c.id, where)
        )
    return t.article.c.id.in_(select(c.c.article_id).select_from(joined).where(where))


def _tables(clause) -> set:
    return {col.table for col in clause.get_children() if hasattr(col, "table")} | {
        table for child in clause.get_children() for table in _tables(child)
    }


def _citation_condition(kind: ArticleFilter):
    tg, rv = t.target, t.review
    return {
        ArticleFilter.ALL: None,
        ArticleFilter.NEEDS_REVIEW: or_(rv.c.state.is_(None), rv.c.state == ReviewState.PENDING),
        ArticleFilter.FLAGGED: rv.c.state == ReviewState.FLAGGED,
        ArticleFilter.ROTTED: tg.c.rot.in_(ROTTED),
        ArticleFilter.FAILED: tg.c.capture_state == CaptureState.FAILED,
        ArticleFilter.DEAD: tg.c.dead.is_(True),
        ArticleFilter.BLOCKED: tg.c.rot == Rot.BLOCKED,
    }[kind]


def _has(col, needle: str, *, sqlite: bool):
    # SQLite's LIKE already ignores ASCII case, and lower() on every row costs 4x the
    # scan; PostgreSQL's ILIKE ignores case. Wildcards in the needle are literal.
    if sqlite:
        return col.contains(needle, autoescape=True)
    return col.icontains(needle, autoescape=True)


def _where(kind: ArticleFilter, search: str | None, *, correlated: bool, sqlite: bool) -> list:
    """The filter, and a case-insensitive substring of the article's id, title or URL or
    of a cited URL (which holds its host)."""
    a, tg = t.article, t.target
    where = []
    condition = _citation_condition(kind)
    if condition is not None:
        where.append(_cited(condition, correlated=correlated))
    if search:
        cited = _has(tg.c.url, search, sqlite=sqlite)
        where.append(
            or_(
                _has(a.c.id, search, sqlite=sqlite),
                _has(a.c.title, search, sqlite=sqlite),
                _has(a.c.source_url, search, sqlite=sqlite),
                _cited(cited, correlated=False),  # a LIKE matches few: one pass, not a probe each
            )
        )
    return where


class BrowseMixin:
    def article_page(
        self, kind: ArticleFilter, search: str | None, *, offset: int, limit: int
    ) -> ArticlePage:
        """Newest first; ``search`` matches id, title, source URL, cited URLs and hosts."""
        a = t.article
        ids_q = (
            select(a.c.id)
            .where(*_where(kind, search, correlated=True, sqlite=self.is_sqlite))
            .order_by(a.c.added_at.desc(), a.c.id.desc())
        )
        # a filter's EXISTS probes cost less than one pass over every citation (measured)
        count_where = _where(kind, search, correlated=True, sqlite=self.is_sqlite)
        count_q = select(func.count()).select_from(a).where(*count_where)
        with self.read() as conn:
            if search:
                # a search reads every cited URL once: take all its (few) ids in that one
                # pass and count them here, instead of a second pass for the count
                found = [r.id for r in conn.execute(ids_q)]
                total, ids = len(found), found[offset : offset + limit]
            else:
                total = conn.execute(count_q).scalar_one()
                ids = [r.id for r in conn.execute(ids_q.offset(offset).limit(limit))]
            counts = {r.id: r for r in conn.execute(_counts_query(ids))} if ids else {}
        return ArticlePage(rows=[_row(counts[i]) for i in ids], total=total)

    def snapshot_texts(self, article_id: str, n: int) -> list[str | None]:
        """The main text of each snapshot of citation ARTICLE:N, oldest first."""
        with self.read() as conn:
            return [r.text for r in conn.execute(_snapshot_texts_query(article_id, n))]


def _snapshot_texts_query(article_id: str, n: int):
    c, s = t.citation, t.snapshot
    return (
        select(s.c.text)
        .join(c, c.c.target_id == s.c.target_id)
        .where(c.c.article_id == article_id, c.c.n == n)
        .order_by(s.c.captured_at, s.c.id)  # the order of the article document's snapshots
    )


def _counts_query(ids: list[str]):
    a, c, tg, rv = t.article, t.citation, t.target, t.review
    pending = ReviewState.PENDING

    def count(cond):
        return func.coalesce(func.sum(cond.cast(t.Integer)), 0)

    return (
        select(
            a.c.id,
            a.c.title,
            a.c.source_url,
            a.c.added_at,
            func.count(c.c.id).label("citations"),
            count(tg.c.capture_state == CaptureState.ARCHIVED).label("archived"),
            count(tg.c.capture_state == CaptureState.FAILED).label("failed"),
            count(tg.c.rot.in_(ROTTED)).label("rotted"),
            count(tg.c.dead.is_(True)).label("dead"),
            count(and_(c.c.id.is_not(None), func.coalesce(rv.c.state, pending) == pending)).label(
                "pending_review"
            ),
            count(rv.c.state == ReviewState.FLAGGED).label("flagged"),
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
