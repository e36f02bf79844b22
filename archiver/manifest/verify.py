"""`archive verify`: prove the WARC files, the snapshots and the ledger still agree.

1. Every WARC file is read record by record (``warcscan``): each gzip member inflates
   cleanly, each record's block and payload digests re-compute.
2. A closed file's size and sha256 must equal those in its `warc_file` row and its
   `warc-closed` ledger line — the only check that sees bytes outside every digest
   (gzip headers).
3. Every snapshot row's (warc, offset, length) must be a record with the recorded
   record id whose decoded body hashes to the recorded document digest; a revisit's
   WARC-Refers-To record must exist.
4. The ledger's hash chain must be unbroken, and its snapshot, warc-closed and review
   lines must agree with the store — which also guards the last line, the one no
   successor's ``prev`` protects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from archiver.manifest.ledger import LEDGER_NAME, Ledger
from archiver.manifest.warcscan import RecordFacts, WarcScan, odd_headers, scan_warc
from archiver.store import schema as t

OPEN_SUFFIX = ".open"


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

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        verdict = "all hold" if self.ok else f"{len(self.problems)} problem(s)"
        return (
            f"Verified {self.files} WARC files ({self.records} records), "
            f"{self.snapshots} snapshots, ledger of {self.ledger_lines} lines: {verdict}."
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "files": self.files,
            "records": self.records,
            "snapshots": self.snapshots,
            "ledger_lines": self.ledger_lines,
            "problems": [p.as_dict() for p in self.problems],
        }


# ------------------------------------------------------------------ the ledger


@dataclass
class LedgerFacts:
    """What verify needs from the ledger, gathered in one pass: the last line of each kind."""

    lines: int = 0
    snapshots: dict[str, tuple[int, dict]] = field(default_factory=dict)
    closed: dict[str, tuple[int, dict]] = field(default_factory=dict)
    reviews: dict[tuple[str, int], tuple[int, dict]] = field(default_factory=dict)


def read_ledger(ledger: Ledger) -> LedgerFacts:
    facts = LedgerFacts(lines=sum(1 for _ in ledger.lines()))
    for n, obj in ledger.events():
        event = obj.get("event")
        if event == "snapshot":
            facts.snapshots[str(obj.get("record_id"))] = (n, obj)
        elif event == "warc-closed":
            facts.closed[str(obj.get("warc"))] = (n, obj)
        elif event == "review":
            facts.reviews[(str(obj.get("article")), obj.get("citation"))] = (n, obj)
    return facts


def snapshot_line_problems(snap: Any, entry: tuple[int, dict] | None, file: str) -> list[Problem]:
    if entry is None:
        return [Problem(file, f"no snapshot line for {snap.record_id} ({snap.warc}@{snap.offset})")]
    n, obj = entry
    fields = ("warc", "offset", "length", "payload_digest")
    differ = [k for k in fields if obj.get(k) != getattr(snap, k)]
    if not differ:
        return []
    return [
        Problem(
            file,
            f"snapshot line for {snap.record_id} disagrees with the store on {', '.join(differ)}",
            line=n,
        )
    ]


def review_line_problems(row: Any, entry: tuple[int, dict] | None, file: str) -> list[Problem]:
    ref = f"{row.article_id}:{row.n}"
    if entry is None:
        if row.state == "pending":
            return []
        return [Problem(file, f"review of {ref} ({row.state}) has no ledger line")]
    n, obj = entry
    differ = [k for k in ("state", "note", "by") if obj.get(k) != getattr(row, k)]
    if not differ:
        return []
    return [
        Problem(
            file,
            f"last review line for {ref} disagrees with the store on {', '.join(differ)}",
            line=n,
        )
    ]


# ------------------------------------------------------------------ WARC files


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def closed_file_problems(
    file: str,
    path: Path,
    scan: WarcScan,
    recorded: dict[str, tuple[int, str]],
    sha: Future[str] | None = None,
) -> list[Problem]:
    """Size and sha256 now against those recorded when the file was closed.

    ``sha``: the file's sha256 being worked out on another thread, if it is.
    """
    if not recorded:
        return [
            Problem(
                file,
                "closed WARC file with no recorded size and sha256 "
                "(no warc_file row, no warc-closed ledger line)",
            )
        ]
    size, sha = scan.size, sha.result() if sha is not None else sha256_file(path)
    if len(set(recorded.values())) > 1:
        return [Problem(file, "the store and the ledger record different size/sha256")]
    rec_size, rec_sha = next(iter(recorded.values()))
    where = " and ".join(recorded)
    found = []
    if size != rec_size:
        found.append(Problem(file, f"size {size} but {where} recorded {rec_size}"))
    if sha != rec_sha:
        found.append(
            Problem(
                file,
                f"sha256 {sha} but {where} recorded {rec_sha}: "
                "the file changed after it was closed",
            )
        )
        found += [
            Problem(
                file,
                "gzip header differs from the file's other members "
                "(bytes no record digest covers were changed)",
                offset=off,
            )
            for off in odd_headers(scan)
        ]
    return found


def snapshot_problems(snap: Any, facts: RecordFacts | None, file: str) -> list[Problem]:
    """Does the record at the snapshot's offset hold what the snapshot row says?"""
    off = snap.offset
    if facts is None:
        return [
            Problem(file, f"no intact WARC record here for snapshot {snap.record_id}", offset=off)
        ]
    checks = [
        (
            facts.record_id == snap.record_id,
            f"record is {facts.record_id}, the snapshot says {snap.record_id}",
        ),
        (
            facts.length == snap.length,
            f"gzip member is {facts.length} bytes, the snapshot says {snap.length}",
        ),
        (
            facts.record_type == snap.record_type,
            f"record is a {facts.record_type}, the snapshot says {snap.record_type}",
        ),
        (
            not snap.warc_payload_digest
            or snap.record_type != "response"
            or facts.warc_payload_digest == snap.warc_payload_digest,
            f"WARC-Payload-Digest {facts.warc_payload_digest} differs from the snapshot's "
            f"{snap.warc_payload_digest}",
        ),
        (
            snap.record_type != "response"
            or not snap.payload_digest
            or facts.document_digest == snap.payload_digest,
            f"document digest {facts.document_digest} differs from the snapshot's "
            f"{snap.payload_digest}",
        ),
    ]
    return [Problem(file, what, offset=off) for ok, what in checks if not ok]


