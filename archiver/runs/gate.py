"""The runs' politeness gates: shared through PostgreSQL, in-process on SQLite.

`SharedHostGate` is the in-process `HostGate` (threads queue there first, so at most N
of them poll for a busy host's slots) composed with the store's `HostSlots` (the limits
held across every worker of a PostgreSQL store; see `archiver.store.hostgate`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine

from archiver.net.gate import HostGate, pause
from archiver.store.hostgate import HostSlots


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
        self.slots = HostSlots(engine, poll=poll, max_poll=max_poll)
        self.shared_delay = max(0.0, delay)

    @contextmanager
    def slot(
        self, host: str, *, paced: bool = True, deadline: float | None = None
    ) -> Iterator[None]:
        # unpaced: this process's Retry-After waits are honoured by the in-process gate
        with super().slot(host, paced=paced, deadline=deadline), self.slots.connection() as conn:
            slot = self.slots.take(conn, host, self.concurrency)
            try:
                wait = self.slots.reserve(conn, host, self.shared_delay) if paced else 0.0
                if wait > 0:
                    pause(wait, deadline)
                yield
            finally:
                self.slots.give(conn, host, slot)

    def defer(self, host: str, seconds: float) -> None:
        super().defer(host, seconds)
        self.slots.defer(host, seconds)


def host_gate(store, *, concurrency: int, delay: float) -> HostGate:
    """The politeness gate for ``store``: shared through PostgreSQL, in-process on SQLite."""
    if store.is_sqlite:
        return HostGate(concurrency=concurrency, delay=delay)
    return SharedHostGate(store.engine, concurrency=concurrency, delay=delay)
