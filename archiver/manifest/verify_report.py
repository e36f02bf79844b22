"""What `archive verify` reports: each problem found (file, offset or line, what), and
the counts of what it read (`VerifyReport`, also `archive verify --json`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    file: str
    what: str
    offset: int | None = None
    line: int | None = None

    def __str__(self) -> str:
        if self.offset is not None:
            return f"{self.file}:{self.offset}: {self.what}"
        if self.line is not None:
            return f"{self.file}:line {self.line}: {self.what}"
        return f"{self.file}: {self.what}"

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "offset": self.offset, "line": self.line, "what": self.what}


@dataclass(frozen=True)
class VerifyReport:
    files: int
    records: int
    snapshots: int
    ledger_lines: int
    problems: tuple[Problem, ...]
    pairs: dict[str, dict[str, int]] = field(default_factory=dict)  # kind → rows, lines
    tokens: tuple[dict[str, Any], ...] = ()  # timestamp tokens (`manifest.tokens`)
    evidence: dict[str, int] = field(default_factory=dict)  # issue 21: records, snapshots
    # what this install could not check, and why (`verify_rules.snapshot_unchecked`):
    # said, not counted as a problem
    unchecked: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        verdict = "all hold" if self.ok else f"{len(self.problems)} problem(s)"
        tokens = f", {len(self.tokens)} timestamp tokens" if self.tokens else ""
        records = self.evidence.get("records", 0)
        evidence = f", {records} connection evidence records" if records else ""
        unchecked = (
            f" {len(self.unchecked)} snapshot document digest(s) not checked here."
            if self.unchecked
            else ""
        )
        return (
            f"Verified {self.files} WARC files ({self.records} records), "
            f"{self.snapshots} snapshots, ledger of {self.ledger_lines} lines{tokens}"
            f"{evidence}: {verdict}.{unchecked}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "files": self.files,
            "records": self.records,
            "snapshots": self.snapshots,
            "ledger_lines": self.ledger_lines,
            "ledger_pairs": self.pairs,
            "timestamp_tokens": list(self.tokens),
            "evidence": self.evidence,
            "problems": [p.as_dict() for p in self.problems],
            "unchecked": [p.as_dict() for p in self.unchecked],
        }
