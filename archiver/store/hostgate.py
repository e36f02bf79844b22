"""Per-host politeness across every worker of a PostgreSQL store.

The in-process `HostGate` keeps one process polite. With workers on several machines
the limits must hold across all of them, so PostgreSQL keeps them:

- concurrency: slot k of a host is the advisory lock (hashtext(host), k), k < N. A
  request holds one slot for its whole duration, on a connection of its own; the server
  drops the lock when that session ends, so a crashed worker never keeps a slot.
- delay: ``host_gate.next_start`` is the earliest start of the next page visit (a paced
  request) to the host; a visit's requisites (unpaced) only take a slot.
  One upsert reserves a start and pushes the next one on by the delay (a Retry-After
  pushes it too), on the database server's clock, so the machines' clocks do not matter.

Inside one process the threads first queue on the in-process gate, so at most N of them
poll for a busy host's slots, not every thread.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from archiver.errors import StoreError
from archiver.net.gate import HostGate, pause

logger = logging.getLogger(__name__)

_KEY = "hashtext('archiver-host:' || :host)"
_TRY = text(f"SELECT pg_try_advisory_lock({_KEY}, :slot)")
_UNLOCK = text(f"SELECT pg_advisory_unlock({_KEY}, :slot)")
_NOW = "extract(epoch FROM clock_timestamp())::float8"
# start = max(next_start, now); next_start = start + delay; returns start - now (the wait)
_RESERVE = text(
    "INSERT INTO host_gate AS g (host, next_start) "
    f"VALUES (:host, {_NOW} + :delay) "
    f"ON CONFLICT (host) DO UPDATE SET next_start = greatest(g.next_start, {_NOW}) + :delay "
    f"RETURNING g.next_start - :delay - {_NOW}"
)
_DEFER = text(
    "INSERT INTO host_gate AS g (host, next_start) "
    f"VALUES (:host, {_NOW} + :seconds) "
    f"ON CONFLICT (host) DO UPDATE SET next_start = greatest(g.next_start, {_NOW} + :seconds)"
)


class SharedHostGate(HostGate):
    """At most ``concurrency`` requests in flight to a host, and starts ``delay`` apart,
    counted over every worker using the same PostgreSQL store."""

    def __init__(
        self,
        engine: Engine,
        *,
        concurrency: int,
        delay: float,
        poll: float = 0.02,
        max_poll: float = 0.25,
    ) -> None:
        super().__init__(concurrency=concurrency, delay=0.0)  # in-process: queueing only
        self.engine = engine
        self.shared_delay = max(0.0, delay)
        self.poll = poll
        self.max_poll = max_poll

    @contextmanager
    def slot(
        self, host: str, *, paced: bool = True, deadline: float | None = None
    ) -> Iterator[None]:
        # unpaced: this process's Retry-After waits are honoured by the in-process gate
        with super().slot(host, paced=paced, deadline=deadline), self._connection() as conn:
            slot = self._take(conn, host)
            try:
                wait = self._reserve(conn, host) if paced else 0.0
                if wait > 0:
                    pause(wait, deadline)
                yield
            finally:
                self._give(conn, host, slot)

    def defer(self, host: str, seconds: float) -> None:
        super().defer(host, seconds)
        with self._connection() as conn:
            conn.execute(_DEFER, {"host": host, "seconds": float(seconds)})

    # ------------------------------------------------------------ steps

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn.execution_options(isolation_level="AUTOCOMMIT")
        except DBAPIError as exc:
            raise StoreError(f"store: host gate: {exc.orig}") from exc

    def _take(self, conn: Connection, host: str) -> int:
        """Wait until one of the host's slots is ours; returns its number."""
        slots = list(range(self.concurrency))
        pause = self.poll
        while True:
            random.shuffle(slots)  # no slot is everyone's first choice
            for slot in slots:
                if conn.execute(_TRY, {"host": host, "slot": slot}).scalar():
                    return slot
            time.sleep(pause * (0.5 + random.random()))
            pause = min(pause * 2, self.max_poll)

    def _reserve(self, conn: Connection, host: str) -> float:
        # with no delay too: a Retry-After from any worker may have pushed the start on
        return float(conn.execute(_RESERVE, {"host": host, "delay": self.shared_delay}).scalar())

    def _give(self, conn: Connection, host: str, slot: int) -> None:
        try:
            conn.execute(_UNLOCK, {"host": host, "slot": slot})
        except DBAPIError:
            # the session may be gone (and the lock with it); never pool it holding a slot
            logger.warning("host gate: could not unlock %s slot %d", host, slot, exc_info=True)
            conn.invalidate()


def host_gate(store, *, concurrency: int, delay: float) -> HostGate:
    """The politeness gate for ``store``: shared through PostgreSQL, in-process on SQLite."""
    if store.is_sqlite:
        return HostGate(concurrency=concurrency, delay=delay)
    return SharedHostGate(store.engine, concurrency=concurrency, delay=delay)
