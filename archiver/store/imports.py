"""Imported WARC files (`archive add --from-warc`): the statements the import run needs.

An imported file gets a `warc_file` row like a closed WARC of our own (writer
"import"), so `archive verify` proves it unchanged; each of its records that is a capture
of a stored target becomes a `snapshot` row, and a target with a good one becomes
archived. The rows are written inside the ledger rule's commit (`ledger.pairs`): each
method takes the ledger line numbers and returns the paired rows for those lines.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from archiver.ledger.events import Paired
from archiver.store import schema as t


class ImportsMixin:
    def target_ids_by_url(self) -> dict[str, int]:
        """Every stored target's id by its (normalised) URL."""
        with self.read() as conn:
            return {r.url: r.id for r in conn.execute(select(t.target.c.url, t.target.c.id))}

    def snapshot_places(self, warc: str) -> set[tuple[int, int]]:
        """(target id, offset) of every snapshot already recorded in WARC file ``warc``."""
        s = t.snapshot
        q = select(s.c.target_id, s.c.offset).where(s.c.warc == warc)
        with self.read() as conn:
            return {(r.target_id, r.offset) for r in conn.execute(q)}

    def add_imported_warc(
        self, path: str, *, size: int, sha256: str, records: int, now: datetime, seq: int
    ) -> list[Any]:
        """The `warc_file` row of an imported copy (ledger line ``seq``); [] and nothing
        written when the file is registered already (imported before)."""
        wf = t.warc_file
        with self.tx() as conn:
            if conn.execute(select(wf).where(wf.c.path == path)).first() is not None:
                return []
            self.insert_warc_file(
                conn,
                path=path,
                opened_at=now,
                closed_at=now,
                writer="import",
                size=size,
                sha256=sha256,
                records=records,
                ledger_seq=seq,
            )
            return self.paired_rows(conn, Paired.WARC_CLOSED, [seq])

    def add_imported_snapshots(
        self,
        rows: list[tuple[int, dict[str, Any]]],
        seqs: list[int],
        *,
        archived: list[int],
        check_interval: float,
    ) -> list[Any]:
        """Insert (target id, snapshot columns) with their ledger lines ``seqs``; the
        ``archived`` targets (a good snapshot among them) become archived
        (`ScheduleMixin.set_archived`, the rule captures follow too)."""
        with self.tx() as conn:
            for (tid, row), seq in zip(rows, seqs, strict=True):
                conn.execute(t.snapshot.insert().values(target_id=tid, ledger_seq=seq, **row))
                self.mark_dirty_for_target(conn, tid)
            self.set_archived(conn, archived, check_interval=check_interval)
            return self.paired_rows(conn, Paired.SNAPSHOT, seqs)
