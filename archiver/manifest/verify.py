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
6. Every stored RFC 3161 timestamp token holds for its subject (`manifest.tokens`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from archiver.errors import ArchiverError
from archiver.evidence import check as evidence_check
from archiver.ledger.chain import LEDGER_NAME, Ledger
from archiver.ledger.events import Paired
from archiver.ledger.matching import pair_problems
from archiver.manifest.tokens import check_stored_tokens
from archiver.manifest.verify_report import Problem, VerifyReport
from archiver.manifest.verify_rules import (
    LedgerFacts,
    closed_file_problems,
    read_ledger,
    reuse_problems,
    review_line_problems,
    revisit_problems,
    screenshot_problems,
    snapshot_line_problems,
    snapshot_problems,
    snapshot_unchecked,
)
from archiver.manifest.warcscan import WarcScan, join_parts, scan_warc
from archiver.warcfiles.listing import find_open_files
from archiver.warcfiles.reader import RecordFacts, file_sha256
from archiver.warcfiles.writer import OPEN_SUFFIX

PART_BYTES = 64 << 20  # a file is read in parts of about this many bytes ...
PARALLEL_BYTES = 96 << 20  # ... by a process pool when there are this many to read
MAX_WORKERS = 8


# ------------------------------------------------------------------ orchestration


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _files_on_disk(warcs: Path, root: Path) -> dict[str, Path]:
    """Final name (relative) → the path on disk: the final file, else its `.open`."""
    found: dict[str, Path] = {}
    for path in find_open_files(warcs):
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
        audit = app.store.audit_rows()
        self.snaps, self.reviews = audit.snapshots, audit.reviews
        self.reuses = _by_file(app.store.reuse_references())
        self.shots = _by_file(app.store.all_screenshots())
        self.rows = {r.path: r for r in audit.warc_files}
        self.facts = read_ledger(self.ledger)
        self.paired = {kind: app.store.all_paired_rows(kind) for kind in Paired}
        self.records = 0
        self.unchecked: list[Problem] = []
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
            self.unchecked += snapshot_unchecked(snap, facts, file)
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
            unchecked=tuple(self.unchecked),
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