def revisit_problems(facts: RecordFacts, known_ids: set[str], file: str) -> list[Problem]:
    if facts.refers_to is None:
        return [Problem(file, "revisit record has no WARC-Refers-To", offset=facts.offset)]
    if facts.refers_to not in known_ids:
        return [
            Problem(
                file,
                f"revisit refers to {facts.refers_to}, found in no WARC file",
                offset=facts.offset,
            )
        ]
    return []


# ------------------------------------------------------------------ orchestration


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _files_on_disk(warcs: Path, root: Path) -> dict[str, Path]:
    """Final name (relative) → the path on disk: the final file, else its `.open`."""
    found: dict[str, Path] = {}
    for path in sorted(warcs.rglob("*.warc.gz" + OPEN_SUFFIX)):
        found[_rel(path, root).removesuffix(OPEN_SUFFIX)] = path
    for path in sorted(warcs.rglob("*.warc.gz")):
        found[_rel(path, root)] = path
    return found


def _locate(name: str, root: Path, on_disk: dict[str, Path]) -> Path | None:
    if name in on_disk:
        return on_disk[name]
    for candidate in (root / name, root / (name + OPEN_SUFFIX)):
        if candidate.exists():
            return candidate
    return None


def _load(store) -> tuple[list[Any], list[Any], list[Any]]:
    s, c, rv = t.snapshot, t.citation, t.review
    with store.read() as conn:
        snaps = conn.execute(
            select(
                s.c.id,
                s.c.warc,
                s.c.offset,
                s.c.length,
                s.c.record_id,
                s.c.record_type,
                s.c.payload_digest,
                s.c.warc_payload_digest,
            ).order_by(s.c.warc, s.c.offset)
        ).all()
        files = conn.execute(select(t.warc_file)).all()
        reviews = conn.execute(
            select(c.c.article_id, c.c.n, rv.c.state, rv.c.note, rv.c.by)
            .join(c, c.c.id == rv.c.citation_id)
            .order_by(c.c.article_id, c.c.n)
        ).all()
    return snaps, files, reviews


