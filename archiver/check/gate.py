"""A check's host gate: a long Retry-After skips the host's later fetches in this run.

A gate sleeps out a Retry-After (up to an hour) in every worker that reaches the host;
a check run does not: here the wait is remembered in full, the gate itself is asked to
wait at most SKIP_WAIT, and a fetch that would start before the host's wait ends is
refused (HostDeferred) before it waits for a slot and again after: no request goes out
early. The host's remaining targets are recorded as `rate-limited` and checked again
when the wait is over.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from archiver.errors import FetchError
from archiver.net.gate import HostGate

# A host that asked for a longer wait than this (Retry-After) is not fetched again in
# this run: its remaining targets are rate-limited until then, instead of holding a
# worker in the host gate for up to an hour each.
SKIP_WAIT = 10.0


class HostDeferred(FetchError):
    """The host asked for a longer wait than a check run waits: this fetch was not made."""

    def __init__(self, host: str, wait: float) -> None:
        super().__init__(f"deferred: {host} asked to wait {wait:.0f}s more (Retry-After)")
        self.wait = wait


class CheckGate:
    """The run's host gate (politeness itself is ``inner``, the one captures use)."""

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
