"""A group-commit recorder: one thread stores the results the pool threads finish, as
many at a time as are ready.

Storing a result means one store transaction and one hold of the ledger's lock
(`ledger.pairs`), which every writer of every process takes in turn. Taken per
result, that lock serializes the workers: a thread waits for it instead of fetching.
Here the pool threads hand their results over and go on; the recorder stores what has
piled up while it stored the last batch (or waits up to ``wait`` seconds to fill one),
at most ``limit`` at a time: the commit's cost is shared by the batch.

`close` stores what is left and re-raises the first error. After an error the recorder
stops storing and hands what it is still given to ``discard`` (which gives the claims
back), so nothing waits on a store that failed.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")


class GroupRecorder(threading.Thread, Generic[Item]):
    """``put`` results from any thread; ``record(batch)`` runs on this thread."""

    def __init__(
        self,
        record: Callable[[list[Item]], None],
        discard: Callable[[list[Item]], None],
        *,
        name: str,
        limit: int,
        wait: float = 0.0,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self._record = record
        self._discard = discard
        self.limit = limit
        self.wait = wait  # seconds to wait for more once one result is in (0: what is ready)
        self.queue: queue.Queue[Item | None] = queue.Queue()
        self.error: BaseException | None = None
        self._backlog = 0  # put and not yet stored (or discarded)
        self._count_lock = threading.Lock()

    def put(self, item: Item) -> None:
        with self._count_lock:
            self._backlog += 1
        self.queue.put(item)

    def backlog(self) -> int:
        """Results handed over and not stored yet."""
        with self._count_lock:
            return self._backlog

    def _next_batch(self) -> tuple[list[Item], bool]:
        """(the next batch, whether `close` was called): blocks for the first result."""
        batch: list[Item] = []
        item = self.queue.get()
        deadline = time.monotonic() + self.wait
        while item is not None:
            batch.append(item)
            if len(batch) >= self.limit:
                return batch, False
            try:
                left = deadline - time.monotonic()
                item = self.queue.get(timeout=left) if left > 0 else self.queue.get_nowait()
            except queue.Empty:
                return batch, False
        return batch, True

    def run(self) -> None:
        done = False
        while not done:
            batch, done = self._next_batch()
            if batch:
                self._store(batch)

    def _store(self, batch: list[Item]) -> None:
        try:
            if self.error is not None:
                with contextlib.suppress(Exception):
                    self._discard(batch)
                return
            try:
                self._record(batch)
            except BaseException as exc:  # re-raised by close() in the run's thread
                self.error = exc
                with contextlib.suppress(Exception):
                    self._discard(batch)
        finally:
            with self._count_lock:
                self._backlog -= len(batch)

    def close(self) -> None:
        """Store what is left; then re-raise the first error of ``record``."""
        self.queue.put(None)
        self.join()
        if self.error is not None:
            raise self.error
