"""Screenshots of snapshots: which good snapshots still lack one, and recording one.

A screenshot is rendered from the replay, and pywb replays only what the CDXJ index
holds: WARC files that are closed. So a snapshot is waiting for its screenshot when it
is good, has none, and its WARC file is closed (a `warc_file` row with `closed_at`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from archiver.store import schema as t


@dataclass(frozen=True, kw_only=True)
class ShotWanted:
    """A snapshot to render: where it replays (time, URL) and the record it refers to."""

    snapshot_id: int
    target_id: int
    captured_at: datetime
    final_url: str
    record_id: str


@dataclass(frozen=True, kw_only=True)
class ShotRow:
    snapshot_id: int
    taken_at: datetime
    warc: str
    offset: int
    length: int
    record_id: str
    digest: str
    width: int
    height: int


def _wanted_query(article_id: str | None, limit: int | None):
    s, shot, wf, c = t.snapshot, t.screenshot, t.warc_file, t.citation
    q = (
        select(s.c.id, s.c.target_id, s.c.captured_at, s.c.final_url, s.c.record_id)
        .where(
            s.c.good.is_(True),
            ~select(shot.c.id).where(shot.c.snapshot_id == s.c.id).exists(),
            s.c.warc.in_(select(wf.c.path).where(wf.c.closed_at.is_not(None))),
        )
        .order_by(s.c.id)
    )
    if article_id is not None:
        q = q.where(s.c.target_id.in_(select(c.c.target_id).where(c.c.article_id == article_id)))
    return q.limit(limit) if limit else q


class ScreenshotsMixin:
    def screenshots_wanted(
        self, article_id: str | None = None, *, limit: int | None = None
    ) -> list[ShotWanted]:
        """Good snapshots in closed WARC files with no screenshot yet, oldest first."""
        with self.read() as conn:
            return [
                ShotWanted(
                    snapshot_id=r.id,
                    target_id=r.target_id,
                    captured_at=r.captured_at,
                    final_url=r.final_url,
                    record_id=r.record_id,
                )
                for r in conn.execute(_wanted_query(article_id, limit))
            ]

    def add_screenshot(self, row: ShotRow, target_id: int, *, seq: int | None = None) -> bool:
        """Record a screenshot written to a WARC file (``seq``: its ledger line's); its
        articles' manifests go dirty. False when the snapshot has one already (another
        run, e.g. the daemon's and the CLI's at once, took it first: its record stays in
        the WARC, unlisted)."""
        try:
            with self.tx() as conn:
                conn.execute(t.screenshot.insert().values(**row.__dict__, ledger_seq=seq))
                self.mark_dirty_for_target(conn, target_id)
        except IntegrityError:
            return False
        return True

    def all_screenshots(self) -> list:
        """Every screenshot row's location and PNG digest, for `archive verify`: (warc,
        offset, length, record_id, digest), by file and offset."""
        shot = t.screenshot
        cols = (shot.c.warc, shot.c.offset, shot.c.length, shot.c.record_id, shot.c.digest)
        q = select(*cols).order_by(shot.c.warc, shot.c.offset)
        with self.read() as conn:
            return conn.execute(q).all()
