"""Rows past the end of a recovered WARC file: what a killed writer's cut file loses.

A killed writer's `.open` file is cut back to its last complete record. The snapshots,
screenshots and resources whose records lay past that point are removed here (in one
transaction) and their targets queued for a new capture at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, or_, select, update

from archiver.store import schema as t


@dataclass(frozen=True, kw_only=True)
class Dropped:
    """What `drop_past` removed: snapshot ids, screenshot ids, targets re-queued."""

    snapshots: list[int]
    screenshots: list[int]
    requeued: int


class RecoveryMixin:
    def drop_past(self, warc: str, kept: int, now: datetime) -> Dropped:
        """Remove the rows of ``warc`` (a root-relative path) whose records end past
        ``kept`` bytes; their targets are due for capture again at ``now``."""
        s, shot = t.snapshot, t.screenshot
        with self.tx() as conn:
            lost = conn.execute(
                select(s.c.id, s.c.target_id).where(
                    s.c.warc == warc, (s.c.offset + s.c.length) > kept
                )
            ).all()
            gone = [x.id for x in lost]
            # of a dropped snapshot, or a cut screenshot file's record
            cut = and_(shot.c.warc == warc, (shot.c.offset + shot.c.length) > kept)
            shots = [
                x.id
                for x in conn.execute(
                    select(shot.c.id).where(or_(shot.c.snapshot_id.in_(gone), cut))
                )
            ]
            if shots:
                conn.execute(delete(shot).where(shot.c.id.in_(shots)))
            if lost:
                _drop_snapshots(conn, gone, [x.target_id for x in lost], now)
            conn.execute(
                delete(t.resource).where(t.resource.c.warc == warc, t.resource.c.offset >= kept)
            )
        return Dropped(snapshots=gone, screenshots=shots, requeued=len(lost))


def _drop_snapshots(conn, snapshot_ids: list[int], target_ids: list[int], now: datetime) -> None:
    reuse = t.snapshot_reuse
    conn.execute(delete(reuse).where(reuse.c.snapshot_id.in_(snapshot_ids)))
    conn.execute(delete(t.snapshot).where(t.snapshot.c.id.in_(snapshot_ids)))
    conn.execute(
        update(t.target)
        .where(t.target.c.id.in_(target_ids))
        .values(recapture=True, next_capture_at=now)
    )
