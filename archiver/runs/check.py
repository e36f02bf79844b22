"""Check due targets: claim, check (`check.engine`), store, ledger, recapture, manifests.

The CLI (`archive check`) and the daemon call `check_due`. It runs on the pool captures
use (`runs.pool`: one client behind the run's host gate, claims with leases, a recorder
thread). Per target the engine fetches and classifies (`CheckEngine.inspect`); then the
dead rule and the next check time (`check.dead`), and one transaction a batch
(`record_checks`) with a ledger line each. Retry-After is honoured per host
(`check.gate`): after a long one the host's remaining targets are recorded as
`rate-limited` ("not fetched: deferred …") and checked again when the wait is over.

After the run: drifted targets are recaptured (`capture_pending`, a new snapshot beside
the old one) when ``check.recapture_on_drift``, and the citing articles' manifests are
rewritten.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from archiver.capture.plans import plan_for
from archiver.check.classify import Verdict
from archiver.check.dead import FAILING, LIVING, dead_rule, next_check_delay
from archiver.check.engine import CheckEngine, CheckResult
from archiver.check.gate import CheckGate
from archiver.ledger import ledger_for
from archiver.ledger.events import Paired
from archiver.ledger.pairs import complete_pairs, write_paired
from archiver.manifest import refresh
from archiver.progress import NoProgress, PlainProgress
from archiver.runs.capture import capture_pending
from archiver.runs.gate import host_gate
from archiver.runs.pool import Claiming, Recording, WorkPool, run_pool
from archiver.states import Rot
from archiver.store.work import CheckOutcome
from archiver.workers import live_worker, worker_id

logger = logging.getLogger(__name__)

# Claims are taken CLAIM_BATCH_PER_WORKER × workers at a time (one transaction, and one
# query for their snapshots) instead of one per free worker; results are stored up to
# RECORD_BATCH at a time by the recorder thread. Both are far below the lease (10 min).
CLAIM_BATCH_PER_WORKER = 4
RECORD_BATCH = 64
RECORD_WAIT = 0.5  # seconds the recorder waits to fill a batch


@dataclass(frozen=True, kw_only=True)
class Finding:
    """A target whose check was not `ok`, for the CLI's list."""

    url: str
    rot: Rot
    reason: str
    articles: tuple[str, ...]
    dead: bool


@dataclass
class CheckSummary:
    counts: Counter = field(default_factory=Counter)  # Rot → targets
    findings: list[Finding] = field(default_factory=list)
    articles: set[str] = field(default_factory=set)
    drifted: list[int] = field(default_factory=list)  # target ids
    dead: int = 0  # targets dead after this run's check
    probes: int = 0
    recapture: Any = None  # the CaptureSummary of the drifted pages' recapture

    @property
    def checked(self) -> int:
        return sum(self.counts.values())

    def table_rows(self) -> list[tuple[str, int]]:
        """(class, targets) for every class seen, in the order of `Rot`."""
        return [(rot.value, self.counts[rot]) for rot in Rot if self.counts[rot]]

    def line(self) -> str:
        if not self.checked:
            return "Nothing to check."
        parts = ", ".join(f"{n} {name}" for name, n in self.table_rows())
        text = f"Checked {self.checked} targets: {parts}"
        if self.recapture is not None:
            text += f"; recaptured {self.recapture.archived} of {len(self.drifted)} drifted"
        return text + f"; {self.dead} dead."


@dataclass(frozen=True)
class _Result:
    """One target's check, computed in a pool thread, waiting to be recorded."""

    target: Any
    verdict: Verdict
    outcome: CheckOutcome


