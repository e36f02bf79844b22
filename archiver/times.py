"""How archiver writes a UTC time for people and files: ISO 8601 to the second, with
``Z`` (manifests, evidence summaries, timestamp lines, WACZ packages)."""

from __future__ import annotations

from datetime import datetime

ISO_SECONDS = "%Y-%m-%dT%H:%M:%SZ"


def iso(dt: datetime | None) -> str | None:
    """A UTC ``dt`` as 2026-12-05T12:00:00Z; None stays None."""
    return None if dt is None else dt.strftime(ISO_SECONDS)
