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

import contextlib
import logging
import threading
import time
from collections import Counter, deque
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
from archiver.judge import Response, reasons_of
from archiver.manifest import ledger_for, refresh
from archiver.manifest.pairs import complete_pairs, write_paired
from archiver.net.fetch import Chain, Client
from archiver.net.gate import HostGate
from archiver.net.session import RecordingAdapter
from archiver.pages import PageInfo, analyse, decode_html, plan_page
from archiver.progress import NoProgress, PlainProgress
from archiver.recorder import GroupRecorder
from archiver.runs.capture import capture_pending
from archiver.runs.gate import host_gate
from archiver.store.ledgered import Paired
from archiver.store.work import CheckOutcome
from archiver.workers import live_worker, worker_id

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


class _CheckGate:
    """The run's host gate; a long Retry-After skips the host's later fetches.

    Politeness itself is the store's gate (`host_gate`: in-process on SQLite, shared by
    every worker through PostgreSQL), the same one captures use. A gate sleeps out a
    Retry-After (up to an hour) in every worker that reaches the host; here the wait is
    remembered in full, the gate itself is asked to wait at most SKIP_WAIT, and a fetch
    that would start before the host's wait ends is refused (HostDeferred) before it
    waits for a slot and again after: no request goes out early.
    """

    def __init__(self, inner: HostGate) -> None:
        self.inner = inner
        self._until: dict[str, float] = {}
        self._until_lock = threading.Lock()

    def defer(self, host: str, seconds: float) -> None:
        with self._until_lock:
            until = max(self._until.get(host, 0.0), time.monotonic() + seconds)
            self._until[host] = until
        self.inner.defer(host, min(seconds, SKIP_WAIT))

    def wait_left(self, host: str) -> float:
        with self._until_lock:
            return max(0.0, self._until.get(host, 0.0) - time.monotonic())

    def _refuse_if_deferred(self, host: str, allowed: float) -> None:
        left = self.wait_left(host)
        if left > allowed:
            raise HostDeferred(host, left)

    @contextmanager
    def slot(
        self, host: str, *, paced: bool = True, deadline: float | None = None
    ) -> Iterator[None]:
        self._refuse_if_deferred(host, SKIP_WAIT)
        # sleeps out a short Retry-After
        with self.inner.slot(host, paced=paced, deadline=deadline):
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


