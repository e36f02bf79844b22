"""Rows the ledger describes, found by their `ledger_seq` (issue #22).

Each snapshot, check, review, warc_file, screenshot and (stamped) timestamp_token row
carries the seq of its ledger line. A writer stores its rows with the seqs their lines
will have and then appends the lines, both under the ledger's lock; so, under that
lock, a row whose seq is past the ledger's last line was committed by a writer killed
before its lines reached the disk, and a row with no seq was stored before the rule
(schema 5). `archiver.ledger.pairs` completes both; `archive verify` reads every row
of each kind.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, bindparam, func, or_, select, union_all
from sqlalchemy.engine import Connection

from archiver.ledger.events import KEYS, Paired
from archiver.states import ReviewState
from archiver.store import schema as t

TABLES: dict[Paired, Table] = {
    Paired.SNAPSHOT: t.snapshot,
    Paired.CHECK: t.check,
    Paired.REVIEW: t.review,
    Paired.WARC_CLOSED: t.warc_file,
    Paired.TIMESTAMP: t.timestamp_token,
    Paired.SCREENSHOT: t.screenshot,
}


def _select(kind: Paired):
    """The rows of a kind with what their lines say beside the row's own columns."""
    table = TABLES[kind]
    if kind in (Paired.SNAPSHOT, Paired.CHECK):
        tg = t.target
        return select(table, tg.c.url.label("target_url")).join(tg, tg.c.id == table.c.target_id)
    if kind == Paired.REVIEW:
        # a citation's review row is made "pending" with it; only a decision (a row that
        # is no longer that untouched one) is an event with a line
        c, rv = t.citation, table
        decided = or_(
            rv.c.at.is_not(None),
            rv.c.state != ReviewState.PENDING,
            rv.c.note.is_not(None),
            rv.c.by.is_not(None),
        )
        q = select(table, c.c.article_id, c.c.n).join(c, c.c.id == table.c.citation_id)
        return q.where(decided)
    if kind == Paired.TIMESTAMP:
        return select(table).where(table.c.token.is_not(None))  # queued: no event yet
    if kind == Paired.SCREENSHOT:  # with the record id of the snapshot it pictures
        s = t.snapshot
        q = select(table, s.c.record_id.label("refers_to"))
        return q.join(s, s.c.id == table.c.snapshot_id)
    return select(table)


class LedgeredMixin:
    def paired_rows(self, conn: Connection, kind: Paired, seqs: list[int]) -> list[Any]:
        """The rows (of ``conn``'s transaction) carrying these seqs, in seq order."""
        if not seqs:
            return []
        col = TABLES[kind].c.ledger_seq
        q = _select(kind).where(col.in_(seqs)).order_by(col)
        return conn.execute(q).all()

    def read_paired(self, kind: Paired, seqs: list[int]) -> list[Any]:
        """`paired_rows` after the commit (the caller holds the ledger's lock, which every
        writer of these rows takes, so they are as committed)."""
        with self.read() as conn:
            return self.paired_rows(conn, kind, seqs)

    def ledger_high(self) -> int:
        """The highest seq any row carries (0: none)."""
        parts = [select(func.max(table.c.ledger_seq).label("m")) for table in TABLES.values()]
        u = union_all(*parts).subquery()
        with self.read() as conn:
            return conn.execute(select(func.max(u.c.m))).scalar() or 0

    def unpaired_rows(self, kind: Paired, head: int) -> list[Any]:
        """Rows whose seq is past ``head`` (the ledger's last line), in seq order."""
        col = TABLES[kind].c.ledger_seq
        with self.read() as conn:
            return conn.execute(_select(kind).where(col > head).order_by(col)).all()

    def unnumbered_rows(self, kind: Paired) -> list[Any]:
        """Rows stored before rows carried their line's seq, in key order."""
        table = TABLES[kind]
        q = _select(kind).where(table.c.ledger_seq.is_(None)).order_by(table.c[KEYS[kind]])
        with self.read() as conn:
            return conn.execute(q).all()

    def set_ledger_seqs(self, kind: Paired, pairs: Iterable[tuple]) -> None:
        """(key, seq): each row now names the line about to be appended for it."""
        table = TABLES[kind]
        values = [{"b_key": key, "b_seq": seq} for key, seq in pairs]
        if not values:
            return
        q = (
            table.update()
            .where(table.c[KEYS[kind]] == bindparam("b_key"))
            .values(ledger_seq=bindparam("b_seq"))
        )
        with self.tx() as conn:
            conn.execute(q, values)

    def record_closed_warc(self, *, path: str, closed_at, seq: int | None, **facts) -> None:
        """A closed WARC file's row (replacing the row of an earlier close of it)."""
        wf = t.warc_file
        with self.tx() as conn:
            conn.execute(wf.delete().where(wf.c.path == path))
            self.insert_warc_file(
                conn, path=path, opened_at=closed_at, closed_at=closed_at, ledger_seq=seq, **facts
            )

    def all_paired_rows(self, kind: Paired) -> list[Any]:
        """Every row of a kind, for `archive verify`."""
        with self.read() as conn:
            return conn.execute(_select(kind)).all()
