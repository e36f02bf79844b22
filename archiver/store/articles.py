"""Articles and their citations: intake, identity, and the per-article document."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, select

from archiver import urls
from archiver.errors import UsageError
from archiver.evidence.summary import manifest_evidence, stamp_summary
from archiver.store import schema as t
from archiver.times import iso

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
                capture_state="pending",
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
                        citation_id=res.inserted_primary_key[0], state="pending"
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
        bad = ("gone", "blocked", "soft-404", "server-error", "unreachable", "drifted")
        q = (
            select(
                a.c.id,
                a.c.title,
                a.c.source_url,
                func.count(c.c.id).label("citations"),
                func.sum((tg.c.capture_state == "archived").cast(t.Integer)).label("archived"),
                func.sum((tg.c.capture_state == "failed").cast(t.Integer)).label("failed"),
                func.sum(tg.c.rot.in_(bad).cast(t.Integer)).label("rotted"),
                func.sum(tg.c.dead.cast(t.Integer)).label("dead"),
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

    def article_doc(self, article_id: str) -> dict[str, Any]:
        """The per-article document of DESIGN.md ("Per-article JSON"), exactly."""
        for doc in self.article_docs([article_id]):
            return doc
        raise UsageError(f"no article {article_id!r} in this archive (see `archive status`)")

    def article_docs(self, article_ids: list[str], *, chunk: int = 500) -> Iterator[dict[str, Any]]:
        """`article_doc` of each id, in the order given (unknown ids are left out).

        Reads ``chunk`` articles at a time in four queries (articles; citations with
        their target and review; snapshots; checks) instead of four per article.
        """
        for i in range(0, len(article_ids), chunk):
            yield from self._article_docs(article_ids[i : i + chunk])

    def _article_docs(self, ids: list[str]) -> list[dict[str, Any]]:
        a, c, tg, s, ck, rv = t.article, t.citation, t.target, t.snapshot, t.check, t.review
        targets = select(c.c.target_id).where(c.c.article_id.in_(ids)).scalar_subquery()
        arts_q = select(a.c.id, a.c.title, a.c.source, a.c.source_url, a.c.added_at).where(
            a.c.id.in_(ids)
        )
        cits_q = (
            select(
                c.c.article_id,
                c.c.n,
                c.c.target_id,
                c.c.url_as_written,
                c.c.role,
                c.c.context,
                tg.c.url,
                tg.c.capture_state,
                tg.c.rot,
                tg.c.dead,
                tg.c.last_error,
                rv.c.state,
                rv.c.note,
                rv.c.by,
                rv.c.at,
            )
            .join(tg, tg.c.id == c.c.target_id)
            .outerjoin(rv, rv.c.citation_id == c.c.id)
            .where(c.c.article_id.in_(ids))
            .order_by(c.c.article_id, c.c.n)
        )
        shot, ts = t.screenshot, t.timestamp_token
        stamp = and_(ts.c.kind == "warc", ts.c.name == s.c.warc)  # the WARC file's token
        snaps_q = (
            select(
                *(s.c[k] for k in ("target_id", *SNAPSHOT_KEYS)),
                *(shot.c[k].label(f"shot_{k}") for k in SCREENSHOT_KEYS),
                *(ts.c[k].label(f"stamp_{k}") for k in ("kind", "tsa", "gen_time")),
                ts.c.token.is_not(None).label("stamp_done"),
            )
            .select_from(s.outerjoin(shot, shot.c.snapshot_id == s.c.id).outerjoin(ts, stamp))
            .where(s.c.target_id.in_(targets))
            .order_by(s.c.target_id, s.c.captured_at, s.c.id)
        )
        checks_q = (
            select(*(ck.c[k] for k in ("target_id", *CHECK_KEYS)))
            .where(ck.c.target_id.in_(targets))
            .order_by(ck.c.target_id, ck.c.checked_at, ck.c.id)
        )
        with self.read() as conn:
            arts = {r.id: r for r in conn.execute(arts_q).all()}
            cit_rows = conn.execute(cits_q).all()
            snap_rows = conn.execute(snaps_q).all()
            check_rows = conn.execute(checks_q).all()
        cits: dict[str, list] = {i: [] for i in arts}
        for r in cit_rows:
            cits[r.article_id].append(r)
        snaps: dict[int, list] = {}
        for r in snap_rows:
            snaps.setdefault(r.target_id, []).append(snapshot_doc(r, self.signing_fingerprint))
        checks: dict[int, list] = {}
        for r in check_rows:
            checks.setdefault(r.target_id, []).append(check_doc(r))
        none: list = []
        used: set[int] = set()

        def history(r) -> tuple[list, list]:
            # a target cited by several articles: each document gets its own copies
            ss, ks = snaps.get(r.target_id, none), checks.get(r.target_id, none)
            if r.target_id in used:
                return [_copy(x) for x in ss], [_copy(x) for x in ks]
            used.add(r.target_id)
            return list(ss), list(ks)

        docs = []
        for art in (arts[i] for i in ids if i in arts):
            citations = []
            for r in cits[art.id]:
                ss, ks = history(r)
                citations.append(
                    {
                        "id": r.n,
                        "url": r.url,
                        "url_as_written": r.url_as_written,
                        "role": r.role,
                        "context": r.context,
                        "capture_state": r.capture_state,
                        "rot": r.rot,
                        "dead": bool(r.dead),
                        "last_error": r.last_error,
                        "snapshots": ss,
                        "checks": ks,
                        "review": {
                            "state": r.state or "pending",
                            "note": r.note,
                            "by": r.by,
                            "at": iso(r.at),
                        },
                    }
                )
            docs.append(
                {
                    "article": {
                        "id": art.id,
                        "title": art.title,
                        "source": art.source,
                        "source_url": art.source_url,
                        "added_at": iso(art.added_at),
                    },
                    "citations": citations,
                }
            )
        return docs


def _copy(doc: dict[str, Any]) -> dict[str, Any]:
    copied = {**doc, "redirects": list(doc["redirects"]), "reasons": list(doc.get("reasons") or [])}
    if "screenshot" in doc:
        copied["screenshot"] = dict(doc["screenshot"])
    return copied


# a snapshot's screenshot in its document (issue 20; the key is there only when one is)
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


def snapshot_doc(r, signed_by: str | None = None) -> dict[str, Any]:
    """A snapshot row as the manifest shows it; ``signed_by``: the fingerprint of the
    archive's signing key, named in the evidence summary."""
    return {
        "captured_at": iso(r.captured_at),
        "warc": r.warc,
        "offset": r.offset,
        "length": r.length,
        "record_id": r.record_id,
        "record_type": r.record_type,
        "status": r.status,
        "final_url": r.final_url,
        "redirects": list(r.redirects or []),
        "content_type": r.content_type,
        "payload_digest": r.payload_digest,
        "size": r.size,
        "title": r.title,
        "resources": r.resources,
        "truncated": bool(r.truncated),
        "good": bool(r.good),
        "quality": r.quality,
        "reasons": list(r.reasons or []),
        **_screenshot_doc(r),
        **_evidence_key(r, signed_by),
    }


def _screenshot_doc(r) -> dict[str, Any]:
    if getattr(r, "shot_warc", None) is None:
        return {}
    shot = {k: getattr(r, f"shot_{k}") for k in SCREENSHOT_KEYS}
    shot["taken_at"] = iso(shot["taken_at"])
    return {"screenshot": shot}


def _evidence_key(r, signed_by: str | None) -> dict[str, Any]:
    """The optional ``evidence`` key: only snapshots captured with evidence have it;
    its ``timestamped_by`` is the token of the snapshot's WARC file, if one was asked."""
    stamp = None
    if getattr(r, "stamp_kind", None) is not None:
        stamp = stamp_summary(r.stamp_tsa, bool(r.stamp_done), r.stamp_gen_time)
    found = manifest_evidence(r.evidence, stamp=stamp, key_fingerprint=signed_by)
    return {} if found is None else {"evidence": found}


def check_doc(r) -> dict[str, Any]:
    return {
        "checked_at": iso(r.checked_at),
        "status": r.status,
        "final_url": r.final_url,
        "redirects": list(r.redirects or []),
        "classification": r.classification,
        "similarity": r.similarity,
        "error": r.error,
        "reasons": list(r.reasons or []),
    }