def _recorded(name: str, rows: dict[str, Any], ledger: LedgerFacts) -> dict[str, tuple[int, str]]:
    recorded = {}
    row = rows.get(name)
    if row is not None and row.sha256:
        recorded["warc_file row"] = (row.size, row.sha256)
    line = ledger.closed.get(name)
    if line is not None:
        recorded[f"ledger line {line[0]}"] = (line[1].get("size"), line[1].get("sha256"))
    return recorded


def _by_file(snaps: Iterable[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for snap in snaps:
        out.setdefault(snap.warc, []).append(snap)
    return out


class _Verifier:
    def __init__(self, app) -> None:
        self.root = app.settings.root
        self.warcs = app.settings.warcs_path
        self.ledger = Ledger(app.settings.manifests_path / LEDGER_NAME)
        self.ledger_file = _rel(self.ledger.path, self.root)
        self.snaps, files, self.reviews = _load(app.store)
        self.rows = {r.path: r for r in files}
        self.facts = read_ledger(self.ledger)
        self.records = 0
        self.known_ids: set[str] = set()
        self.revisits: list[tuple[str, RecordFacts]] = []
        self.shas: dict[str, Future[str]] = {}

    def names(self, on_disk: dict[str, Path]) -> list[str]:
        referenced = {s.warc for s in self.snaps} | set(self.rows) | set(self.facts.closed)
        return sorted(set(on_disk) | referenced)

    def check_file(self, name: str, path: Path | None, snaps: list[Any]) -> Iterator[Problem]:
        if path is None:
            yield Problem(name, "WARC file missing (referenced by the store or the ledger)")
            return
        file, growing = _rel(path, self.root), path.name.endswith(OPEN_SUFFIX)
        scan = scan_warc(path, wanted={s.offset for s in snaps}, growing=growing)
        self.records += len(scan.records)
        self.known_ids.update(f.record_id for f in scan.records.values() if f.record_id)
        yield from (Problem(file, what, offset=off) for off, what in scan.problems)
        if not growing:
            yield from closed_file_problems(
                file, path, scan, _recorded(name, self.rows, self.facts), self.shas.get(name)
            )
        for snap in snaps:
            facts = scan.records.get(snap.offset)
            yield from snapshot_problems(snap, facts, file)
            if facts is not None and facts.record_type == "revisit":
                self.revisits.append((file, facts))

    def check_ledger(self) -> Iterator[Problem]:
        file = self.ledger_file
        yield from (Problem(file, what, line=n) for n, what in self.ledger.breaks())
        for snap in self.snaps:
            yield from snapshot_line_problems(snap, self.facts.snapshots.get(snap.record_id), file)
        for row in self.reviews:
            yield from review_line_problems(
                row, self.facts.reviews.get((row.article_id, row.n)), file
            )

    def run(self) -> VerifyReport:
        on_disk = _files_on_disk(self.warcs, self.root)
        by_file = _by_file(self.snaps)
        located = {name: _locate(name, self.root, on_disk) for name in self.names(on_disk)}
        problems: list[Problem] = []
        # each closed file's own sha256 is read on a thread beside the record scan:
        # hashlib lets go of the GIL, so with a second core it costs no wall time
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify-sha") as pool:
            self.shas = {
                name: pool.submit(sha256_file, path)
                for name, path in located.items()
                if path is not None and not path.name.endswith(OPEN_SUFFIX)
            }
            for name, path in located.items():
                problems += self.check_file(name, path, by_file.get(name, []))
        for file, facts in self.revisits:  # after every file: a revisit may refer to any
            problems += revisit_problems(facts, self.known_ids, file)
        problems += self.check_ledger()
        files = sum(1 for path in located.values() if path is not None)
        return VerifyReport(files, self.records, len(self.snaps), self.facts.lines, tuple(problems))


def verify(app) -> VerifyReport:
    """Re-read every WARC file and the ledger; every disagreement is one Problem."""
    return _Verifier(app).run()
