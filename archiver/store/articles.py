"""Articles and their citations: intake, identity, status; the manifest's dirty flags."""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from archiver import urls
from archiver.errors import UsageError
from archiver.states import ROTTED, CaptureState, ReviewState
from archiver.store import schema as t

if TYPE_CHECKING:  # the extractors (lxml, bs4, …) are not needed to read the store
    from archiver.extract import Extraction

logger = logging.getLogger(__name__)

_CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        [
            *("a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o"),
            *("p", "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "_", "y", "_", "e"),
            *("yu", "ya"),
        ],
        strict=True,
    )
)
_CYRILLIC.update({"ъ": "", "ь": ""})  # hard and soft signs are not spelled out
_STOP = {"the", "a", "an", "of", "to", "in", "on", "for", "and", "or", "is", "at", "by", "with"}


def _ascii_words(title: str) -> list[str]:
    title = "".join(_CYRILLIC.get(ch, ch) for ch in title.lower())
    title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return [w for w in re.findall(r"[a-z0-9]+", title) if w not in _STOP]


def slug_for(title: str, sha256: str) -> str:
    """A short, human-typable id: up to three title words, else 'article-<hash>'."""
    words = _ascii_words(title)[:3]
    slug = "-".join(words)[:32].strip("-")
    return slug or f"article-{sha256[:6]}"


def same_article(rows, ex: Extraction, source: str) -> str | None:
    """Of the articles with ``ex``'s source URL (oldest first), the one it updates.

    The same source given again (the file, the URL) or the same text updates its
    article, and so does a page fetched from that URL (or naming it as its own site's
    canonical URL). A different file merely *naming* the URL (a ``<link rel=canonical>``,
    an "Original url:" line) updates the article only when it bears the same title — a
    new version of the same draft — and says so in the log; any other such file becomes
    an article of its own, with a warning. So no saved page, dropped file or feed entry
    can retitle another article, and none adds citations to it unseen.
    """
    for row in rows:
        if row.source == source or row.sha256 == ex.sha256:
            return row.id
    if not rows:
        return None
    first = rows[0]
    if ex.source_fetched:
        return first.id
    if first.title == ex.title:
        logger.warning(
            "%s names %s as its URL and bears the same title: updating article %s (added from %s)",
            source,
            ex.source_url,
            first.id,
            first.source,
        )
        return first.id
    logger.warning(
        "%s names %s as its URL, the URL of article %s (added from %s) but bears another"
        " title: kept as a separate article, not merged",
        source,
        ex.source_url,
        first.id,
        first.source,
    )
    return None


