"""The ledger rule: a row and its ledger line become durable together, or the next
writer completes the pair (issue #22).

Every writer of a snapshot, check, review or warc_file row (capture, check, review,
import, WARC close and recovery) goes through `write_paired`, which, holding the
ledger's lock (flock, every process and thread):

1. completes what a killed writer left half done: rows carrying a seq past the
   ledger's last line get their lines now, marked ``"recovered": true``;
2. commits its rows (one store transaction), each carrying the seq of the line it is
   about to get (`ledger_seq`);
3. appends their lines, one write and one fsync for the batch, and lets the lock go.

Why this order: the store is the archive's truth and the ledger is append-only. A kill
between 2 and 3 leaves committed rows whose seqs are past the ledger's end, and step 1
of the next writer (or `complete_pairs` at the start of capture, check, import and the
daemon) appends exactly the lines that were missing, in the same order and from the
rows themselves: the chain is only ever extended, never rewritten. The opposite order
(line first) would leave lines for rows that were never committed, which can only be
answered by more lines saying "that one did not happen". Holding the lock across the
commit is what makes "a seq past the end" mean "its writer died": no live writer is
ever between 2 and 3 while another looks.

Each line names its row (``"row"``: the id, a review's citation id, a WARC's path) and
carries a digest of the row's content (`row_digest`), so `archive verify` can match row
and line both ways (`archiver.ledger.matching`). The store is passed in (its
`LedgeredMixin` methods): the ledger package never imports it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from archiver.ledger.chain import Ledger, LedgerBatch
from archiver.ledger.events import KEYS, Paired
from archiver.times import iso, iso_micro

logger = logging.getLogger(__name__)

# The columns a line's digest covers: what the row says happened, never a column that
# is updated afterwards (a snapshot's quality, a WARC row's writer).
DIGESTED: dict[Paired, tuple[str, ...]] = {
    Paired.SNAPSHOT: (
        "id",
        "target_id",
        "captured_at",
        "warc",
        "offset",
        "length",
        "record_id",
        "payload_digest",
        "status",
    ),
    Paired.CHECK: (
        "id",
        "target_id",
        "checked_at",
        "status",
        "final_url",
        "redirects",
        "classification",
        "similarity",
        "error",
    ),
    Paired.REVIEW: ("citation_id", "state", "note", "by", "at"),
    Paired.WARC_CLOSED: ("path", "size", "sha256", "records"),
    Paired.TIMESTAMP: ("id", "kind", "name", "sha256", "tsa", "token", "gen_time", "file"),
    Paired.SCREENSHOT: (
        "id",
        "snapshot_id",
        "taken_at",
        "warc",
        "offset",
        "length",
        "record_id",
        "digest",
        "width",
        "height",
    ),
}

# kinds whose row is updated in place, each update a new line: older lines are history
HISTORY = frozenset({Paired.REVIEW, Paired.WARC_CLOSED})


def _plain(value: Any) -> Any:
    return iso_micro(value) if isinstance(value, datetime) else value


def row_digest(kind: Paired, row: Any) -> str:
    """sha256 of the row's digested columns as canonical JSON."""
    values = [_plain(getattr(row, name)) for name in DIGESTED[kind]]
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def row_key(kind: Paired, row: Any) -> Any:
    return getattr(row, KEYS[kind])


def described(kind: Paired, row: Any) -> dict[str, Any]:
    """The fields a line of this kind has always carried (what verify compared before)."""
    if kind == Paired.SNAPSHOT:
        keys = ("warc", "offset", "length", "record_id", "payload_digest", "status")
        return {
            "target": row.target_url,
            **{k: getattr(row, k) for k in keys},
            "captured_at": iso_micro(row.captured_at),
        }
    if kind == Paired.CHECK:
        return {
            "target": row.target_url,
            "classification": row.classification,
            "status": row.status,
            "similarity": row.similarity,
            "checked_at": iso_micro(row.checked_at),
        }
    if kind == Paired.REVIEW:
        keys = ("state", "note", "by")
        return {"article": row.article_id, "citation": row.n, **{k: getattr(row, k) for k in keys}}
    if kind == Paired.TIMESTAMP:
        return {
            "kind": row.kind,
            "subject": row.name,
            "sha256": row.sha256,
            "tsa": row.tsa,
            "time": iso(row.gen_time),
            "token_file": row.file,
            "token_sha256": hashlib.sha256(base64.b64decode(row.token)).hexdigest(),
        }
    if kind == Paired.SCREENSHOT:  # "digest" names the row's digest in every line
        keys = ("record_id", "warc", "offset", "length")
        return {
            "snapshot": row.snapshot_id,
            "refers_to": row.refers_to,
            **{k: getattr(row, k) for k in keys},
            "png_digest": row.digest,
            "size": [row.width, row.height],
        }
    return {"warc": row.path, "size": row.size, "sha256": row.sha256, "records": row.records}


