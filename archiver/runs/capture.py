"""Capture every due target: claim, capture in a thread pool, store, ledger, manifests.

The CLI (`archive add`, `archive capture`) and the daemon call `capture_pending`.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from archiver.capture.engine import CaptureJob
from archiver.capture.outcome import CaptureOutcome
from archiver.capture.reuse import ReuseCache, stylesheet_children
from archiver.capture.target import capture_target
from archiver.errors import WarcWriteError
from archiver.interop.cdxj import index_closed
from archiver.ledger import ledger_for
from archiver.ledger.events import DROPPED, Paired
from archiver.ledger.pairs import complete_pairs, write_paired
from archiver.manifest import refresh
from archiver.progress import NoProgress, PlainProgress
from archiver.runs.dedup import DedupCache
from archiver.runs.gate import host_gate
from archiver.runs.pool import Claiming, Recording, WorkPool, run_pool
from archiver.states import CaptureState
from archiver.warcfiles.listing import find_open_files
from archiver.warcfiles.recover import recover_open_file
from archiver.warcfiles.writer import OPEN_SUFFIX, ClosedWarc, WarcSink
from archiver.workers import live_worker, worker_id

logger = logging.getLogger(__name__)

# Finished captures are stored up to RECORD_BATCH at a time (one transaction, one hold of
# the ledger's lock); while more than a batch and a pool's worth (RECORD_BATCH + workers)
# wait to be stored, nothing more is claimed: a slow store slows the run instead of
# piling up outcomes, and a batch being gathered never holds the pool back.
RECORD_BATCH = 64
RECORD_WAIT = 0.1  # seconds the recorder waits for more once one capture is in
CLAIM_WHEN_FREE = 4  # claim once 1/4 of the pool's threads are free


def file_tag(worker: str) -> str:
    """A worker id as a piece of a file name: 'scraper-2:4711' → 'scraper-2_4711'."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", worker).strip("._-")[:64]


@dataclass
class CaptureSummary:
    archived: int = 0
    failed: int = 0
    waiting: int = 0
    snapshots: int = 0
    held: int = 0  # due targets skipped because another live worker holds their claim
    failures: list[tuple[str, str]] = field(default_factory=list)
    articles: set[str] = field(default_factory=set)

    @property
    def attempted(self) -> int:
        return self.archived + self.failed + self.waiting

    def line(self) -> str:
        text = (
            "Nothing to capture."
            if not self.attempted
            else f"Captured {self.attempted} targets: {self.archived} archived, "
            f"{self.failed} failed, {self.waiting} waiting to retry "
            f"({self.snapshots} snapshots)."
        )
        if self.held:
            text += f" Skipped {_n(self.held, 'target')} another live worker is capturing."
        return text


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _on_close(app, worker: str | None = None):
    def closed(c: ClosedWarc) -> None:
        def commit(seqs: list[int]) -> list:
            app.store.record_closed_warc(
                path=c.warc,
                closed_at=c.closed_at,
                size=c.size,
                sha256=c.sha256,
                records=c.records,
                writer=worker or worker_id(),
                seq=seqs[0],
            )
            return app.store.read_paired(Paired.WARC_CLOSED, seqs)

        write_paired(
            ledger_for(app.settings, clock=app.clock), app.store, Paired.WARC_CLOSED, 1, commit
        )

    return closed


def make_sink(app, worker: str | None = None, *, tag: str | None = None) -> WarcSink:
    """The WARC writer; a named worker's files carry its id, so workers sharing one
    `warcs/` (NFS, several machines) each write their own files (``tag`` names files
    of another kind, e.g. screenshots)."""
    s = app.settings
    return WarcSink(
        root=s.root,
        warcs_dir=s.warcs_path,
        max_size=s.capture.warc_max_size,
        gzip_level=s.capture.gzip_level,
        on_close=_on_close(app, worker),
        clock=app.clock,
        name_tag=tag or (file_tag(worker) if worker else ""),
    )


def recover(app) -> list:
    """Close `.open` WARC files left by a killed process (never one still being written),
    and give the rows such a process committed the ledger lines it did not write."""
    complete_pairs(ledger_for(app.settings, clock=app.clock), app.store)
    recovered = []
    for path in find_open_files(app.settings.warcs_path):
        try:
            f = open(path, "rb")  # noqa: SIM115
        except FileNotFoundError:
            continue
        with f:
            try:  # a live writer holds this lock; a killed one released it
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            if _just_created(f) and not _writer_gone(path):
                continue  # a writer between O_CREAT and its flock; an empty file anyway
            # recorded before it is renamed, under the lock (see recover_open_file)
            r = recover_open_file(path, record=lambda r: _after_recovery(app, r))
        recovered.append(r)
    return recovered