class ArticlesMixin:
    # ------------------------------------------------------------ intake

    def _find_article(self, conn, ex: Extraction, source: str) -> str | None:
        """The article this extraction updates, if any (see `same_article`)."""
        a = t.article
        if ex.source_url:
            rows = conn.execute(
                select(a.c.id, a.c.source, a.c.sha256, a.c.title)
                .where(a.c.source_url == ex.source_url)
                .order_by(a.c.added_at, a.c.id)
            ).all()
            return same_article(rows, ex, source)
        row = conn.execute(
            select(a.c.id).where(a.c.sha256 == ex.sha256, a.c.source_url.is_(None))
        ).first()
        return row.id if row else None

    def _unique_slug(self, conn, base: str) -> str:
        taken = {
            r.id
            for r in conn.execute(select(t.article.c.id).where(t.article.c.id.like(f"{base}%")))
        }
        if base not in taken:
            return base
        n = 2
        while f"{base}-{n}" in taken:
            n += 1
        return f"{base}-{n}"

    def _target_id(self, conn, url: str) -> tuple[int, bool]:
        row = conn.execute(select(t.target.c.id).where(t.target.c.url == url)).first()
        if row:
            return row.id, False
        now = self.clock()
        res = conn.execute(
            t.target.insert().values(
                url=url,
                host=urls.host_of(url),
                capture_state=CaptureState.PENDING,
                attempts=0,
                dead=False,
                consecutive_failures=0,
                recapture=False,
                next_capture_at=now,
                created_at=now,
            )
        )
        return res.inserted_primary_key[0], True

    def save_article(self, ex: Extraction, source: str) -> tuple[str, bool, int]:
        """Store an article and its citations in one transaction.

        Returns (article id, created, new citations). The same article (same source
        URL, or without one the same text) is updated, never duplicated; citations
        already stored keep their number and review.
        """
        now = self.clock()
        with self.tx() as conn:
            # find-or-insert of articles and targets: one intake at a time, on every worker
            self.lock(conn, "intake")
            article_id = self._find_article(conn, ex, source)
            created = article_id is None
            values = dict(
                source=source,
                source_url=ex.source_url,
                kind=ex.kind,
                title=ex.title,
                updated_at=now,
                sha256=ex.sha256,
                manifest_dirty=True,
            )
            if created:
                article_id = self._unique_slug(conn, slug_for(ex.title, ex.sha256))
                conn.execute(t.article.insert().values(id=article_id, added_at=now, **values))
            else:
                conn.execute(
                    t.article.update().where(t.article.c.id == article_id).values(**values)
                )
            c = t.citation
            known = {
                r.target_id
                for r in conn.execute(select(c.c.target_id).where(c.c.article_id == article_id))
            }
            n = conn.execute(
                select(func.coalesce(func.max(c.c.n), 0)).where(c.c.article_id == article_id)
            ).scalar_one()
            added = 0
            for cit in ex.citations:
                target_id, _new = self._target_id(conn, cit.url)
                if target_id in known:
                    continue
                known.add(target_id)
                n += 1
                added += 1
                res = conn.execute(
                    c.insert().values(
                        article_id=article_id,
                        n=n,
                        target_id=target_id,
                        url_as_written=cit.url_as_written,
                        position=cit.position,
                        context=cit.context,
                        role=cit.role,
                    )
                )
                conn.execute(
                    t.review.insert().values(
                        citation_id=res.inserted_primary_key[0], state=ReviewState.PENDING
                    )
                )
        return article_id, created, added

    # ------------------------------------------------------------ reading

    def article_row(self, article_id: str):
        with self.read() as conn:
            row = conn.execute(select(t.article).where(t.article.c.id == article_id)).first()
        if row is None:
            raise UsageError(f"no article {article_id!r} in this archive (see `archive status`)")
        return row

    def article_ids(self, *, dirty_only: bool = False) -> list[str]:
        q = select(t.article.c.id).order_by(t.article.c.added_at, t.article.c.id)
        if dirty_only:
            q = q.where(t.article.c.manifest_dirty.is_(True))
        with self.read() as conn:
            return [r.id for r in conn.execute(q)]

    def mark_clean(self, article_ids: list[str]) -> None:
        with self.tx() as conn:
            conn.execute(
                t.article.update()
                .where(t.article.c.id.in_(article_ids))
                .values(manifest_dirty=False)
            )

    def mark_dirty_for_target(self, conn, target_id: int) -> None:
        self.mark_dirty_for_targets(conn, [target_id])

    def mark_dirty_for_targets(self, conn, target_ids: list[int]) -> None:
        """Mark the manifests of every article citing these targets for rewriting."""
        a = t.article
        sub = select(t.citation.c.article_id).where(t.citation.c.target_id.in_(target_ids))
        # rows locked in id order (PostgreSQL): two workers storing results for targets
        # that the same articles cite never wait on each other in a cycle (a deadlock)
        clean = (
            select(a.c.id)
            .where(a.c.id.in_(sub), a.c.manifest_dirty.is_(False))
            .order_by(a.c.id)
            .with_for_update()
        )
        ids = [r.id for r in conn.execute(clean)]
        if ids:
            conn.execute(a.update().where(a.c.id.in_(ids)).values(manifest_dirty=True))

    def status_rows(self) -> list[dict[str, Any]]:
        """One row per article: id, title, source_url, citations, archived, rotted, dead."""
        a, c, tg = t.article, t.citation, t.target

        def total(cond):  # how many rows meet ``cond``
            return func.sum(cond.cast(t.Integer))

        q = (
            select(
                a.c.id,
                a.c.title,
                a.c.source_url,
                func.count(c.c.id).label("citations"),
                total(tg.c.capture_state == CaptureState.ARCHIVED).label("archived"),
                total(tg.c.capture_state == CaptureState.FAILED).label("failed"),
                total(tg.c.rot.in_(ROTTED)).label("rotted"),
                total(tg.c.dead).label("dead"),
            )
            .select_from(
                a.outerjoin(c, c.c.article_id == a.c.id).outerjoin(tg, tg.c.id == c.c.target_id)
            )
            .group_by(a.c.id, a.c.title, a.c.source_url, a.c.added_at)
            .order_by(a.c.added_at, a.c.id)
        )
        with self.read() as conn:
            return [
                {
                    "id": r.id,
                    "title": r.title,
                    "source_url": r.source_url,
                    "citations": int(r.citations or 0),
                    "archived": int(r.archived or 0),
                    "failed": int(r.failed or 0),
                    "rotted": int(r.rotted or 0),
                    "dead": int(r.dead or 0),
                }
                for r in conn.execute(q)
            ]
