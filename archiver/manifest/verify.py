"""`archive verify`: prove the WARC files, the snapshots and the ledger still agree.

1. Every WARC file is read record by record (``warcscan``): each gzip member inflates
   cleanly, each record's block and payload digests re-compute. With more than one CPU
   and enough bytes to read, files are read in parts (cut at snapshot offsets, which are
   member starts) by a pool of processes and each file's parts joined into what one
   reading of the file finds; the files' own sha256s are worked out in the same pool.
2. A closed file's size and sha256 must equal those in its `warc_file` row and its
   `warc-closed` ledger line — the only check that sees bytes outside every digest
   (gzip headers).
3. Every snapshot row's (warc, offset, length) must be a record with the recorded
   record id whose decoded body hashes to the recorded document digest; a revisit's
   WARC-Refers-To record must exist; every screenshot row's, a resource record with
   its record id (its digests are re-computed with every record's, step 1).
4. The ledger's hash chain must be unbroken, and its snapshot, warc-closed and review
   lines must agree with the store — which also guards the last line, the one no
   successor's ``prev`` protects.
5. Rows and lines pair up both ways (`ledger.pairs`): every snapshot, check, review
   and warc_file row has a line naming it whose digest is the row's content digest,
   every line naming a row names one that exists, and a snapshot or check row has one
   line only.
6. Every stored RFC 3161 timestamp token holds for its subject (`evidence.stamps`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from archiver.errors import ArchiverError
from archiver.evidence import check as evidence_check
from archiver.evidence.stamps import check_stored_tokens
from archiver.ledger.chain import LEDGER_NAME, Ledger
from archiver.ledger.events import Paired
from archiver.ledger.matching import PairedLines, pair_problems
from archiver.manifest.warcscan import WarcScan, join_parts, odd_headers, scan_warc
from archiver.store import schema as t
from archiver.warcfiles.reader import RecordFacts, file_sha256
from archiver.warcfiles.writer import OPEN_SUFFIX

PART_BYTES = 64 << 20  # a file is read in parts of about this many bytes ...
PARALLEL_BYTES = 96 << 20  # ... by a process pool when there are this many to read
MAX_WORKERS = 8


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
    tokens: tuple[dict[str, Any], ...] = ()  # timestamp tokens (`evidence.stamps`)
    evidence: dict[str, int] = field(default_factory=dict)  # issue 21: records, snapshots

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        verdict = "all hold" if self.ok else f"{len(self.problems)} problem(s)"
        tokens = f", {len(self.tokens)} timestamp tokens" if self.tokens else ""
        records = self.evidence.get("records", 0)
        evidence = f", {records} connection evidence records" if records else ""
        return (
            f"Verified {self.files} WARC files ({self.records} records), "
            f"{self.snapshots} snapshots, ledger of {self.ledger_lines} lines{tokens}"
            f"{evidence}: {verdict}."
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
        }


# ------------------------------------------------------------------ the ledger


@dataclass
class LedgerFacts:
    """What verify needs from the ledger, gathered in one pass: the last line of each kind."""

    lines: int = 0
    snapshots: dict[str, tuple[int, dict]] = field(default_factory=dict)
    closed: dict[str, tuple[int, dict]] = field(default_factory=dict)
    reviews: dict[tuple[str, int], tuple[int, dict]] = field(default_factory=dict)
    paired: PairedLines = field(default_factory=PairedLines)


def read_ledger(ledger: Ledger) -> LedgerFacts:
    facts = LedgerFacts(lines=sum(1 for _ in ledger.lines()))
    for n, obj in ledger.events():
        facts.paired.take(n, obj)
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


def closed_file_problems(
    file: str,
    path: Path,
    scan: WarcScan,
    recorded: dict[str, tuple[int, str]],
    sha: str | None = None,
) -> list[Problem]:
    """Size and sha256 now against those recorded when the file was closed.

    ``sha``: the file's sha256 if it was already worked out.
    """
    if not recorded:
        return [
            Problem(
                file,
                "closed WARC file with no recorded size and sha256 "
                "(no warc_file row, no warc-closed ledger line)",
            )
        ]
    size, sha = scan.size, sha if sha is not None else file_sha256(path)
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


def reuse_problems(ref: Any, facts: RecordFacts | None, file: str) -> list[Problem]:
    """Is the requisite copy a snapshot relies on (snapshot_reuse) where the store says?"""
    whose = f"reused {ref.url} of snapshot {ref.snapshot_record_id}"
    if facts is None:
        return [Problem(file, f"no intact WARC record here for the {whose}", offset=ref.offset)]
    if facts.record_id != ref.record_id:
        return [
            Problem(
                file,
                f"record is {facts.record_id}, the {whose} says {ref.record_id}",
                offset=ref.offset,
            )
        ]
    if facts.record_type not in ("response", "revisit"):
        return [Problem(file, f"the {whose} is a {facts.record_type} record", offset=ref.offset)]
    return []


def screenshot_problems(shot: Any, facts: RecordFacts | None, file: str) -> list[Problem]:
    """Is a screenshot (issue 20) the resource record its row says, where it says?"""
    off = shot.offset
    if facts is None:
        return [Problem(file, f"no intact WARC record here for screenshot {shot.record_id}", off)]
    checks = [
        (
            facts.record_id == shot.record_id,
            f"record is {facts.record_id}, the screenshot says {shot.record_id}",
        ),
        (
            facts.length == shot.length,
            f"gzip member is {facts.length} bytes, the screenshot says {shot.length}",
        ),
        (facts.record_type == "resource", f"the screenshot is a {facts.record_type} record"),
        (
            hex_digest(facts.warc_payload_digest) == shot.digest,
            f"the record's payload is {hex_digest(facts.warc_payload_digest)}, "
            f"the screenshot says {shot.digest}",
        ),
    ]
    return [Problem(file, what, offset=off) for ok, what in checks if not ok]


def hex_digest(warc_digest: str | None) -> str | None:
    """A WARC-Payload-Digest as the store writes digests: 'sha256:' + hex, not base32
    (warcio checks the header against the bytes; this ties the row to the header)."""
    algorithm, _, value = (warc_digest or "").partition(":")
    try:
        return f"{algorithm}:{base64.b32decode(value).hex()}"
    except (ValueError, binascii.Error):
        return None


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
                s.c.ledger_seq,
                s.c.evidence,
            ).order_by(s.c.warc, s.c.offset)
        ).all()
        files = conn.execute(select(t.warc_file)).all()
        reviews = conn.execute(
            select(c.c.article_id, c.c.n, rv.c.state, rv.c.note, rv.c.by, rv.c.ledger_seq)
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


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _plan(size: int, offsets: list[int], part_bytes: int) -> list[tuple[int, int | None]]:
    """(start, stop) parts of a file of ``size`` bytes, cut at known member offsets."""
    cuts = [0]
    for off in sorted(offsets):
        if off - cuts[-1] >= part_bytes and size - off >= part_bytes // 2:
            cuts.append(off)
    return [(a, b) for a, b in zip(cuts, [*cuts[1:], None], strict=True)]


def _parallel_ok() -> bool:
    """May this process fork workers? Not with other threads running (a lock one of
    them holds would stay held in the child), nor where there is no fork."""
    return threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()


def _result(future: Future):
    """The future's result, waited for in short steps: a signal (Ctrl-C) may be delivered
    to one of the pool's threads, and a main thread blocked in one long wait would not
    see it until the future is done."""
    while not wait([future], timeout=0.2).done:
        pass
    return future.result()


def _worker_init() -> None:
    # Ctrl-C is the parent's to handle: it cancels what is queued and stops the workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _Pool:
    """A process pool whose workers are stopped, not waited for, if verify is cut short."""

    def __init__(self, workers: int) -> None:
        # forked workers start at once with the scanner imported, and only ever run
        # scan_warc and file_sha256 (never the store's connections they inherit); a
        # spawned worker would re-import the caller's main module. Only forked from a
        # process without other threads (see `_parallel_ok`).
        ctx = multiprocessing.get_context("fork")
        self.pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init)

    def __enter__(self) -> ProcessPoolExecutor:
        return self.pool

    def __exit__(self, kind, exc, tb) -> None:
        if kind is None:
            self.pool.shutdown(wait=True)
            return
        # the executor has no public way to stop running work; its worker processes
        # (taken before shutdown forgets them) are stopped here, what is queued cancelled
        procs = list((getattr(self.pool, "_processes", None) or {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            proc.terminate()
        # then let the executor wind down: nothing is left to run, its manager thread
        # notices the stopped workers and joins them
        self.pool.shutdown(wait=True)
        for proc in procs:
            proc.join()
        if isinstance(exc, BrokenProcessPool):
            raise ArchiverError(f"verify: a worker process died ({exc})") from None


class _Verifier:
    def __init__(self, app, workers: int | None, part_bytes: int) -> None:
        self.root = app.settings.root
        self.warcs = app.settings.warcs_path
        self.ledger = Ledger(app.settings.manifests_path / LEDGER_NAME)
        self.ledger_file = _rel(self.ledger.path, self.root)
        self.snaps, files, self.reviews = _load(app.store)
        self.reuses = _by_file(app.store.reuse_references())
        self.shots = _by_file(app.store.all_screenshots())
        self.rows = {r.path: r for r in files}
        self.facts = read_ledger(self.ledger)
        self.paired = {kind: app.store.all_paired_rows(kind) for kind in Paired}
        self.records = 0
        self.known_ids: set[str] = set()
        self.revisits: list[tuple[str, RecordFacts]] = []
        self.evidence: list[tuple[str, int, evidence_check.EvidenceFacts]] = []
        self.workers = workers
        self.part_bytes = part_bytes

    def names(self, on_disk: dict[str, Path]) -> list[str]:
        referenced = {s.warc for s in self.snaps} | set(self.rows) | set(self.facts.closed)
        referenced |= set(self.reuses) | set(self.shots)
        return sorted(set(on_disk) | referenced)

    def check_file(
        self,
        name: str,
        path: Path | None,
        snaps: list[Any],
        scan: WarcScan | None,
        sha: str | None,
    ) -> Iterator[Problem]:
        if path is None or scan is None:
            yield Problem(name, "WARC file missing (referenced by the store or the ledger)")
            return
        file, growing = _rel(path, self.root), path.name.endswith(OPEN_SUFFIX)
        self.records += len(scan.records)
        self.known_ids.update(f.record_id for f in scan.records.values() if f.record_id)
        self.evidence += [(file, o, f.evidence) for o, f in scan.records.items() if f.evidence]
        yield from (Problem(file, what, offset=off) for off, what in scan.problems)
        if not growing:
            yield from closed_file_problems(
                file, path, scan, _recorded(name, self.rows, self.facts), sha
            )
        for snap in snaps:
            facts = scan.records.get(snap.offset)
            yield from snapshot_problems(snap, facts, file)
            if facts is not None and facts.record_type == "revisit":
                self.revisits.append((file, facts))
        for ref in self.reuses.get(name, []):
            yield from reuse_problems(ref, scan.records.get(ref.offset), file)
        for shot in self.shots.get(name, []):
            yield from screenshot_problems(shot, scan.records.get(shot.offset), file)

    def check_ledger(self) -> Iterator[Problem]:
        file = self.ledger_file
        yield from (Problem(file, what, line=n) for n, what in self.ledger.breaks())
        # rows stored before lines named their rows are matched the old way too
        for snap in self.snaps:
            if snap.ledger_seq is None:
                line = self.facts.snapshots.get(snap.record_id)
                yield from snapshot_line_problems(snap, line, file)
        for row in self.reviews:
            if row.ledger_seq is None:
                line = self.facts.reviews.get((row.article_id, row.n))
                yield from review_line_problems(row, line, file)
        by_row, by_line = pair_problems(self.paired, self.facts.paired)
        for where, n, what in by_row:
            yield Problem(where, what) if n is None else Problem(file, what, line=n)
        yield from (Problem(file, what, line=n) for n, what in by_line)

    def pair_counts(self) -> dict[str, dict[str, int]]:
        counts = self.facts.paired.counts
        return {
            kind.value: {"rows": len(rows), "lines": counts.get(kind.value, 0)}
            for kind, rows in self.paired.items()
        }

    def scans(
        self, located: dict[str, Path | None], by_file: dict[str, list[Any]]
    ) -> Iterator[tuple[str, WarcScan | None, str | None]]:
        """(name, scan, the sha256 of a closed file if already worked out) in name order."""
        sizes = {}
        for name, path in located.items():
            if path is not None:
                try:
                    sizes[name] = os.path.getsize(path)
                except OSError:
                    sizes[name] = None  # gone since it was listed: scan_warc says so
        workers = min(self.workers or _cpus(), MAX_WORKERS)
        total = sum(size or 0 for size in sizes.values())
        small = total < PARALLEL_BYTES and self.workers is None
        if workers < 2 or small or not _parallel_ok():
            for name, path in located.items():
                if path is None:
                    yield name, None, None
                    continue
                growing = path.name.endswith(OPEN_SUFFIX)
                wanted = {s.offset for s in by_file.get(name, [])}
                yield name, scan_warc(path, wanted=wanted, growing=growing), None
            return
        with _Pool(workers) as pool:
            # the long whole-file hashes first, so they do not end up alone at the end
            closed = [n for n in sizes if not located[n].name.endswith(OPEN_SUFFIX)]
            shas: dict[str, Future[str]] = {
                name: pool.submit(file_sha256, located[name])
                for name in sorted(closed, key=lambda n: -(sizes[n] or 0))
            }
            parts: dict[str, list[Future[WarcScan]]] = {}
            for name, size in sizes.items():
                path, offsets = located[name], [s.offset for s in by_file.get(name, [])]
                growing = path.name.endswith(OPEN_SUFFIX)
                plan = _plan(size, offsets, self.part_bytes) if size else [(0, None)]
                parts[name] = [
                    pool.submit(
                        scan_warc,
                        path,
                        wanted={o for o in offsets if o >= start and (stop is None or o < stop)},
                        growing=growing,
                        start=start,
                        stop=stop,
                        size=size,
                    )
                    for start, stop in plan
                ]
            for name, path in located.items():
                if path is None:
                    yield name, None, None
                    continue
                done = [_result(f) for f in parts.pop(name)]
                growing = path.name.endswith(OPEN_SUFFIX)
                wanted = {s.offset for s in by_file.get(name, [])}
                scan = (
                    done[0]
                    if len(done) == 1
                    else join_parts(path, done, wanted=wanted, growing=growing)
                )
                sha = _result(shas.pop(name)) if name in shas else None
                yield name, scan, sha

    def run(self) -> VerifyReport:
        on_disk = _files_on_disk(self.warcs, self.root)
        by_file = _by_file(self.snaps)
        located = {name: _locate(name, self.root, on_disk) for name in self.names(on_disk)}
        problems: list[Problem] = []
        # closed at once on any error (Ctrl-C too), which stops the pool's workers
        with contextlib.closing(self.scans(located, by_file)) as scans:
            for name, scan, sha in scans:
                problems += self.check_file(name, located[name], by_file.get(name, []), scan, sha)
        for file, facts in self.revisits:  # after every file: a revisit may refer to any
            problems += revisit_problems(facts, self.known_ids, file)
        found, evidence = evidence_check.check(self.evidence, self.known_ids, self.snaps)
        problems += [Problem(file, what, offset=off) for file, off, what in found]
        problems += self.check_ledger()
        files = sum(1 for path in located.values() if path is not None)
        return VerifyReport(
            files,
            self.records,
            len(self.snaps),
            self.facts.lines,
            tuple(problems),
            self.pair_counts(),
            evidence=evidence.as_dict(),
        )


def verify(app, *, workers: int | None = None, part_bytes: int = PART_BYTES) -> VerifyReport:
    """Re-read every WARC file and the ledger; every disagreement is one Problem.

    ``workers``: processes reading WARC files (default: one per CPU, and none below
    ``PARALLEL_BYTES`` of WARC; none either while this process runs other threads);
    ``part_bytes``: about how much of a file each reads.
    """
    report = _Verifier(app, workers, part_bytes).run()
    results, problems = check_stored_tokens(app)
    found = tuple(Problem(file, what) for file, what in problems)
    tokens = tuple(r.as_dict() for r in results)
    return dataclasses.replace(report, problems=report.problems + found, tokens=tokens)
