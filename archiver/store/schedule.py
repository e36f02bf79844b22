"""When a target is due: the rule for a target that becomes archived, written once.

An archived target needs no capture; its first check is due a check interval after
it became archived, unless a check is already scheduled (an earlier capture set it,
and a recapture must not postpone it). A capture and an imported WARC apply the same
rule (`archived_values`, `ScheduleMixin.set_archived`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from archiver.states import CaptureState
from archiver.store import schema as t


def first_check(target, now: datetime, check_interval: float) -> dict[str, Any]:
    """``next_check_at`` for a target becoming archived, if it has none yet."""
    if target.next_check_at is not None:
        return {}
    return {"next_check_at": now + timedelta(seconds=check_interval)}


def archived_values(target, now: datetime, check_interval: float) -> dict[str, Any]:
    """The target's columns once it is archived (more may be set beside them)."""
    return {
        "capture_state": CaptureState.ARCHIVED,
        "next_capture_at": None,
        **first_check(target, now, check_interval),
    }


class ScheduleMixin:
    def set_archived(self, conn, target_ids: list[int], *, check_interval: float) -> None:
        """Mark these targets archived (no error left), in the caller's transaction."""
        tg = t.target
        now = self.clock()
        for tid in target_ids:
            target = conn.execute(select(tg).where(tg.c.id == tid)).one()
            values = {**archived_values(target, now, check_interval), "last_error": None}
            conn.execute(tg.update().where(tg.c.id == tid).values(**values))
