"""What a capture returns: the attempt's state, its snapshot, the resources it wrote.

Frozen records the run (`archiver.runs.capture`) hands to the store in one
transaction; the engine never touches the store itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from archiver.states import CaptureState


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """One captured page: where its record is, what it answered, what the page was.

    The defaults are the snapshot table's column defaults."""

    captured_at: datetime
    warc: str
    offset: int
    length: int
    record_id: str
    final_url: str
    record_type: str = "response"
    status: int | None = None
    redirects: list[Any] = field(default_factory=list)
    content_type: str | None = None
    payload_digest: str | None = None
    warc_payload_digest: str | None = None
    size: int = 0
    title: str | None = None
    text: str | None = None
    text_fingerprint: str | None = None
    resources: int = 0
    truncated: bool = False
    good: bool = False
    quality: str | None = None
    reasons: list[dict[str, str]] | None = None  # the judgement's evidence, strongest first
    evidence: dict[str, Any] | None = None  # `evidence.summary.snapshot_evidence`

    def columns(self) -> dict[str, Any]:
        """The snapshot row's columns (without target and ledger seq)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, kw_only=True)
class CaptureOutcome:
    """What one capture attempt of a target produced."""

    state: CaptureState
    snapshots: list[Snapshot] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    retry_after: float | None = None
    # the requisites the snapshot relies on without having fetched them (the copies it
    # uses: url, record_id, warc, offset, warc_date); stored with the last snapshot
    reused: list[dict[str, Any]] = field(default_factory=list)
