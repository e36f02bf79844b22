"""Per-host politeness: at most N requests in flight to a host, a pause between page visits.

A paced request (a page visit: the page and its redirect hops) starts ``delay`` after
the previous paced one to the host; an unpaced one (a requisite the visit loads, as a
browser does) only waits for a slot. Both wait out a Retry-After (`defer`).
"""

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
        self._deferred: dict[str, float] = {}  # Retry-After: no request before this

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

    def _deferral(self, host: str) -> float:
        """How long an unpaced request must wait for the host's Retry-After."""
        with self._lock:
            return self._deferred.get(host, 0.0) - self._clock()

    def defer(self, host: str, seconds: float) -> None:
        """Push the host's next start out (a Retry-After the host asked for)."""
        with self._lock:
            until = self._clock() + seconds
            self._next_start[host] = max(self._next_start.get(host, 0.0), until)
            self._deferred[host] = max(self._deferred.get(host, 0.0), until)

    @contextmanager
    def slot(self, host: str, *, paced: bool = True) -> Iterator[None]:
        sem = self._slot(host)
        sem.acquire()
        try:
            wait = self._reserve_start(host) if paced else self._deferral(host)
            if wait > 0:
                time.sleep(wait)
            yield
        finally:
            sem.release()
