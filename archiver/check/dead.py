"""The dead rule and the re-check schedule: plain values in, plain values out.

**Dead** (after InternetArchiveBot, FIELD-NOTES "Deciding a link is dead"): a target is
dead only after ``check.dead_after`` (3) consecutive failing checks that are spread over
at least ``check.dead_min_days`` (3) days — the time from the first to the latest failing
check of the current run of failures. A flaky server, or `archive check --all` run twice
in a minute, never makes a link dead.

- failing: gone, blocked, soft-404, server-error, unreachable — the link does not give
  the cited page;
- succeeding: ok, redirected, drifted — the link lives (a drifted page is recaptured,
  but it is there); any success resets the count, the first-failure time and `dead`;
- rate-limited: neither — the server asked us to come back, which says nothing about the
  page; the state is kept as it was.

**When to check again**:

- rate-limited → after the server's Retry-After (1 hour when it gave none), never sooner
  than 1 s nor later than ``check.interval``;
- failing → after ``dead_min_days / (dead_after - 1)`` (1.5 days by default), at most
  ``check.interval``: a dying link is looked at often enough for the dead rule to decide
  within about ``dead_min_days`` instead of waiting weeks (IABot re-checks dying links
  after 3 days);
- otherwise → ``check.interval`` (7 days).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from archiver.config import CheckSettings
from archiver.states import Rot

DAY = 86400.0
RATE_LIMIT_WAIT = 3600.0  # a 429 without Retry-After: come back in an hour
MIN_FAILING_WAIT = 3600.0

FAILING = frozenset({Rot.GONE, Rot.BLOCKED, Rot.SOFT_404, Rot.SERVER_ERROR, Rot.UNREACHABLE})
LIVING = frozenset({Rot.OK, Rot.REDIRECTED, Rot.DRIFTED})


@dataclass(frozen=True, kw_only=True)
class DeadState:
    """The dead-rule columns of a target."""

    consecutive_failures: int = 0
    first_failure_at: datetime | None = None
    dead: bool = False


def is_failure(rot: Rot) -> bool:
    return rot in FAILING


def dead_rule(
    consecutive_failures: int,
    first_failure_at: datetime | None,
    dead: bool,
    rot: Rot,
    now: datetime,
    settings: CheckSettings,
) -> DeadState:
    """The target's dead-rule state after one more check classified ``rot`` at ``now``."""
    if rot == Rot.RATE_LIMITED:
        return DeadState(
            consecutive_failures=consecutive_failures, first_failure_at=first_failure_at, dead=dead
        )
    if rot not in FAILING:
        return DeadState()
    count = consecutive_failures + 1
    first = first_failure_at if consecutive_failures and first_failure_at else now
    spread = (now - first).total_seconds() >= settings.dead_min_days * DAY
    return DeadState(
        consecutive_failures=count,
        first_failure_at=first,
        dead=dead or (count >= settings.dead_after and spread),
    )


def next_check_delay(rot: Rot, retry_after: float | None, settings: CheckSettings) -> float:
    """Seconds until the target's next check."""
    interval = settings.interval
    if rot == Rot.RATE_LIMITED:
        wait = RATE_LIMIT_WAIT if retry_after is None else retry_after
        return min(max(wait, 1.0), interval)
    if rot in FAILING:
        spacing = settings.dead_min_days * DAY / max(1, settings.dead_after - 1)
        return min(max(spacing, MIN_FAILING_WAIT), interval)
    return interval
