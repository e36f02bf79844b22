"""How archiver writes a UTC time, in one place.

- `iso`: ISO 8601 to the second, with ``Z``, for people and files (manifests, evidence
  summaries, timestamp lines, WACZ packages).
- `iso_micro`: to the microsecond, with ``Z``, where a time is a record's (ledger lines
  and the row digests they carry, WARC-Date, connection evidence, stored JSON).

`now` is the clock everything defaults to; tests inject their own (the App's ``clock``).
"""

from __future__ import annotations

from datetime import UTC, datetime

ISO_SECONDS = "%Y-%m-%dT%H:%M:%SZ"


def now() -> datetime:
    """The current time, UTC."""
    return datetime.now(UTC)


def iso(dt: datetime | None) -> str | None:
    """A UTC ``dt`` as 2026-12-05T12:00:00Z; None stays None."""
    return None if dt is None else dt.strftime(ISO_SECONDS)


def iso_micro(dt: datetime) -> str:
    """A UTC ``dt`` as 2026-12-05T12:00:00.000000Z: the bytes of
    ``strftime("%Y-%m-%dT%H:%M:%S.%fZ")`` at a third of the CPU (verify formats two per
    row)."""
    return dt.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
