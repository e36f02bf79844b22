"""Work on targets: claiming with leases, dedup and reuse lookups (stored by `captures`).

A claim is a lease in the row itself (claimed_by, claimed_until), taken in one short
transaction: SQLite serialises it with BEGIN IMMEDIATE, PostgreSQL with
SELECT … FOR UPDATE SKIP LOCKED. A crashed worker's lease simply expires.
"""

from __future__ import annotations

import functools
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select

from archiver.errors import StoreError
from archiver.states import CaptureState
from archiver.store import schema as t

tg = t.target


@dataclass(frozen=True, kw_only=True)
class CheckOutcome:
    checked: dict[str, Any]  # the check row
    rot: str
    dead: bool
    consecutive_failures: int
    first_failure_at: Any
    recapture: bool
    next_check_in: float

    def target_values(self, now: datetime) -> dict[str, Any]:
        """The target's columns after this check (claim released, next check set)."""
        values = dict(
            rot=self.rot,
            dead=self.dead,
            consecutive_failures=self.consecutive_failures,
            first_failure_at=self.first_failure_at,
            next_check_at=now + timedelta(seconds=self.next_check_in),
            claimed_by=None,
            claimed_until=None,
        )
        if self.recapture:
            values.update(recapture=True, next_capture_at=now)
        return values


# built once: constructing the select for every fetched response cost more CPU than
# running it (~0.18 of ~0.28 ms a lookup)
_FIND_RESOURCE = (
    select(t.resource)
    .where(
        t.resource.c.url == bindparam("url"),
        t.resource.c.payload_digest == bindparam("payload_digest"),
    )
    .order_by(t.resource.c.id)
    .limit(1)
)

_RESOURCE_COLUMNS = tuple(c.name for c in t.resource.columns)

# the latest complete 2xx response of a URL stored since a WARC-Date (ISO strings
# compare in time order)
_FIND_REUSABLE = (
    select(
        t.resource.c.url,
        t.resource.c.record_id,
        t.resource.c.warc,
        t.resource.c.offset,
        t.resource.c.warc_date,
    )
    .where(
        t.resource.c.url == bindparam("url"),
        t.resource.c.status >= 200,
        t.resource.c.status < 300,
        t.resource.c.warc_date >= bindparam("since"),
    )
    .order_by(t.resource.c.id.desc())
    .limit(1)
)


@functools.cache
def _sqlite_find_resource(dialect) -> tuple[str, tuple[tuple[str, object], ...]]:
    """_FIND_RESOURCE as SQLite text and its positional parameters (name, fixed value)."""
    compiled = _FIND_RESOURCE.compile(dialect=dialect)
    values = compiled.construct_params({"url": "", "payload_digest": ""})
    return compiled.string, tuple((k, values[k]) for k in compiled.positiontup or ())


def _unclaimed(now):
    return or_(tg.c.claimed_until.is_(None), tg.c.claimed_until < now)