def _ok_status(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def _answered(chain: Chain) -> bool:
    return chain.error is None and chain.final is not None and _ok_status(chain.final.status)


# hosts whose connections a check run keeps open (LRU beyond that)
POOL_HOSTS = 256


def _shared_adapter(like) -> RecordingAdapter:
    """A transport adapter like ``like`` (a new session's), pooling POOL_HOSTS hosts.

    urllib3's pool managers and connection pools are thread-safe, and the recording
    connections find their exchange (SSRF policy, time limit) in the calling thread.
    """
    return RecordingAdapter(
        max_retries=like.max_retries,
        pool_connections=POOL_HOSTS,
        pool_maxsize=getattr(like, "_pool_maxsize", 8),
    )


def _unchanged_page(final, snapshot) -> PageInfo | None:
    """The snapshot's page analysis when the live document is byte for byte the one it
    was made from (same document digest, both read whole, same media type); else None.

    Title, main text, fingerprint and quality are functions of the document's bytes (and
    its charset), so analysing it again would find what the snapshot holds: a page that
    did not change is not parsed again (trafilatura is most of a check's CPU). A body
    that differs in any byte is analysed and compared as before.
    """
    if snapshot is None or not snapshot.payload_digest or snapshot.truncated:
        return None
    if final.truncated or final.error or final.doc_digest != snapshot.payload_digest:
        return None
    if final.content_type != snapshot.content_type:
        return None
    return PageInfo(
        title=snapshot.title or "",
        text=snapshot.text or "",
        fingerprint=snapshot.text_fingerprint or "",
        quality=snapshot.quality,
        reasons=reasons_of(getattr(snapshot, "reasons", None)),
    )


@dataclass(frozen=True)
class _Result:
    """One target's check, computed in a pool thread, waiting to be recorded."""

    target: Any
    verdict: Verdict
    outcome: CheckOutcome


def _parsed_page(plan: Plan, html: str) -> PageInfo:
    parsed = plan.text_parser(html) if plan.text_parser else None
    # None: e.g. Telegram's "Post not found" widget
    return plan_page(plan.name, parsed, None)


class _Checker:
    """One check run's shared state: gate, per-thread clients, probes, summary."""

    def __init__(self, app, progress: PlainProgress, worker: str) -> None:
        self.app = app
        self.s = app.settings
        self.cs = app.settings.check
        self.progress = progress
        self.worker = worker
        self.gate = _CheckGate(
            host_gate(
                app.store,
                concurrency=self.s.capture.per_host_concurrency,
                delay=self.s.capture.per_host_delay,
            )
        )
        self.local = threading.local()
        self.clients: list[Client] = []
        self.adapter: RecordingAdapter | None = None
        self.lock = threading.Lock()
        self.probes = ProbeCache(self._probe)
        self.summary = CheckSummary()

    # ------------------------------------------------------------ fetching

    def client(self) -> Client:
        if not hasattr(self.local, "client"):
            client = Client(self.s.capture, self.gate, clock=self.app.clock)
            with self.lock:
                self.clients.append(client)
                if self.adapter is None:
                    self.adapter = _shared_adapter(client.session.get_adapter("https://"))
            # the run's worker threads share one connection pool per host: each session
            # of its own kept up to 32 hosts' connections (LRU), so a run over more hosts
            # opened a new connection and TLS handshake for nearly every request
            client.session.mount("http://", self.adapter)
            client.session.mount("https://", self.adapter)
            self.local.client = client
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
            page = _unchanged_page(final, snapshot) or analyse(
                final.head, final.header("content-type"), Response.of_chain(url, chain)
            )
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

    def inspect(self, target, snapshot) -> tuple[dict[str, Any], Verdict, float | None]:
        """(check row without the verdict, verdict, Retry-After) for one target, given
        its latest good snapshot (None: it has none)."""
        started = self.app.clock()
        plan = plan_for(target.url)
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

    def one(self, target, snapshot=None) -> _Result:
        """Fetch, classify and judge one claimed target (a pool thread); the recorder
        stores the result. The claim is released if this fails."""
        try:
            row, verdict, retry_after = self.inspect(target, snapshot)
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
                reasons=[r.as_json() for r in verdict.reasons],
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
        except BaseException:
            self.app.store.release(target.id, self.worker)
            raise
        self.progress.advance(f"{verdict.rot.value}: {target.url}")
        return _Result(target=target, verdict=verdict, outcome=outcome)

    def record(self, results: list[_Result]) -> None:
        """Store a batch of results in one transaction and append a ledger line each,
        under the ledger's lock (`manifest.pairs`), then count them. The recorder
        thread calls this."""
        store = self.app.store

        def commit(seqs: list[int]) -> list[Any]:
            return store.record_checks([(r.target, r.outcome) for r in results], seqs)

        try:
            write_paired(ledger_for(self.s), store, Paired.CHECK, len(results), commit)
        except BaseException:
            store.release_many([r.target.id for r in results], self.worker)
            raise
        citing = store.citing_articles_of([r.target.id for r in results])
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

    def close(self) -> None:
        for c in self.clients:
            c.close()


def _target_ids(app, article_id: str | None) -> list[int] | None:
    if article_id is None:
        return None
    app.store.article_row(article_id)  # UsageError for an unknown article
    return app.store.target_ids_for_articles([article_id])


# Claims are taken CLAIM_BATCH_PER_WORKER × workers at a time (one transaction, and one
# query for their snapshots) instead of one per free worker; results are stored up to
# RECORD_BATCH at a time by the recorder thread. Both are far below the lease (10 min).
CLAIM_BATCH_PER_WORKER = 4
RECORD_BATCH = 64
RECORD_WAIT = 0.5  # seconds the recorder waits to fill a batch


def _recorder(checker: _Checker) -> GroupRecorder[_Result]:
    """Stores results in batches (`_Checker.record`) beside the pool threads: at most
    RECORD_WAIT seconds after the first is in, or once RECORD_BATCH are. After an
    error it stores nothing more and gives back the claims of what it is still handed."""

    def release(batch: list[_Result]) -> None:
        checker.app.store.release_many([r.target.id for r in batch], checker.worker)

    return GroupRecorder(
        checker.record, release, name="check-recorder", limit=RECORD_BATCH, wait=RECORD_WAIT
    )


def _run_pool(app, checker: _Checker, *, all_targets, since, target_ids, stop) -> None:
    """Claim and check until nothing is left (or ``stop``); a worker's bug re-raises here."""
    s = app.settings
    store = app.store
    workers = s.check.workers
    batch = CLAIM_BATCH_PER_WORKER * workers
    progress = checker.progress
    submitted = 0
    claimed: deque = deque()  # (target row, its latest good snapshot), not yet submitted
    running: set = set()
    recorder = _recorder(checker)
    recorder.start()
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="check") as pool:
            try:
                while not (stop and stop.is_set()) and recorder.error is None:
                    if len(claimed) < workers:
                        rows = store.claim_run_checks(
                            worker=checker.worker,
                            lease=s.daemon.lease,
                            limit=batch - len(claimed),
                            all_archived=all_targets,
                            since=since,
                            target_ids=target_ids,
                        )
                        snapshots = store.latest_good_snapshots([r.id for r in rows])
                        claimed.extend((r, snapshots.get(r.id)) for r in rows)
                        submitted += len(rows)
                        if submitted > progress.total:  # became due while we ran
                            progress.grow(submitted - progress.total)
                    while claimed and len(running) < workers:
                        running.add(pool.submit(checker.one, *claimed.popleft()))
                    if not claimed and not running:
                        break
                    done, running = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
                    _hand_over(done, recorder)
            finally:
                # stopped, or a worker's bug: the checks under way finish and are stored
                finished, running = wait(running).done, set()
                _hand_over(finished, recorder)
    finally:
        with contextlib.suppress(Exception):  # unstarted claims go back (else: the lease)
            store.release_many([row.id for row, _ in claimed], checker.worker)
        recorder.close()


def _hand_over(done, recorder: GroupRecorder[_Result]) -> None:
    """Pass finished checks to the recorder; then re-raise the first worker's error."""
    error: BaseException | None = None
    for fut in done:
        if fut.exception() is None:
            recorder.put(fut.result())
        elif error is None:
            error = fut.exception()
    if error is not None:
        raise error


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
    complete_pairs(ledger_for(app.settings), app.store)  # what a killed run left undone
    target_ids = _target_ids(app, article_id)
    since = app.clock()
    progress = progress or NoProgress()
    checker = _Checker(app, progress, worker)
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
        summary.recapture = capture_pending(
            app, progress=progress, target_ids=sorted(summary.drifted), stop=stop, worker=worker
        )
    if summary.articles:
        refresh(app, sorted(summary.articles))


__all__ = ["CheckSummary", "Finding", "check_due"]
