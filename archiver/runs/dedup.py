"""A capture run's dedup lookups, answered from memory where the store's answer is known."""

from __future__ import annotations

import threading
from types import SimpleNamespace


class DedupCache:
    """The run's dedup lookups, answered from memory where the store's answer is known.

    The store stays the source of truth: a URL and digest not seen in this run are
    looked up there (and a hit kept). A resource this run stored after its lookup found
    nothing is added once its transaction has committed, so a revisit only ever points
    at a committed record, as before. The first stored row of a URL and digest never
    changes: rows are only added, and recovery removes only rows past a killed writer's
    last complete record, never a committed capture's (its records were fsync'd before
    the commit). Per run, bounded: the oldest entries go first.
    """

    def __init__(self, lookup, limit: int = 50_000) -> None:
        self._lookup = lookup
        self._limit = limit
        self._known: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()

    def find(self, url: str, payload_digest: str):
        key = (url, payload_digest)
        row = self._known.get(key)
        if row is None:
            row = self._lookup(url, payload_digest)
            if row is not None:
                self._keep(key, row)
        return row

    def stored(self, resources: list[dict]) -> None:
        """Resources committed after a lookup that found nothing."""
        for r in resources:
            self._keep((r["url"], r["payload_digest"]), SimpleNamespace(**r))

    def _keep(self, key: tuple[str, str], row: object) -> None:
        with self._lock:
            if key in self._known:
                return
            if len(self._known) >= self._limit:
                self._known.pop(next(iter(self._known)))
            self._known[key] = row