class WorkMixin:
    # ------------------------------------------------------------ claims

    def _claim(self, due, order, *, worker: str, lease: float, limit: int) -> list:
        now = self.clock()
        with self.tx() as conn:
            q = select(tg.c.id).where(due, _unclaimed(now)).order_by(*order).limit(limit)
            if not self.is_sqlite:
                q = q.with_for_update(skip_locked=True)
            ids = [r.id for r in conn.execute(q)]
            if not ids:
                return []
            conn.execute(
                tg.update()
                .where(tg.c.id.in_(ids), _unclaimed(now))
                .values(claimed_by=worker, claimed_until=now + timedelta(seconds=lease))
            )
            return list(conn.execute(select(tg).where(tg.c.id.in_(ids), tg.c.claimed_by == worker)))

    def capture_due(self, *, max_attempts: int, target_ids: list[int] | None = None):
        now = self.clock()
        due = and_(
            or_(
                tg.c.capture_state == CaptureState.PENDING,
                and_(tg.c.capture_state == CaptureState.FAILED, tg.c.attempts < max_attempts),
                tg.c.recapture.is_(True),
            ),
            or_(tg.c.next_capture_at.is_(None), tg.c.next_capture_at <= now),
        )
        if target_ids is not None:
            due = and_(due, tg.c.id.in_(target_ids))
        return due

    def claim_captures(
        self,
        *,
        worker: str,
        lease: float,
        limit: int,
        max_attempts: int,
        target_ids: list[int] | None = None,
    ) -> list:
        due = self.capture_due(max_attempts=max_attempts, target_ids=target_ids)
        return self._claim(
            due, (tg.c.next_capture_at, tg.c.id), worker=worker, lease=lease, limit=limit
        )

    def count_capture_due(self, *, max_attempts: int, target_ids: list[int] | None = None) -> int:
        from sqlalchemy import func

        due = self.capture_due(max_attempts=max_attempts, target_ids=target_ids)
        with self.read() as conn:
            return conn.execute(select(func.count()).select_from(tg).where(due)).scalar_one()

    def count_capture_held(
        self, *, max_attempts: int, target_ids: list[int] | None = None, worker: str
    ) -> int:
        """Due targets whose unexpired claim another worker holds (skipped by this run)."""
        due = self.capture_due(max_attempts=max_attempts, target_ids=target_ids)
        held = and_(tg.c.claimed_by != worker, tg.c.claimed_until >= self.clock())
        with self.read() as conn:
            q = select(func.count()).select_from(tg).where(due, held)
            return conn.execute(q).scalar_one()

    def count_capture_waiting(self, *, max_attempts: int) -> int:
        """Targets due for capture that no live claim holds (in flight ones are not)."""
        due = and_(self.capture_due(max_attempts=max_attempts), _unclaimed(self.clock()))
        with self.read() as conn:
            return conn.execute(select(func.count()).select_from(tg).where(due)).scalar_one()

    def claim_checks(
        self,
        *,
        worker: str,
        lease: float,
        limit: int,
        all_archived: bool,
        target_ids: list[int] | None = None,
    ) -> list:
        now = self.clock()
        due = tg.c.capture_state == CaptureState.ARCHIVED
        if not all_archived:
            due = and_(due, or_(tg.c.next_check_at.is_(None), tg.c.next_check_at <= now))
        if target_ids is not None:
            due = and_(due, tg.c.id.in_(target_ids))
        return self._claim(
            due, (tg.c.next_check_at, tg.c.id), worker=worker, lease=lease, limit=limit
        )

    def extend_lease(self, target_id: int, worker: str, lease: float) -> None:
        with self.tx() as conn:
            conn.execute(
                tg.update()
                .where(tg.c.id == target_id, tg.c.claimed_by == worker)
                .values(claimed_until=self.clock() + timedelta(seconds=lease))
            )

    def release(self, target_id: int, worker: str) -> None:
        self.release_many([target_id], worker)

    def release_many(self, target_ids: list[int], worker: str) -> None:
        """Give back claims not worked on (a stopped or failed run)."""
        if not target_ids:
            return
        with self.tx() as conn:
            conn.execute(
                tg.update()
                .where(tg.c.id.in_(target_ids), tg.c.claimed_by == worker)
                .values(claimed_by=None, claimed_until=None)
            )

    def target_ids_for_articles(self, article_ids: list[str]) -> list[int]:
        with self.read() as conn:
            q = select(t.citation.c.target_id).where(t.citation.c.article_id.in_(article_ids))
            return sorted({r.target_id for r in conn.execute(q)})

    def citing_articles(self, target_id: int) -> list[str]:
        return self.citing_articles_of([target_id])[target_id]

    def citing_articles_of(self, target_ids: list[int]) -> dict[int, list[str]]:
        """{target id: sorted ids of the articles citing it}, one query for all."""
        found: dict[int, set[str]] = {i: set() for i in target_ids}
        if not target_ids:
            return {}
        c = t.citation
        with self.read() as conn:
            q = select(c.c.target_id, c.c.article_id).where(c.c.target_id.in_(target_ids))
            for r in conn.execute(q):
                found[r.target_id].add(r.article_id)
        return {i: sorted(ids) for i, ids in found.items()}

    # ------------------------------------------------------------ dedup

    def find_resource(self, url: str, payload_digest: str):
        """The first stored response of ``url`` with this document digest, if any."""
        if self.is_sqlite:
            return self._find_resource_sqlite(url, payload_digest)
        with self.read() as conn:
            return conn.execute(
                _FIND_RESOURCE, {"url": url, "payload_digest": payload_digest}
            ).first()

    def _find_resource_sqlite(self, url: str, payload_digest: str):
        """The same query on a pooled connection's own cursor: a capture asks once per
        fetched response, and SQLAlchemy's execution path cost ~4× the query itself."""
        sql, order = _sqlite_find_resource(self.engine.dialect)
        given = {"url": url, "payload_digest": payload_digest}
        args = tuple(given.get(k, v) for k, v in order)
        try:
            raw = self.engine.raw_connection()
            try:
                cur = raw.cursor()
                try:
                    cur.execute(sql, args)
                    row = cur.fetchone()
                finally:
                    cur.close()
            finally:
                raw.close()  # back to the pool
        except sqlite3.OperationalError as exc:
            raise StoreError(f"store: {exc}") from exc
        if row is None:
            return None
        return SimpleNamespace(**dict(zip(_RESOURCE_COLUMNS, row, strict=True)))

    def find_reusable(self, url: str, since: str):
        """The latest complete 2xx response of ``url`` stored with a WARC-Date at or
        after ``since`` (url, record_id, warc, offset, warc_date), if any."""
        with self.read() as conn:
            return conn.execute(_FIND_REUSABLE, {"url": url, "since": since}).first()

    def reuse_warcs(self, snapshot_record_ids: list[str]) -> set[str]:
        """The WARC files holding the reused requisites of these snapshots."""
        found: set[str] = set()
        s, r = t.snapshot, t.snapshot_reuse
        with self.read() as conn:
            for i in range(0, len(snapshot_record_ids), 500):
                part = snapshot_record_ids[i : i + 500]
                q = (
                    select(r.c.warc)
                    .join(s, s.c.id == r.c.snapshot_id)
                    .where(s.c.record_id.in_(part))
                    .distinct()
                )
                found.update(row.warc for row in conn.execute(q))
        return found

    def reuse_references(self) -> list:
        """Every stored reuse: (snapshot_record_id, url, record_id, warc, offset)."""
        s, r = t.snapshot, t.snapshot_reuse
        with self.read() as conn:
            q = (
                select(
                    s.c.record_id.label("snapshot_record_id"),
                    r.c.url,
                    r.c.record_id,
                    r.c.warc,
                    r.c.offset,
                )
                .join(s, s.c.id == r.c.snapshot_id)
                .order_by(r.c.warc, r.c.offset)
            )
            return conn.execute(q).all()
