"""Queries of one check run: which targets to check, claimed once each per run.

A run claims a target only if it has no check row since the run started, so a target
checked in this run (a rate-limited one whose Retry-After is a second, say) is never
checked twice by the same run, and `--all` ends although every archived target is due.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, func, or_, select

from archiver.store import schema as t

tg = t.target


class ChecksMixin:
    def _check_due(self, *, all_archived: bool, since: datetime, target_ids: list[int] | None):
        now = self.clock()
        ck = t.check
        checked_in_run = exists(
            select(ck.c.id).where(ck.c.target_id == tg.c.id, ck.c.checked_at >= since)
        )
        due = and_(tg.c.capture_state == "archived", ~checked_in_run)
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
