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

from archiver.errors import FetchTimeout


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
    def slot(
        self, host: str, *, paced: bool = True, deadline: float | None = None
    ) -> Iterator[None]:
        """A turn at ``host``. ``deadline`` (`time.monotonic()`): a turn that would come
        after it raises FetchTimeout at once, instead of holding a slot asleep (a long
        Retry-After, a queue of visits) past the fetch's time limit."""
        sem = self._slot(host)
        if not sem.acquire(timeout=_left(deadline)):
            raise FetchTimeout("timeout: page time limit reached waiting for a turn at the host")
        try:
            wait = self._reserve_start(host) if paced else self._deferral(host)
            if wait > 0:
                pause(wait, deadline)
            yield
        finally:
            sem.release()


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def pause(wait: float, deadline: float | None) -> None:
    """Sleep ``wait`` seconds, or raise FetchTimeout now if that would pass ``deadline``."""
    left = _left(deadline)
    if left is not None and wait >= left:
        raise FetchTimeout(
            f"timeout: the host's turn comes in {wait:.0f}s, after the page time limit"
        )
    time.sleep(wait)
