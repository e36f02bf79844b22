"""One capture's budget: time and bytes for the page, its hops and every requisite together.

Each fetch still has its own page time limit and size cap; the budget bounds their sum,
so 300 requisites cannot take 300 page time limits. Once it is spent nothing more is
fetched, and `reason` says so for the snapshot (marked truncated) and its metadata record.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Budget:
    seconds: float
    max_bytes: int
    clock: Callable[[], float] = time.monotonic
    started: float = field(init=False)
    received: int = 0
    cut: str | None = None
    skipped: int = 0  # fetches not made once the budget was spent

    def __post_init__(self) -> None:
        self.started = self.clock()

    @property
    def deadline(self) -> float:
        return self.started + self.seconds

    def limits(self) -> tuple[float, int] | None:
        """(deadline, bytes left) for the next fetch, or None once spent (see `cut`)."""
        if self.cut is None:
            if self.clock() >= self.deadline:
                self.cut = f"capture budget spent: {self.seconds:g} s (capture_time)"
            elif self.received >= self.max_bytes:
                self.cut = (
                    f"capture budget spent: {self.received} bytes received"
                    f" (capture_bytes = {self.max_bytes})"
                )
        return None if self.cut else (self.deadline, self.max_bytes - self.received)

    def spend(self, received: int) -> None:
        self.received += received

    def skip(self, fetches: int = 1) -> None:
        self.skipped += fetches

    @property
    def reason(self) -> str | None:
        """Why the capture is incomplete, or None: settles the budget first."""
        self.limits()
        if self.cut is None:
            return None
        return f"{self.cut}; {self.skipped} fetches not made" if self.skipped else self.cut
