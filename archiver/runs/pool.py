"""The one work pool of the capture and check runs: claims, leases, client, recorder.

A run claims targets in the store (a lease in the row), works on them in a thread pool
and each thread hands its result to a recorder thread that stores them in groups (one
transaction and one hold of the ledger's lock a group: `archiver.recorder`). The threads
share one set of connection pools (urllib3's are safe to share: one pool per host, at
most per_host_concurrency of them busy, so memory follows the hosts at work, not the
thread count) behind the run's host gate: the capture run through one client, the check
run through a session per thread (a cookie jar each, as checks always had). A lease
keeper renews the claims of the work under way, so a long wait for a host never lets a
claim run out.

What can fail: a thread's error (a bug, a WARC that cannot be written) stops the
claiming; the work under way finishes and is stored, claims not yet started go back,
and the error is raised to the caller. When the recorder fails, nothing more is
claimed and what it is still handed has its claims given back.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from archiver.net.fetch import Client
from archiver.net.gate import HostGate
from archiver.progress import PlainProgress
from archiver.recorder import GroupRecorder
from archiver.store.leases import LeaseKeeper

RECORD_POLL = 0.02  # seconds between looks at the recorder when only it is at work


@dataclass(frozen=True, kw_only=True)
class Recording:
    """How a run's recorder stores results (each with its target row as ``.target``):
    ``record`` a group, at most ``limit`` at a time, waiting up to ``wait`` seconds to
    fill a group. A group that cannot be stored has its claims given back."""

    name: str
    record: Callable[[list], None]
    limit: int
    wait: float


class WorkPool:
    """One run's shared state: its worker id, host gate, client, lease keeper, recorder."""

    def __init__(
        self,
        app,
        worker: str,
        progress: PlainProgress,
        gate: HostGate,
        recording: Recording,
        *,
        session_per_thread: bool = False,
    ) -> None:
        self.app = app
        # a check run keeps a session (cookie jar) per thread, as it always did: one
        # site's cookies never reach another thread's checks; the connections are shared
        self.session_per_thread = session_per_thread
        self.local = threading.local()
        self.s = app.settings
        self.worker = worker
        self.progress = progress
        self.gate = gate
        self.lock = threading.Lock()
        self.clients: list[Client] = []
        self.claimed = 0  # claims made in this run
        # a live worker's claims never run out, however long its work waits for a host
        self.keeper = LeaseKeeper(app.store, worker, self.s.daemon.lease)
        self.recorder: GroupRecorder = GroupRecorder(
            recording.record,
            self.discard,
            name=recording.name,
            limit=recording.limit,
            wait=recording.wait,
        )

    def client(self) -> Client:
        """The run's HTTP client: one shared by the threads, or (``session_per_thread``)
        the calling thread's own, every one on the same connection pools."""
        if self.session_per_thread:
            if not hasattr(self.local, "client"):
                self.local.client = self._new_client()
            return self.local.client
        with self.lock:
            return self.clients[0] if self.clients else self._new_client_locked()

    def _new_client(self) -> Client:
        with self.lock:
            return self._new_client_locked()

    def _new_client_locked(self) -> Client:
        # every client of the run is on the first one's connection pools and caches
        first = self.clients[0] if self.clients else None
        client = (
            first.sibling() if first else Client(self.s.capture, self.gate, clock=self.app.clock)
        )
        self.clients.append(client)
        return client

    def release(self, target_ids: list[int]) -> None:
        """Give claims back (they are due again) and stop renewing them."""
        try:
            self.app.store.release_many(target_ids, self.worker)
        finally:
            self.done_with(target_ids)

    def discard(self, results: list) -> None:
        """Results that could not be stored: their claims go back (they are due again)."""
        self.release([r.target.id for r in results])

    def done_with(self, target_ids: list[int]) -> None:
        for target_id in target_ids:
            self.keeper.drop(target_id)

    def close(self) -> None:
        for c in self.clients:
            c.close()


@dataclass(frozen=True, kw_only=True)
class Claiming:
    """How a run claims: ``claim(limit)`` claims up to ``limit`` items (each with the
    target row as ``item[0]`` or the row itself), ``want(free, queued)`` says how many
    to ask for now, ``work(item)`` runs in a pool thread and returns the result to
    record; ``drain``: when nothing is left to claim, wait for the recorder before
    giving up (a capture that failed may be due again at once)."""

    threads: int
    name: str
    claim: Callable[[int], list]
    want: Callable[[int, int], int]
    work: Callable[[Any], Any]
    target_id: Callable[[Any], int]
    drain: bool = False


def run_pool(pool: WorkPool, claiming: Claiming, stop: threading.Event | None) -> None:
    """Claim and work until nothing is left (or ``stop``, or the recorder failed);
    the results are stored when this returns; a thread's error re-raises here."""
    queued: deque = deque()  # claimed, not yet started
    pool.recorder.start()
    with pool.keeper:
        try:
            with ThreadPoolExecutor(claiming.threads, claiming.name) as threads:
                _loop(pool, claiming, threads, queued, stop)
        finally:
            with contextlib.suppress(Exception):  # unstarted claims go back (else: lease)
                pool.release([claiming.target_id(item) for item in queued])
            pool.recorder.close()  # what was handed over is stored (or claims given back)


def _loop(pool, claiming: Claiming, threads, queued: deque, stop) -> None:
    running: set[Future] = set()
    try:
        while not (stop and stop.is_set()) and pool.recorder.error is None:
            limit = claiming.want(claiming.threads - len(running), len(queued))
            if limit > 0:
                _claim(pool, claiming, limit, queued)
            while queued and len(running) < claiming.threads:
                running.add(threads.submit(_work, pool, claiming, queued.popleft()))
            if not queued and not running:
                if claiming.drain and pool.recorder.backlog():
                    time.sleep(RECORD_POLL)
                    continue
                break
            done, running = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
            _hand_over(done)
    finally:
        # stopped, or a thread's error: the work under way finishes and is stored
        finished = wait(running).done
        _hand_over(finished)


def _claim(pool: WorkPool, claiming: Claiming, limit: int, queued: deque) -> None:
    items = claiming.claim(limit)
    for item in items:
        pool.keeper.hold(claiming.target_id(item))
    queued.extend(items)
    pool.claimed += len(items)
    if pool.claimed > pool.progress.total:  # became due while we ran (or due again: a retry)
        pool.progress.grow(pool.claimed - pool.progress.total)


def _work(pool: WorkPool, claiming: Claiming, item) -> None:
    """One item's work in a pool thread, handed to the recorder by the thread itself (so
    a Ctrl-C in the main thread cannot drop a finished result); its claim is given back
    if the work raised."""
    try:
        result = claiming.work(item)
    except BaseException:
        pool.release([claiming.target_id(item)])
        raise
    pool.recorder.put(result)


def _hand_over(done) -> None:
    """Re-raise the first error of the finished threads (their results are with the
    recorder already)."""
    for fut in done:
        if fut.exception() is not None:
            raise fut.exception()
