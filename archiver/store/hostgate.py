"""Per-host politeness across every worker of a PostgreSQL store: the SQL side.

The in-process `HostGate` keeps one process polite; `archiver.runs.gate.SharedHostGate`
composes it with the `HostSlots` here. With workers on several machines
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


class HostSlots:
    """A host's slots (advisory locks) and its next paced start, kept in PostgreSQL."""

    def __init__(self, engine: Engine, *, poll: float = 0.02, max_poll: float = 0.25) -> None:
        self.engine = engine
        self.poll = poll
        self.max_poll = max_poll

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A connection of its own (autocommit): the advisory lock lives as long as it."""
        try:
            with self.engine.connect() as conn:
                yield conn.execution_options(isolation_level="AUTOCOMMIT")
        except DBAPIError as exc:
            raise StoreError(f"store: host gate: {exc.orig}") from exc

    def take(self, conn: Connection, host: str, concurrency: int) -> int:
        """Wait until one of the host's ``concurrency`` slots is ours; returns its number."""
        slots = list(range(concurrency))
        pause = self.poll
        while True:
            random.shuffle(slots)  # no slot is everyone's first choice
            for slot in slots:
                if conn.execute(_TRY, {"host": host, "slot": slot}).scalar():
                    return slot
            time.sleep(pause * (0.5 + random.random()))
            pause = min(pause * 2, self.max_poll)

    def reserve(self, conn: Connection, host: str, delay: float) -> float:
        """Reserve the host's next paced start; returns the seconds to wait for it."""
        # with no delay too: a Retry-After from any worker may have pushed the start on
        return float(conn.execute(_RESERVE, {"host": host, "delay": delay}).scalar())

    def give(self, conn: Connection, host: str, slot: int) -> None:
        try:
            conn.execute(_UNLOCK, {"host": host, "slot": slot})
        except DBAPIError:
            # the session may be gone (and the lock with it); never pool it holding a slot
            logger.warning("host gate: could not unlock %s slot %d", host, slot, exc_info=True)
            conn.invalidate()

    def defer(self, host: str, seconds: float) -> None:
        """No paced start at the host before ``seconds`` from now (a Retry-After)."""
        with self.connection() as conn:
            conn.execute(_DEFER, {"host": host, "seconds": float(seconds)})