class _Checker(WorkPool):
    """One check run: the shared pool, the check engine, the summary."""

    def __init__(self, app, progress: PlainProgress, worker: str) -> None:
        s = app.settings
        gate = CheckGate(
            host_gate(
                app.store,
                concurrency=s.capture.per_host_concurrency,
                delay=s.capture.per_host_delay,
            )
        )
        recording = Recording(
            name="check-recorder", record=self.record, limit=RECORD_BATCH, wait=RECORD_WAIT
        )
        super().__init__(app, worker, progress, gate, recording, session_per_thread=True)
        self.cs = s.check
        self.engine = CheckEngine(self.client, s.check, app.clock)
        self.summary = CheckSummary()

    def claiming(self, *, all_targets: bool, since, target_ids) -> Claiming:
        workers = self.cs.workers
        batch = CLAIM_BATCH_PER_WORKER * workers

        def claim(limit: int) -> list:
            store = self.app.store
            rows = store.claim_run_checks(
                worker=self.worker,
                lease=self.s.daemon.lease,
                limit=limit,
                all_archived=all_targets,
                since=since,
                target_ids=target_ids,
            )
            snapshots = store.latest_good_snapshots([r.id for r in rows])
            return [(r, snapshots.get(r.id)) for r in rows]

        return Claiming(
            threads=workers,
            name="check",
            claim=claim,
            want=lambda free, queued: batch - queued if queued < workers else 0,
            work=lambda item: self.one(*item),
            target_id=lambda item: item[0].id,
        )

    def one(self, target, snapshot=None) -> _Result:
        """Check and judge one claimed target (a pool thread); the recorder stores it."""
        result = self.engine.inspect(target.url, plan_for(target.url), snapshot)
        verdict = result.verdict
        self.progress.advance(f"{verdict.rot.value}: {target.url}")
        return _Result(target=target, verdict=verdict, outcome=self._outcome(target, result))

    def _outcome(self, target, result: CheckResult) -> CheckOutcome:
        verdict = result.verdict
        state = dead_rule(
            target.consecutive_failures,
            target.first_failure_at,
            target.dead,
            verdict.rot,
            result.checked_at,
            self.cs,
        )
        row = dict(
            checked_at=result.checked_at,
            status=result.status,
            final_url=result.final_url,
            redirects=result.redirects,
            classification=verdict.rot.value,
            similarity=verdict.similarity,
            error=None if verdict.rot in LIVING else verdict.reason,
            reasons=[r.as_json() for r in verdict.reasons],
        )
        return CheckOutcome(
            checked=row,
            rot=verdict.rot.value,
            dead=state.dead,
            consecutive_failures=state.consecutive_failures,
            first_failure_at=state.first_failure_at,
            recapture=verdict.rot == Rot.DRIFTED and self.cs.recapture_on_drift,
            next_check_in=next_check_delay(verdict.rot, result.retry_after, self.cs),
        )

    def record(self, results: list[_Result]) -> None:
        """Store a batch of results in one transaction and append a ledger line each,
        under the ledger's lock (`ledger.pairs`), then count them. The recorder
        thread calls this (a batch it cannot store has its claims given back)."""
        store = self.app.store

        def commit(seqs: list[int]) -> list[Any]:
            return store.record_checks([(r.target, r.outcome) for r in results], seqs)

        write_paired(
            ledger_for(self.s, clock=self.app.clock), store, Paired.CHECK, len(results), commit
        )
        ids = [r.target.id for r in results]
        self.done_with(ids)
        citing = store.citing_articles_of(ids)
        for r in results:
            self._count(r.target, r.verdict, r.outcome.dead, citing.get(r.target.id, []))

    def _count(self, target, verdict: Verdict, dead: bool, citing: list[str]) -> None:
        with self.lock:
            s = self.summary
            s.counts[verdict.rot] += 1
            s.articles.update(citing)
            s.dead += int(dead)
            if verdict.rot == Rot.DRIFTED:
                s.drifted.append(target.id)
            if verdict.rot != Rot.OK:
                s.findings.append(
                    Finding(
                        url=target.url,
                        rot=verdict.rot,
                        reason=verdict.reason,
                        articles=tuple(citing),
                        dead=dead,
                    )
                )
        if verdict.rot in FAILING:
            logger.info("%s: %s (%s)", target.url, verdict.rot.value, verdict.reason)


def _target_ids(app, article_id: str | None) -> list[int] | None:
    if article_id is None:
        return None
    app.store.article_row(article_id)  # UsageError for an unknown article
    return app.store.target_ids_for_articles([article_id])


def check_due(
    app,
    *,
    all_targets: bool = False,
    article_id: str | None = None,
    progress: PlainProgress | None = None,
    stop: threading.Event | None = None,
    worker: str | None = None,
) -> CheckSummary:
    """Check every due target (``all_targets``: every archived one), of one article or all.

    ``worker`` names the claims (default host:pid). Drifted pages are recaptured and the
    citing articles' manifests rewritten before this returns.
    """
    worker = worker or worker_id()
    # the liveness lock: killed, this process's claims are released by the next run at once
    with live_worker(app.store, app.root, worker):
        return _check_claimed(app, all_targets, article_id, progress, stop, worker)


def _check_claimed(app, all_targets, article_id, progress, stop, worker: str) -> CheckSummary:
    complete_pairs(
        ledger_for(app.settings, clock=app.clock), app.store
    )  # what a killed run left undone
    target_ids = _target_ids(app, article_id)
    since = app.clock()
    progress = progress or NoProgress()
    checker = _Checker(app, progress, worker)
    total = app.store.count_run_checks(all_archived=all_targets, since=since, target_ids=target_ids)
    progress.start("checking", total)
    claiming = checker.claiming(all_targets=all_targets, since=since, target_ids=target_ids)
    try:
        run_pool(checker, claiming, stop)
    finally:
        progress.stop()
        checker.close()
    summary = checker.summary
    summary.probes = checker.engine.probes_made
    _after_run(app, summary, progress, stop, checker.worker)
    return summary


def _after_run(app, summary: CheckSummary, progress, stop, worker: str) -> None:
    if summary.drifted and app.settings.check.recapture_on_drift and not (stop and stop.is_set()):
        summary.recapture = capture_pending(
            app, progress=progress, target_ids=sorted(summary.drifted), stop=stop, worker=worker
        )
    if summary.articles:
        refresh(app, sorted(summary.articles))


__all__ = ["CheckSummary", "Finding", "check_due"]
