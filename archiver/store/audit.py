"""What `archive verify` reads of the store: the rows it checks against WARCs and ledger.

One read transaction, so the snapshots, files and reviews are of one moment even
while a capture runs beside the verify.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from archiver.store import schema as t

# what `archive verify` compares with the WARC records, per snapshot
_VERIFIED_SNAPSHOT = (
    "id",
    "warc",
    "offset",
    "length",
    "record_id",
    "record_type",
    "payload_digest",
    "warc_payload_digest",
    "ledger_seq",
    "evidence",
)


@dataclass(frozen=True, kw_only=True)
class AuditRows:
    """``snapshots``: the record facts, by WARC file and offset; ``warc_files``: every
    ``warc_file`` row; ``reviews``: article_id, n, state, note, by, ledger_seq."""

    snapshots: list[Any]
    warc_files: list[Any]
    reviews: list[Any]


def _snapshots_query():
    s = t.snapshot
    return select(*(s.c[k] for k in _VERIFIED_SNAPSHOT)).order_by(s.c.warc, s.c.offset)


def _reviews_query():
    c, rv = t.citation, t.review
    return (
        select(c.c.article_id, c.c.n, rv.c.state, rv.c.note, rv.c.by, rv.c.ledger_seq)
        .join(c, c.c.id == rv.c.citation_id)
        .order_by(c.c.article_id, c.c.n)
    )


class AuditMixin:
    def audit_rows(self) -> AuditRows:
        """The rows `archive verify` checks (see `AuditRows`)."""
        with self.read() as conn:
            return AuditRows(
                snapshots=conn.execute(_snapshots_query()).all(),
                warc_files=conn.execute(select(t.warc_file)).all(),
                reviews=conn.execute(_reviews_query()).all(),
            )
