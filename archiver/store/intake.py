"""What intake keeps in the store: its sources (folders, feeds) and what each has seen.

One `intake_source` row per configured folder or feed: when it was last polled, when it
is due next, its conditional-GET validators, its failures and last error, and how many
articles it brought. One `intake_seen` row per file or feed entry ever looked at: its
fingerprint (a folder file's content hash), the article it became, or why it did not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from archiver.store import schema as t

src = t.intake_source
seen = t.intake_seen


class IntakeMixin:
    # ------------------------------------------------------------ sources

    def intake_sync(self, sources: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """Make sure each (kind, location) has a row; returns the rows in the same order."""
        with self.tx() as conn:
            for kind, location in sources:
                stmt = self.upsert(src).values(
                    kind=kind, location=location, failures=0, new_articles=0
                )
                conn.execute(stmt.on_conflict_do_nothing(index_elements=["kind", "location"]))
        rows = {(r["kind"], r["location"]): r for r in self.intake_rows()}
        return [rows[key] for key in sources]

    def intake_rows(self) -> list[dict[str, Any]]:
        """Every intake source row, by id."""
        with self.read() as conn:
            return [dict(r) for r in conn.execute(select(src).order_by(src.c.id)).mappings()]

    def intake_claim(
        self, source_id: int, *, now: datetime, until: datetime, worker: str | None = None
    ) -> bool:
        """Take a due source for ``worker`` (its next poll moves to ``until``, the lease's
        end); False if it is not due or another worker took it first."""
        due = or_(src.c.next_poll_at.is_(None), src.c.next_poll_at <= now)
        with self.tx() as conn:
            res = conn.execute(
                src.update()
                .where(src.c.id == source_id, due)
                .values(next_poll_at=until, claimed_by=worker)
            )
            return (res.rowcount or 0) == 1

    def intake_polled(self, source_id: int, *, added: int = 0, **values: Any) -> None:
        """Record one poll: the given columns, and ``added`` more articles to its count;
        the poll's claim, if any, ends."""
        with self.tx() as conn:
            conn.execute(
                src.update()
                .where(src.c.id == source_id)
                .values(new_articles=src.c.new_articles + added, claimed_by=None, **values)
            )

    # ------------------------------------------------------------ seen files and entries

    def intake_seen(self, source_id: int) -> dict[str, dict[str, Any]]:
        """key → its seen row, for one source."""
        with self.read() as conn:
            rows = conn.execute(select(seen).where(seen.c.source_id == source_id)).mappings()
            return {r["key"]: dict(r) for r in rows}

    def intake_mark_seen(
        self,
        source_id: int,
        key: str,
        *,
        fingerprint: str | None,
        article_id: str | None,
        error: str | None,
        stat: str | None = None,
    ) -> None:
        """Remember one file or entry; ``seen_at`` keeps the time it was first seen."""
        values = {"fingerprint": fingerprint, "article_id": article_id, "error": error}
        if stat is not None:
            values["stat"] = stat
        stmt = self.upsert(seen).values(
            source_id=source_id, key=key, seen_at=self.clock(), **values
        )
        stmt = stmt.on_conflict_do_update(index_elements=["source_id", "key"], set_=values)
        with self.tx() as conn:
            conn.execute(stmt)

    def intake_note_stats(self, source_id: int, stats: dict[str, str]) -> None:
        """Record the stat of files seen again unchanged (see intake.folders.scan)."""
        with self.tx() as conn:
            for key, stamp in stats.items():
                conn.execute(
                    seen.update()
                    .where(seen.c.source_id == source_id, seen.c.key == key)
                    .values(stat=stamp)
                )
