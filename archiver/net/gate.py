"""Per-host politeness: at most N requests in flight to a host, a pause between starts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class HostGate:
    """Shared by every worker thread of one process."""

    def __init__(
        self, *, concurrency: int, delay: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.concurrency = max(1, concurrency)
        self.delay = max(0.0, delay)
        self._clock = clock
        self._lock = threading.Lock()
        self._slots: dict[str, threading.Semaphore] = {}
        self._next_start: dict[str, float] = {}

    def _slot(self, host: str) -> threading.Semaphore:
        with self._lock:
            if host not in self._slots:
                self._slots[host] = threading.BoundedSemaphore(self.concurrency)
            return self._slots[host]

    def _reserve_start(self, host: str) -> float:
        """The moment this request may start; reserves the next one's too."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next_start.get(host, now))
            self._next_start[host] = start + self.delay
            return start - now

    def defer(self, host: str, seconds: float) -> None:
        """Push the host's next start out (a Retry-After the host asked for)."""
        with self._lock:
            self._next_start[host] = max(self._next_start.get(host, 0.0), self._clock() + seconds)

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        sem = self._slot(host)
        sem.acquire()
        try:
            wait = self._reserve_start(host)
            if wait > 0:
                time.sleep(wait)
            yield
        finally:
            sem.release()