def _just_created(f, seconds: float = 60.0) -> bool:
    st = os.fstat(f.fileno())
    return st.st_size == 0 and time.time() - st.st_mtime < seconds


def _writer_gone(path) -> bool:
    """Whether the process that created this WARC file is known to be dead: its name
    carries this host's worker tag (HOST_PID, `file_tag(worker_id())`) and no process has
    that pid. A run killed after it created a file but before it wrote to it left it
    empty; without this, the next minute's runs passed it by. A pid reused by a live
    process, or another host's or a named worker's tag, says nothing: wait the minute."""
    host = file_tag(worker_id().rsplit(":", 1)[0])
    found = re.search(rf"-{re.escape(host)}_(\d+)-\d{{5}}\.warc\.gz", path.name)
    if found is None:
        return False
    try:
        os.kill(int(found.group(1)), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False  # alive under another user; or no such pid at all
    return False


def _after_recovery(app, r) -> None:
    """Snapshots pointing past the kept bytes are dropped and their targets re-queued."""
    rel = r.warc.resolve().relative_to(app.settings.root.resolve()).as_posix()
    # under the ledger's lock: a snapshot removed here has its removal in the ledger
    with ledger_for(app.settings, clock=app.clock).batch() as batch:
        dropped = app.store.drop_past(rel, r.kept, app.clock())
        if dropped.snapshots or dropped.screenshots:
            # the rows' lines stay; this line says why the rows are gone
            shots = dropped.screenshots
            named = {"screenshots": shots} if shots else {}
            batch.add(DROPPED, warc=rel, rows=dropped.snapshots, kept=r.kept, **named)
    logger.warning(
        "recovered %s: kept %d bytes (%d records), set aside %d bytes, re-queued %d targets",
        rel,
        r.kept,
        r.records,
        r.dropped,
        dropped.requeued,
    )
    if r.kept:
        _on_close(app)(ClosedWarc(rel, r.kept, r.sha256, r.records, app.clock()))


@dataclass(frozen=True)
class _Finished:
    """A capture done and written, waiting for the recorder to store it."""

    target: Any
    outcome: CaptureOutcome
    citing: list[str]
    looked_up: list[dict]  # the DedupCache learns these once they are committed


class _Capturer(WorkPool):
    """One capture run: the shared pool, the WARC sink, dedup and reuse caches."""

    def __init__(self, app, sink: WarcSink, progress: PlainProgress, worker: str) -> None:
        s = app.settings
        # across every worker when the store is PostgreSQL, this process's threads on SQLite
        gate = host_gate(
            app.store, concurrency=s.capture.per_host_concurrency, delay=s.capture.per_host_delay
        )
        recording = Recording(
            name="capture-recorder", record=self.record, limit=RECORD_BATCH, wait=RECORD_WAIT
        )
        super().__init__(app, worker, progress, gate, recording)
        self.sink = sink
        self.summary = CaptureSummary()
        self.dedup = DedupCache(app.store.find_resource)
        self.reuse = _reuse_cache(app)

    def claiming(self, target_ids: list[int] | None) -> Claiming:
        s, workers = self.s, self.s.capture.workers

        def claim(limit: int) -> list:
            return self.app.store.claim_captures(
                worker=self.worker,
                lease=s.daemon.lease,
                limit=limit,
                max_attempts=s.capture.max_attempts,
                target_ids=target_ids,
            )

        def want(free: int, queued: int) -> int:
            # a slow store slows the run instead of piling up outcomes
            calm = self.recorder.backlog() <= RECORD_BATCH + workers
            return free if calm and _claim_now(free, workers) else 0

        return Claiming(
            threads=workers,
            name="capture",
            claim=claim,
            want=want,
            work=self.one,
            target_id=lambda row: row.id,
            drain=True,  # being stored: a target that failed may be due again at once
        )

    def one(self, target) -> _Finished:
        """Capture one claimed target; the recorder stores the outcome."""
        citing = self.app.store.citing_articles(target.id)
        job = CaptureJob(
            client=self.client(),
            sink=self.sink,
            settings=self.s.capture,
            find_resource=self.dedup.find,
            keepalive=self._keepalive(target.id),
            reuse=self.reuse,
            worker=self.worker,
        )
        outcome = capture_target(target.url, job, citing)
        return _Finished(target, outcome, citing, job.looked_up)

    def record(self, batch: list[_Finished]) -> None:
        """The batch's snapshot rows and their ledger lines, together (`ledger.pairs`):
        one transaction and one hold of the ledger's lock. The recorder thread calls this
        (the records are in the WARC, fsync'd, since `capture_target` returned)."""

        def commit(seqs: list[int]) -> list:
            return self.app.store.record_captures(
                [(f.target, f.outcome) for f in batch],
                self.worker,
                retry_backoff=self.s.capture.retry_backoff,
                retry_max=self.s.capture.retry_max,
                check_interval=self.s.check.interval,
                max_attempts=self.s.capture.max_attempts,
                seqs=seqs,
            )

        n = sum(len(f.outcome.snapshots) for f in batch)
        write_paired(
            ledger_for(self.s, clock=self.app.clock), self.app.store, Paired.SNAPSHOT, n, commit
        )
        for f in batch:
            self.dedup.stored(f.looked_up)
            self.done_with([f.target.id])
            self._count(f.target, f.outcome, f.citing)

    def _count(self, target, outcome, citing) -> None:
        with self.lock:
            s = self.summary
            s.snapshots += len(outcome.snapshots)
            s.articles.update(citing)
            if outcome.state == CaptureState.ARCHIVED:
                s.archived += 1
            elif outcome.state == CaptureState.PENDING:
                s.waiting += 1
                s.failures.append((target.url, outcome.error or "waiting"))
            else:
                s.failed += 1
                s.failures.append((target.url, outcome.error or "failed"))
        self.progress.advance(f"{outcome.state}: {target.url}")

    def _keepalive(self, target_id: int):
        """Renew the target's lease when a third of it has passed (one short write)."""
        lease = self.s.daemon.lease
        renewed = [time.monotonic()]

        def renew() -> None:
            if time.monotonic() - renewed[0] > lease / 3:
                self.app.store.extend_lease(target_id, self.worker, lease)
                renewed[0] = time.monotonic()

        return renew


def _reuse_cache(app) -> ReuseCache | None:
    s = app.settings
    if s.capture.reuse_window <= 0:
        return None
    return ReuseCache(
        app.store.find_reusable,
        window=s.capture.reuse_window,
        clock=app.clock,
        children=lambda warc, offset, url: stylesheet_children(s.root, warc, offset, url),
    )


def capture_pending(
    app,
    *,
    progress: PlainProgress | None = None,
    target_ids: list[int] | None = None,
    sink: WarcSink | None = None,
    stop: threading.Event | None = None,
    worker: str | None = None,
) -> CaptureSummary:
    """Capture every due target (or only ``target_ids``); returns what happened.

    ``worker`` names the claims (default host:pid; the daemon passes --worker-id).
    """
    worker = worker or worker_id()
    # the liveness lock: killed, this process's claims are released by the next run at once
    with live_worker(app.store, app.root, worker):
        summary = _capture_claimed(app, progress, target_ids, sink, stop, worker)
    if sink is None and summary.snapshots:
        index_new_warcs(app)
    return summary


def _capture_claimed(app, progress, target_ids, sink, stop, worker: str) -> CaptureSummary:
    """Claim and capture until nothing due is left unclaimed (or ``stop``)."""
    s = app.settings
    recover(app)
    own_sink = sink is None
    sink = sink or make_sink(app, worker)
    progress = progress or NoProgress()
    cap = _Capturer(app, sink, progress, worker)
    store = app.store
    total = store.count_capture_due(max_attempts=s.capture.max_attempts, target_ids=target_ids)
    progress.start("capturing", total)
    try:
        run_pool(cap, cap.claiming(target_ids), stop)
    except WarcWriteError:
        logger.error("capture stopped: WARC writing failed")
        raise
    finally:
        progress.stop()
        cap.close()
        if own_sink:
            sink.close()
    cap.summary.held = store.count_capture_held(
        max_attempts=s.capture.max_attempts, target_ids=target_ids, worker=cap.worker
    )
    _refresh(app, cap.summary.articles)
    return cap.summary


def _claim_now(free: int, workers: int) -> bool:
    """Claim when a quarter of the pool is free (or all of it): one claim transaction
    for several slots, not one per capture that ends (~2 ms of CPU each on SQLite)."""
    return free > 0 and (free >= max(1, workers // CLAIM_WHEN_FREE) or free == workers)


def index_new_warcs(app) -> None:
    """Keep warcs/index.cdxj current as WARC files close (only new files are read)."""
    index_closed(app)


def _refresh(app, articles) -> None:
    if articles:
        refresh(app, sorted(articles))


__all__ = ["OPEN_SUFFIX", "CaptureSummary", "capture_pending", "make_sink", "recover"]