# the column holding a line's own time (other kinds: the time the line is written)
_AT = {Paired.REVIEW: "at", Paired.SCREENSHOT: "taken_at"}


def add_line(batch: LedgerBatch, kind: Paired, row: Any, **extra: Any) -> dict:
    """The row's line, added to the batch (its seq must be the one the row carries)."""
    if row.ledger_seq != batch.next_seq:
        raise AssertionError(f"{kind.value} {row_key(kind, row)}: seq {row.ledger_seq}")
    at = getattr(row, _AT[kind]) if kind in _AT else None
    fields = {**described(kind, row), **extra}
    return batch.add(
        kind.value, at=at, **fields, row=row_key(kind, row), digest=row_digest(kind, row)
    )


# ------------------------------------------------------------------ writing


def _complete(store, batch: LedgerBatch, *, unnumbered: bool) -> int:
    """Lines for rows past the ledger's end (and, with ``unnumbered``, rows stored
    before the rule), in seq order; renumbered first if a seq would not follow on."""
    if not unnumbered and store.ledger_high() <= batch.head:
        return 0
    rows = [(kind, row) for kind in Paired for row in store.unpaired_rows(kind, batch.head)]
    rows.sort(key=lambda kr: kr[1].ledger_seq)
    killed = len(rows)
    if unnumbered:
        rows += [(kind, row) for kind in Paired for row in store.unnumbered_rows(kind)]
    moved: dict[Paired, list[tuple[Any, int]]] = {}
    for (kind, row), seq in zip(rows, batch.seqs(len(rows)), strict=True):
        if row.ledger_seq != seq:
            moved.setdefault(kind, []).append((row_key(kind, row), seq))
    for kind, pairs in moved.items():
        store.set_ledger_seqs(kind, pairs)
    for (kind, row), seq in zip(rows, batch.seqs(len(rows)), strict=True):
        add_line(batch, kind, _Renumbered(row, seq), recovered=True)
    if killed:
        logger.warning("ledger: %d lines added for rows a killed writer had committed", killed)
    if len(rows) > killed:
        logger.info(
            "ledger: %d lines added for rows stored before lines named their rows (schema < 5)",
            len(rows) - killed,
        )
    return len(rows)


class _Renumbered:
    """A row read before its seq was set: the same columns, the new seq."""

    def __init__(self, row: Any, seq: int) -> None:
        self._row = row
        self.ledger_seq = seq

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)


def write_paired(
    ledger: Ledger,
    store,
    kind: Paired,
    n: int,
    commit: Callable[[list[int]], list[Any]],
    **extra: Any,
) -> list[Any]:
    """Commit ``n`` rows of ``kind`` and append their lines, under the ledger's lock.

    ``commit(seqs)`` stores the rows with these seqs in one transaction and returns them
    as read back in that transaction, in seq order; ``extra`` goes into every line.
    """
    if n == 0:
        return commit([])
    with ledger.batch() as batch:
        _complete(store, batch, unnumbered=False)
        rows = commit(batch.seqs(n))
        for row in rows:
            add_line(batch, kind, row, **extra)
    return rows


def complete_pairs(ledger: Ledger, store) -> int:
    """The step at the start of every command that writes: lines for every row that has
    none yet (a killed writer's, or one stored before the rule). Returns how many."""
    with ledger.batch() as batch:
        return _complete(store, batch, unnumbered=True)
