"""The mutable part of the fixture web: which world ("now"/"later") it serves, what it served.

Everything else (sites, pages, certificates) is fixed at start-up. This is the one object
the origin's handler threads, the control endpoint and the test thread share, so every
access goes through a lock.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import NamedTuple

STATES = ("now", "later")


class Hit(NamedTuple):
    """One request the origin served; a tuple so tests can compare with plain tuples."""

    method: str
    host: str
    target: str  # path with query, as sent


class Hits:
    """A thread-safe, append-only list of the origin's requests (until ``clear``), each
    with the `time.monotonic()` it arrived at (`times`: pacing tests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: list[Hit] = []
        self._times: list[float] = []

    def add(self, hit: Hit) -> None:
        with self._lock:
            self._hits.append(hit)
            self._times.append(time.monotonic())

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()
            self._times.clear()

    def times(self, host: str, target: str) -> list[float]:
        """When each request for ``target`` at ``host`` arrived (`time.monotonic()`)."""
        with self._lock:
            pairs = zip(self._hits, self._times, strict=True)
            return [at for hit, at in pairs if hit.host == host and hit.target == target]

    def snapshot(self) -> list[Hit]:
        with self._lock:
            return list(self._hits)

    def count(self, host: str | None = None, target: str | None = None) -> int:
        """Requests matching host and/or target (path with query) exactly."""
        return sum(
            1
            for hit in self.snapshot()
            if (host is None or hit.host == host) and (target is None or hit.target == target)
        )

    def __len__(self) -> int:
        with self._lock:
            return len(self._hits)

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.snapshot())

    def __contains__(self, item: object) -> bool:
        return item in self.snapshot()

    def __repr__(self) -> str:
        return f"Hits({self.snapshot()!r})"


class World:
    """The current state, the hit log and per-path counters (e.g. ``/flaky``)."""

    def __init__(self, state: str = "now") -> None:
        self._lock = threading.Lock()
        self._state = check_state(state)
        self._counters: Counter[str] = Counter()
        self.hits = Hits()

    @property
    def state(self) -> str:
        with self._lock:
            return self._state

    def set_state(self, state: str) -> str:
        state = check_state(state)
        with self._lock:
            self._state = state
        return state

    def bump(self, key: str) -> int:
        """Count one more request for ``key``; returns the new count (1 for the first)."""
        with self._lock:
            self._counters[key] += 1
            return self._counters[key]

    def reset(self) -> None:
        """Back to a fresh start: state "now", no hits, counters at zero."""
        with self._lock:
            self._state = "now"
            self._counters.clear()
        self.hits.clear()


def check_state(state: str) -> str:
    if state not in STATES:
        raise ValueError(f"state must be one of {STATES}, not {state!r}")
    return state
