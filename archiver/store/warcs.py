"""WARC files as the store knows them: the ``warc_file`` rows, and which file holds a record.

`insert_warc_file` is the one place a ``warc_file`` row is written (a capture's closed
file, an imported one); the readers serve WACZ export.
"""

from __future__ import annotations

from sqlalchemy import select

from archiver.store import schema as t

# record ids asked about per query (SQLite's bound-parameter limit is far above)
_CHUNK = 500


class WarcFilesMixin:
    def insert_warc_file(self, conn, *, path: str, opened_at, closed_at, **facts) -> None:
        """A ``warc_file`` row (facts: size, sha256, records, writer, ledger_seq), in
        the caller's transaction."""
        conn.execute(
            t.warc_file.insert().values(
                path=path, opened_at=opened_at, closed_at=closed_at, **facts
            )
        )

    def warc_file_digests(self, paths: list[str]) -> dict[str, str]:
        """path → recorded sha256 of these files (those with one)."""
        wanted = set(paths)
        wf = t.warc_file
        with self.read() as conn:
            rows = conn.execute(select(wf.c.path, wf.c.sha256))
            return {r.path: r.sha256 for r in rows if r.path in wanted and r.sha256}

    def warcs_holding(self, record_ids: set[str]) -> set[str]:
        """The WARC files holding these records (our resource table, then snapshots)."""
        ids, found = sorted(record_ids), set()
        with self.read() as conn:
            for i in range(0, len(ids), _CHUNK):
                part = ids[i : i + _CHUNK]
                for table in (t.resource, t.snapshot):
                    q = select(table.c.warc).where(table.c.record_id.in_(part))
                    found.update(r.warc for r in conn.execute(q))
        return found
