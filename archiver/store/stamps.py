"""Timestamp tokens (issue 21): the queue of subjects to stamp and the tokens got.

A subject is queued once (kind, name unique); a closed WARC file is queued when a
stamping pass finds its `warc_file` row without a token row, so a file closed while
no TSA was reachable, or by a process killed before it stamped, is never missed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select

from archiver.store import schema as t


class StampsMixin:
    def unqueued_warcs(self) -> list[Any]:
        """Closed WARC files (with their sha256) that have no timestamp row yet."""
        wf, ts = t.warc_file, t.timestamp_token
        known = select(ts.c.name).where(ts.c.kind == "warc")
        q = (
            select(wf.c.path, wf.c.sha256)
            .where(wf.c.sha256.is_not(None), wf.c.path.not_in(known))
            .order_by(wf.c.path)
        )
        with self.read() as conn:
            return conn.execute(q).all()

    def queue_stamp(self, *, kind: str, name: str, sha256: str, now: datetime) -> None:
        """Queue a subject (nothing if it is already queued or stamped)."""
        ins = self.upsert(t.timestamp_token).values(
            kind=kind, name=name, sha256=sha256, queued_at=now, attempts=0
        )
        with self.tx() as conn:
            conn.execute(ins.on_conflict_do_nothing())

    def due_stamps(self, now: datetime) -> list[Any]:
        """Queued subjects whose next attempt is due, oldest first."""
        ts = t.timestamp_token
        due = or_(ts.c.next_try.is_(None), ts.c.next_try <= now)
        q = select(ts).where(ts.c.token.is_(None), due).order_by(ts.c.queued_at, ts.c.id)
        with self.read() as conn:
            return conn.execute(q).all()

    def stamp_failed(self, row_id: int, *, error: str, next_try: datetime) -> None:
        ts = t.timestamp_token
        q = (
            ts.update()
            .where(ts.c.id == row_id)
            .values(attempts=ts.c.attempts + 1, last_error=error[:500], next_try=next_try)
        )
        with self.tx() as conn:
            conn.execute(q)

    def stamp_done(self, row_id: int, *, seq: int | None, **values: Any) -> None:
        """A token got: ``values`` are tsa, token, gen_time and file. A WARC file's token
        marks the manifests of the articles citing its snapshots for rewriting (their
        evidence summaries name it)."""
        ts, s = t.timestamp_token, t.snapshot
        q = (
            ts.update()
            .where(ts.c.id == row_id)
            .values(ledger_seq=seq, last_error=None, next_try=None, **values)
        )
        stamped = select(ts.c.name).where(ts.c.id == row_id, ts.c.kind == "warc")
        with self.tx() as conn:
            conn.execute(q)
            targets = select(s.c.target_id).where(s.c.warc.in_(stamped.scalar_subquery()))
            self.mark_dirty_for_targets(conn, [r.target_id for r in conn.execute(targets)])

    def last_ledger_stamp(self) -> Any | None:
        """The most recently queued ledger-head row (stamped or not)."""
        ts = t.timestamp_token
        q = select(ts).where(ts.c.kind == "ledger").order_by(ts.c.queued_at.desc(), ts.c.id.desc())
        with self.read() as conn:
            return conn.execute(q.limit(1)).first()

    def closed_warc_shas(self) -> dict[str, str]:
        """Closed WARC file → its recorded sha256."""
        wf = t.warc_file
        with self.read() as conn:
            rows = conn.execute(select(wf.c.path, wf.c.sha256).where(wf.c.sha256.is_not(None)))
            return {r.path: r.sha256 for r in rows}

    def stamp_rows(self) -> list[Any]:
        """Every timestamp row, for `archive verify` and `status`."""
        ts = t.timestamp_token
        with self.read() as conn:
            return conn.execute(select(ts).order_by(ts.c.kind, ts.c.name)).all()

    def stamp_of(self, kind: str, name: str) -> Any | None:
        ts = t.timestamp_token
        q = select(ts).where(and_(ts.c.kind == kind, ts.c.name == name))
        with self.read() as conn:
            return conn.execute(q).first()
