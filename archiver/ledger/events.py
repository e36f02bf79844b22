"""The events a ledger line records.

Each kind of row with a ledger line (`Paired`: a snapshot, check, review decision,
closed WARC file, timestamp token, screenshot) is an event of that name, and the line
names its row by `KEYS`; recovery's removal of snapshots past a killed writer's bytes is
the one event without a row (`DROPPED`).
"""

from __future__ import annotations

from enum import Enum


class Paired(Enum):
    """A kind of row that has a ledger line; the value is the line's event."""

    SNAPSHOT = "snapshot"
    CHECK = "check"
    REVIEW = "review"
    WARC_CLOSED = "warc-closed"
    TIMESTAMP = "timestamp"  # an RFC 3161 token got (issue 21); a queued row has no line
    SCREENSHOT = "screenshot"  # a PNG of a snapshot (issue 20)


# the primary key a ledger line names as "row"
KEYS: dict[Paired, str] = {
    Paired.SNAPSHOT: "id",
    Paired.CHECK: "id",
    Paired.REVIEW: "citation_id",
    Paired.WARC_CLOSED: "path",
    Paired.TIMESTAMP: "id",
    Paired.SCREENSHOT: "id",
}

DROPPED = "snapshot-dropped"  # recovery removed snapshots past a killed writer's bytes
