"""Keeping a live worker's claims alive: only a dead worker's leases run out.

A claim is a lease (``claimed_until``). A capture can outlast any fixed lease — a busy
host keeps it waiting for a politeness slot that every worker on every machine wants —
and a lease that ran out while its worker is still busy lets a second worker capture
the same target. So while targets are being worked on, a `LeaseKeeper` pushes their
leases on every third of the lease; when the process dies, the renewals stop and the
claims come free one lease later at most.
"""

from __future__ import annotations

import logging
import threading

from archiver.errors import ArchiverError

logger = logging.getLogger(__name__)


class LeaseKeeper:
    """``with LeaseKeeper(store, worker, lease) as keeper:`` → ``hold(id)`` … ``drop(id)``."""

    def __init__(self, store, worker: str, lease: float) -> None:
        self.store = store
        self.worker = worker
        self.lease = lease
        self._ids: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def hold(self, target_id: int) -> None:
        with self._lock:
            self._ids.add(target_id)

    def drop(self, target_id: int) -> None:
        with self._lock:
            self._ids.discard(target_id)

    def _run(self) -> None:
        while not self._stop.wait(max(0.2, self.lease / 3)):
            with self._lock:
                ids = sorted(self._ids)
            for target_id in ids:
                try:
                    self.store.extend_lease(target_id, self.worker, self.lease)
                except ArchiverError as exc:  # the store is unreachable: try again next time
                    logger.warning("lease of target %d not renewed: %s", target_id, exc)
