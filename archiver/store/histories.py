"""What the manifest of an article is built from: its citations and their histories.

`article_histories` reads a chunk of articles in four queries (articles; citations
with their target and review; snapshots with their screenshot and the timestamp token
of their WARC file; checks) and returns the rows as they are. The manifest turns them
into the per-article document (`archiver.manifest.articles`): the store holds no opinion
on what a document looks like.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Row, and_, select

from archiver.store import schema as t

# a snapshot's screenshot (issue 20), read as shot_<key>
SCREENSHOT_KEYS = ("taken_at", "warc", "offset", "length", "record_id", "digest", "width", "height")
SNAPSHOT_KEYS = (
    "captured_at",
    "warc",
    "offset",
    "length",
    "record_id",
    "record_type",
    "status",
    "final_url",
    "redirects",
    "content_type",
    "payload_digest",
    "size",
    "title",
    "resources",
    "truncated",
    "good",
    "quality",
    "reasons",
    "evidence",
)
CHECK_KEYS = (
    "checked_at",
    "status",
    "final_url",
    "redirects",
    "classification",
    "similarity",
    "error",
    "reasons",
)


@dataclass(frozen=True, kw_only=True)
class ArticleHistories:
    """The rows of a chunk of articles, each list in document order.

    ``articles``: id, title, source, source_url, added_at. ``citations``: article_id, n,
    target_id, url_as_written, role, context; the target's url, capture_state, rot,
    dead, last_error; the review's state, note, by, at (None without a review row).
    ``snapshots``: target_id, SNAPSHOT_KEYS, shot_<SCREENSHOT_KEYS> (None without a
    screenshot), stamp_kind, stamp_tsa, stamp_gen_time (None without a token asked)
    and stamp_done. ``checks``: target_id and CHECK_KEYS.
    """

    articles: list[Row]
    citations: list[Row]
    snapshots: list[Row]
    checks: list[Row]


def _articles_query(ids: list[str]):
    a = t.article
    return select(a.c.id, a.c.title, a.c.source, a.c.source_url, a.c.added_at).where(
        a.c.id.in_(ids)
    )


def _citations_query(ids: list[str]):
    c, tg, rv = t.citation, t.target, t.review
    return (
        select(
            *(c.c[k] for k in ("article_id", "n", "target_id", "url_as_written", "role")),
            c.c.context,
            *(tg.c[k] for k in ("url", "capture_state", "rot", "dead", "last_error")),
            *(rv.c[k] for k in ("state", "note", "by", "at")),
        )
        .join(tg, tg.c.id == c.c.target_id)
        .outerjoin(rv, rv.c.citation_id == c.c.id)
        .where(c.c.article_id.in_(ids))
        .order_by(c.c.article_id, c.c.n)
    )


def _cited_targets(ids: list[str]):
    return select(t.citation.c.target_id).where(t.citation.c.article_id.in_(ids)).scalar_subquery()


def _snapshots_query(ids: list[str]):
    s, shot, ts = t.snapshot, t.screenshot, t.timestamp_token
    stamp = and_(ts.c.kind == "warc", ts.c.name == s.c.warc)  # the WARC file's token
    return (
        select(
            *(s.c[k] for k in ("target_id", *SNAPSHOT_KEYS)),
            *(shot.c[k].label(f"shot_{k}") for k in SCREENSHOT_KEYS),
            *(ts.c[k].label(f"stamp_{k}") for k in ("kind", "tsa", "gen_time")),
            ts.c.token.is_not(None).label("stamp_done"),
        )
        .select_from(s.outerjoin(shot, shot.c.snapshot_id == s.c.id).outerjoin(ts, stamp))
        .where(s.c.target_id.in_(_cited_targets(ids)))
        .order_by(s.c.target_id, s.c.captured_at, s.c.id)
    )


def _checks_query(ids: list[str]):
    ck = t.check
    return (
        select(*(ck.c[k] for k in ("target_id", *CHECK_KEYS)))
        .where(ck.c.target_id.in_(_cited_targets(ids)))
        .order_by(ck.c.target_id, ck.c.checked_at, ck.c.id)
    )


class HistoriesMixin:
    def article_histories(self, ids: list[str]) -> ArticleHistories:
        """The rows the documents of these articles are built from (unknown ids: none)."""
        with self.read() as conn:
            return ArticleHistories(
                articles=conn.execute(_articles_query(ids)).all(),
                citations=conn.execute(_citations_query(ids)).all(),
                snapshots=conn.execute(_snapshots_query(ids)).all(),
                checks=conn.execute(_checks_query(ids)).all(),
            )
