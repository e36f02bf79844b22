"""Check due targets: claim, fetch live, classify, store, ledger, recapture, manifests.

The CLI (`archive check`) and the daemon call `check_due`. It uses what capture uses:
one `Client` per worker thread (same session, proxy, CA and SSRF guard), one `HostGate`
for the run (per-host concurrency, delay, Retry-After), claims with leases in the store.
A check reads at most ``check.max_bytes`` of each page and writes no WARC: the check
row, the ledger line and, for a drifted page, a recapture are its evidence.

Per target: fetch the cited URL (every redirect hop followed by hand and listed in the
row); for a site plan with a text source (a Telegram post's embed widget) fetch that too
and take the text from it; compare with the latest good snapshot; fetch the sibling probe
only when the snapshot does not vouch for the page (`classify.wants_probe`). Then the
dead rule and the next check time (`dead`), one transaction (`record_check`).

Retry-After is honoured per host: a short one is slept out in the gate; after a long one
(> SKIP_WAIT) the host's remaining targets are not fetched in this run but recorded as
`rate-limited` ("not fetched: deferred …") and checked again when the wait is over.

After the run: drifted targets are recaptured (`capture_pending`, a new snapshot beside
the old one) when ``check.recapture_on_drift``, and the citing articles' manifests are
rewritten.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from archiver.capture.plans import Plan, plan_for
from archiver.check.classify import Observation, Rot, Verdict, classify, wants_probe
from archiver.check.dead import FAILING, LIVING, dead_rule, next_check_delay
from archiver.check.probe import ProbeAnswer, ProbeCache
from archiver.errors import FetchError
from archiver.net.fetch import Chain, Client
from archiver.net.gate import HostGate
from archiver.pages import PageInfo, analyse, decode_html, fingerprint
from archiver.progress import NoProgress, PlainProgress
from archiver.store.work import CheckOutcome

logger = logging.getLogger(__name__)

# A host that asked for a longer wait than this (Retry-After) is not fetched again in
# this run: its remaining targets are rate-limited until then, instead of holding a
# worker in the host gate for up to an hour each.
SKIP_WAIT = 10.0


class HostDeferred(FetchError):
    """The host asked for a longer wait than a check run waits: this fetch was not made."""

    def __init__(self, host: str, wait: float) -> None:
        super().__init__(f"deferred: {host} asked to wait {wait:.0f}s more (Retry-After)")
        self.wait = wait


class _CheckGate(HostGate):
    """The run's host gate; a long Retry-After skips the host's later fetches.

    `HostGate` sleeps out a Retry-After (up to an hour) in every worker that reaches the
    host. Here the wait is remembered in full, the gate itself sleeps at most SKIP_WAIT,
    and a fetch that would start before the host's wait ends is refused (HostDeferred)
    before it waits for a slot and again after: no request goes out early.
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._until: dict[str, float] = {}
        self._until_lock = threading.Lock()

    def defer(self, host: str, seconds: float) -> None:
        with self._until_lock:
            until = max(self._until.get(host, 0.0), time.monotonic() + seconds)
            self._until[host] = until
        super().defer(host, min(seconds, SKIP_WAIT))

    def wait_left(self, host: str) -> float:
        with self._until_lock:
            return max(0.0, self._until.get(host, 0.0) - time.monotonic())

    def _refuse_if_deferred(self, host: str, allowed: float) -> None:
        left = self.wait_left(host)
        if left > allowed:
            raise HostDeferred(host, left)

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        self._refuse_if_deferred(host, SKIP_WAIT)
        with super().slot(host):  # sleeps out a short Retry-After
            self._refuse_if_deferred(host, 0.5)
            yield


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


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _ok_status(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def _answered(chain: Chain) -> bool:
    return chain.error is None and chain.final is not None and _ok_status(chain.final.status)


def _parsed_page(plan: Plan, html: str) -> PageInfo:
    parsed = plan.text_parser(html) if plan.text_parser else None
    if parsed is None:  # e.g. Telegram's "Post not found" widget
        return PageInfo(title="", text="", fingerprint="", quality="not-found")
    title, text = parsed
    return PageInfo(title=title, text=text, fingerprint=fingerprint(text), quality=None)


class _Checker:
    """One check run's shared state: gate, per-thread clients, probes, summary."""

    def __init__(self, app, progress: PlainProgress, worker: str) -> None:
        self.app = app
        self.s = app.settings
        self.cs = app.settings.check
        self.progress = progress
        self.worker = worker
        self.gate = _CheckGate(
            concurrency=self.s.capture.per_host_concurrency, delay=self.s.capture.per_host_delay
        )
        self.local = threading.local()
        self.clients: list[Client] = []
        self.lock = threading.Lock()
        self.probes = ProbeCache(self._probe)
        self.summary = CheckSummary()

    # ------------------------------------------------------------ fetching

    def client(self) -> Client:
        if not hasattr(self.local, "client"):
            self.local.client = Client(self.s.capture, self.gate, clock=self.app.clock)
            with self.lock:
                self.clients.append(self.local.client)
        return self.local.client

    def fetch(self, url: str) -> Chain:
        """GET with every hop followed; nothing recorded; the bodies' first bytes kept.

        Raises HostDeferred when the host's Retry-After keeps us from fetching.
        """
        chain = self.client().fetch_chain(
            url, record=False, max_bytes=self.cs.max_bytes, head_limit=self.cs.max_bytes
        )
        chain.close()  # hop.head and headers stay readable
        if isinstance(chain.error, HostDeferred):
            raise chain.error
        return chain

    def _probe(self, url: str) -> ProbeAnswer:
        chain = self.fetch(url)
        with self.lock:
            self.summary.probes += 1
        final = chain.final
        if not _answered(chain):
            return ProbeAnswer(url=url, status=final.status if final else None)
        info = analyse(final.head, final.header("content-type"))
        return ProbeAnswer(
            url=url,
            final_url=final.url,
            status=final.status,
            text=info.text,
            fingerprint=info.fingerprint or None,
        )

    # ------------------------------------------------------------ one target

    def observe(self, url: str, plan: Plan, snapshot) -> tuple[Chain, Observation, str]:
        """The live answer as an Observation, and a prefix for the verdict's reason when
        a plan's text source (the embed widget) decided it."""
        chain = self.fetch(url)
        now = self.app.clock()
        if not _answered(chain):
            return chain, Observation.from_chain(url, chain, None, snapshot, now=now), ""
        final = chain.final
        assert final is not None
        if not (plan.text_from and plan.text_parser):
            page = analyse(final.head, final.header("content-type"))
            return chain, Observation.from_chain(url, chain, page, snapshot, now=now), ""
        source = self.fetch(plan.text_from)
        if not _answered(source):
            # the part that holds the text did not answer: its failure decides
            obs = Observation.from_chain(url, source, None, snapshot, now=now)
            return chain, obs, f"{plan.name} text source {plan.text_from}: "
        assert source.final is not None
        html = decode_html(source.final.head, source.final.header("content-type"))
        page = _parsed_page(plan, html)
        told = f"{plan.name} text source {plan.text_from}: " if page.quality else ""
        return chain, Observation.from_chain(url, chain, page, snapshot, now=now), told

    def judge(self, url: str, plan: Plan, obs: Observation) -> Verdict:
        threshold = self.cs.drift_threshold
        verdict = classify(obs, threshold=threshold)
        # a plan with a text source knows how the site says "deleted"; no probe needed
        if not plan.text_from and wants_probe(obs, verdict, threshold=threshold):
            obs = replace(obs, probe=self.probes.get(url))
            verdict = classify(obs, threshold=threshold)
        return verdict

    def inspect(self, target) -> tuple[dict[str, Any], Verdict, float | None]:
        """(check row without the verdict, verdict, Retry-After) for one target."""
        started = self.app.clock()
        plan = plan_for(target.url)
        snapshot = self.app.store.latest_good_snapshot(target.id)
        try:
            chain, obs, prefix = self.observe(target.url, plan, snapshot)
            verdict = self.judge(target.url, plan, obs)
        except HostDeferred as exc:
            row = dict(checked_at=started, status=None, final_url=None, redirects=[])
            return row, Verdict(rot=Rot.RATE_LIMITED, reason=f"not fetched: {exc}"), exc.wait
        if prefix:
            verdict = replace(verdict, reason=prefix + verdict.reason)
        final = chain.final
        row = dict(
            checked_at=started,
            status=final.status if final else None,
            final_url=final.url if final else None,
            redirects=chain.redirects,
        )
        return row, verdict, obs.retry_after

    def one(self, target) -> None:
        store = self.app.store
        try:
            row, verdict, retry_after = self.inspect(target)
            state = dead_rule(
                target.consecutive_failures,
                target.first_failure_at,
                target.dead,
                verdict.rot,
                row["checked_at"],
                self.cs,
            )
            living = verdict.rot in LIVING
            row.update(
                classification=verdict.rot.value,
                similarity=verdict.similarity,
                error=None if living else verdict.reason,
            )
            outcome = CheckOutcome(
                checked=row,
                rot=verdict.rot.value,
                dead=state.dead,
                consecutive_failures=state.consecutive_failures,
                first_failure_at=state.first_failure_at,
                recapture=verdict.rot == Rot.DRIFTED and self.cs.recapture_on_drift,
                next_check_in=next_check_delay(verdict.rot, retry_after, self.cs),
            )
            store.record_check(target, self.worker, outcome)
            citing = store.citing_articles(target.id)
        except BaseException:
            store.release(target.id, self.worker)
            raise
        self._ledger(target, row)
        self._count(target, verdict, state.dead, citing)

    def _ledger(self, target, row: dict[str, Any]) -> None:
        from archiver.manifest import ledger_for

        ledger_for(self.s).append(
            "check",
            target=target.url,
            classification=row["classification"],
            status=row["status"],
            similarity=row["similarity"],
            checked_at=row["checked_at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        )

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
        self.progress.advance(f"{verdict.rot.value}: {target.url}")

    def close(self) -> None:
        for c in self.clients:
            c.close()


def _target_ids(app, article_id: str | None) -> list[int] | None:
    if article_id is None:
        return None
    app.store.article_row(article_id)  # UsageError for an unknown article
    return app.store.target_ids_for_articles([article_id])


def _run_pool(app, checker: _Checker, *, all_targets, since, target_ids, stop) -> None:
    """Claim and check until nothing is left (or ``stop``); a worker's bug re-raises here."""
    s = app.settings
    store = app.store
    workers = s.check.workers
    progress = checker.progress
    submitted = 0
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="check") as pool:
        running: set = set()
        while not (stop and stop.is_set()):
            if len(running) < workers:
                claimed = store.claim_run_checks(
                    worker=checker.worker,
                    lease=s.daemon.lease,
                    limit=workers - len(running),
                    all_archived=all_targets,
                    since=since,
                    target_ids=target_ids,
                )
                submitted += len(claimed)
                if submitted > progress.total:  # became due while we ran
                    progress.grow(submitted - progress.total)
                running |= {pool.submit(checker.one, row) for row in claimed}
                if not claimed and not running:
                    break
            done, running = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
            for fut in done:
                fut.result()


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
    target_ids = _target_ids(app, article_id)
    since = app.clock()
    progress = progress or NoProgress()
    checker = _Checker(app, progress, worker or worker_name())
    total = app.store.count_run_checks(all_archived=all_targets, since=since, target_ids=target_ids)
    progress.start("checking", total)
    try:
        _run_pool(
            app, checker, all_targets=all_targets, since=since, target_ids=target_ids, stop=stop
        )
    finally:
        progress.stop()
        checker.close()
    summary = checker.summary
    _after_run(app, summary, progress, stop, checker.worker)
    return summary


def _after_run(app, summary: CheckSummary, progress, stop, worker: str) -> None:
    if summary.drifted and app.settings.check.recapture_on_drift and not (stop and stop.is_set()):
        from archiver.capture.run import capture_pending

        summary.recapture = capture_pending(
            app, progress=progress, target_ids=sorted(summary.drifted), stop=stop, worker=worker
        )
    if summary.articles:
        from archiver.manifest import refresh

        refresh(app, sorted(summary.articles))


__all__ = ["CheckSummary", "Finding", "check_due"]
