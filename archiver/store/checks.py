"""Queries of one check run: which targets to check, claimed once each per run.

A run claims a target only if it has no check row since the run started, so a target
checked in this run (a rate-limited one whose Retry-After is a second, say) is never
checked twice by the same run, and `--all` ends although every archived target is due.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, or_, select

from archiver.ledger.events import Paired
from archiver.states import CaptureState
from archiver.store import schema as t
from archiver.store.work import CheckOutcome

tg = t.target


class ChecksMixin:
    def _check_due(self, *, all_archived: bool, since: datetime, target_ids: list[int] | None):
        now = self.clock()
        ck = t.check
        checked_in_run = exists(
            select(ck.c.id).where(ck.c.target_id == tg.c.id, ck.c.checked_at >= since)
        )
        due = and_(tg.c.capture_state == CaptureState.ARCHIVED, ~checked_in_run)
        if not all_archived:
            due = and_(due, or_(tg.c.next_check_at.is_(None), tg.c.next_check_at <= now))
        if target_ids is not None:
            due = and_(due, tg.c.id.in_(target_ids))
        return due

    def claim_run_checks(
        self,
        *,
        worker: str,
        lease: float,
        limit: int,
        all_archived: bool,
        since: datetime,
        target_ids: list[int] | None = None,
    ) -> list:
        """Claim up to ``limit`` targets due for a check and not yet checked since ``since``."""
        due = self._check_due(all_archived=all_archived, since=since, target_ids=target_ids)
        return self._claim(
            due, (tg.c.next_check_at, tg.c.id), worker=worker, lease=lease, limit=limit
        )

    def count_run_checks(
        self, *, all_archived: bool, since: datetime, target_ids: list[int] | None = None
    ) -> int:
        due = self._check_due(all_archived=all_archived, since=since, target_ids=target_ids)
        with self.read() as conn:
            return conn.execute(select(func.count()).select_from(tg).where(due)).scalar_one()

    # ------------------------------------------------------------ batches of a run

    def latest_good_snapshots(self, target_ids: list[int]) -> dict[int, Any]:
        """{target id: its latest good snapshot} (newest captured_at, then id), one query."""
        if not target_ids:
            return {}
        s = t.snapshot
        rank = (
            func.row_number()
            .over(partition_by=s.c.target_id, order_by=(s.c.captured_at.desc(), s.c.id.desc()))
            .label("rank")
        )
        ranked = select(s, rank).where(s.c.target_id.in_(target_ids), s.c.good.is_(True)).subquery()
        q = select(*(ranked.c[c.name] for c in s.columns)).where(ranked.c.rank == 1)
        with self.read() as conn:
            return {r.target_id: r for r in conn.execute(q)}

    def record_check(self, target, worker: str, outcome: CheckOutcome) -> None:
        """One check's row and the target moved on (`record_checks` of one)."""
        self.record_checks([(target, outcome)])

    def record_checks(
        self, results: list[tuple[Any, CheckOutcome]], seqs: list[int] | None = None
    ) -> list[Any]:
        """`record_check` for many targets in one transaction: a check row each, the
        targets moved on (and released), their articles' manifests marked dirty.

        ``seqs``: the ledger seqs the rows carry, one each (`ledger.pairs`); the rows
        are then returned as stored, in seq order."""
        if not results:
            return []
        now = self.clock()
        seqs = seqs or [None] * len(results)
        rows = [
            dict(target_id=target.id, ledger_seq=seq, **outcome.checked)
            for (target, outcome), seq in zip(results, seqs, strict=True)
        ]
        plain: list[dict[str, Any]] = []  # record_check's values, grouped by their columns
        recapture: list[dict[str, Any]] = []
        for target, outcome in results:
            values = dict(id=target.id, **outcome.target_values(now))
            (recapture if outcome.recapture else plain).append(
                {f"b_{k}": v for k, v in values.items()}
            )
        ids = sorted({target.id for target, _ in results})
        with self.tx() as conn:
            conn.execute(t.check.insert(), rows)
            for updates in (plain, recapture):
                if updates:
                    # bound as b_<column>: SQLAlchemy keeps the plain names for SET itself
                    columns = {k[2:]: bindparam(k) for k in updates[0] if k != "b_id"}
                    conn.execute(
                        tg.update().where(tg.c.id == bindparam("b_id")).values(columns), updates
                    )
            self.mark_dirty_for_targets(conn, ids)
            return self.paired_rows(conn, Paired.CHECK, [q for q in seqs if q is not None])
