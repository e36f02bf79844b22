"""How archiver writes a UTC time, in one place.

- `iso`: ISO 8601 to the second, with ``Z``, for people and files (manifests, evidence
  summaries, timestamp lines, WACZ packages).
- `iso_micro`: to the microsecond, with ``Z``, where a time is a record's (ledger lines
  and the row digests they carry, WARC-Date, connection evidence, stored JSON).
- `iso_milli`: to the millisecond, with ``Z``, for log lines.
- `digits`: the 14 digits of a WARC file name and a Memento/Wayback timestamp.
- `day`, `minutes`: for people (a citation's date; "2026-12-05 12:00 UTC" in pages).

`parse` reads back what these write (``Z`` or an offset).

`now` is the clock everything defaults to; tests inject their own (the App's ``clock``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

ISO_SECONDS = "%Y-%m-%dT%H:%M:%SZ"

Clock = Callable[[], datetime]  # `now`, or the clock a test injects
DIGITS = "%Y%m%d%H%M%S"


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


def iso_milli(dt: datetime) -> str:
    """A UTC ``dt`` as 2026-12-05T12:00:00.000Z (milliseconds cut, not rounded)."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def digits(dt: datetime) -> str:
    """A UTC ``dt`` as 20261205120000."""
    return dt.strftime(DIGITS)


def day(dt: datetime) -> str:
    """A UTC ``dt``'s date, 2026-12-05."""
    return dt.strftime("%Y-%m-%d")


def minutes(dt: datetime) -> str:
    """A UTC ``dt`` for people, to the minute: 2026-12-05 12:00 UTC."""
    return dt.strftime("%Y-%m-%d %H:%M UTC")


def parse(text: str) -> datetime:
    """An ISO 8601 time as written here (``Z``) or with an offset."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
