"""Storing capture attempts: snapshot rows, reused copies, resources, the target moved on.

One transaction for a group of attempts (the capture run's recorder hands over what its
threads finished), and the rules for when a target is due again: archived → checked
after ``check.interval``; rate-limited → after its Retry-After (bounded); failed →
exponential backoff, and "failed" once ``max_attempts`` are spent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from archiver.ledger.events import Paired
from archiver.states import CaptureState
from archiver.store import schema as t
from archiver.store.schedule import archived_values

if TYPE_CHECKING:
    from archiver.capture.outcome import CaptureOutcome

tg = t.target

RETRY_AFTER_MIN = 60.0  # a rate-limited target is not asked again sooner than this


def retry_wait(retry_after: float | None, retry_max: float) -> float:
    """Seconds until a rate-limited target is tried again: the host's Retry-After,
    at least a minute and at most ``retry_max`` (a Retry-After of 10^12 s, or inf, would
    overflow a datetime)."""
    wait = RETRY_AFTER_MIN if retry_after is None else retry_after
    if wait != wait:  # NaN
        wait = RETRY_AFTER_MIN
    return min(max(wait, RETRY_AFTER_MIN), retry_max)


class CapturesMixin:
    def record_capture(
        self,
        target,
        worker: str,
        outcome: CaptureOutcome,
        *,
        retry_backoff: float,
        retry_max: float,
        check_interval: float,
        max_attempts: int | None = None,
        seqs: list[int] | None = None,
    ) -> list[Any]:
        """Store a capture attempt's snapshots and move the target on, in one transaction.

        A rate-limited ("pending") attempt counts towards ``max_attempts`` too; at the
        limit a target never archived becomes "failed" and is no longer due.
        ``seqs``: the ledger seqs the snapshot rows carry (`ledger.pairs`); returns the
        rows as stored, in seq order (without seqs: their ids)."""
        return self.record_captures(
            [(target, outcome)],
            worker,
            retry_backoff=retry_backoff,
            retry_max=retry_max,
            check_interval=check_interval,
            max_attempts=max_attempts,
            seqs=seqs,
        )

    def record_captures(
        self,
        captures: list[tuple[Any, CaptureOutcome]],
        worker: str,
        *,
        retry_backoff: float,
        retry_max: float,
        check_interval: float,
        max_attempts: int | None = None,
        seqs: list[int] | None = None,
    ) -> list[Any]:
        """`record_capture` for several targets in one transaction (a group commit: one
        commit, and one hold of the ledger's lock, for the captures a run has finished).

        ``seqs``: one per snapshot, in the order of ``captures`` and their snapshots;
        returns those rows as stored, in seq order (without seqs: the snapshots' ids)."""
        now = self.clock()
        count = sum(len(outcome.snapshots) for _, outcome in captures)
        numbered = seqs is not None and count > 0
        seq_iter = iter(seqs if numbered else [None] * count)
        ids: list[int] = []
        with self.tx() as conn:
            for target, outcome in captures:
                values = _moved_on(
                    target,
                    outcome,
                    now,
                    retry_backoff=retry_backoff,
                    retry_max=retry_max,
                    check_interval=check_interval,
                    max_attempts=max_attempts,
                )
                mine = [next(seq_iter) for _ in outcome.snapshots]
                ids += _insert_capture(conn, target, outcome, values, mine)
            # one statement, article rows locked in id order (`mark_dirty_for_targets`)
            self.mark_dirty_for_targets(conn, sorted({target.id for target, _ in captures}))
            if numbered:
                return self.paired_rows(conn, Paired.SNAPSHOT, list(seqs))
        return ids


def _moved_on(
    target,
    outcome: CaptureOutcome,
    now: datetime,
    *,
    retry_backoff: float,
    retry_max: float,
    check_interval: float,
    max_attempts: int | None,
) -> dict[str, Any]:
    """The target's new columns after this attempt: released, and when it is due next."""
    values: dict[str, Any] = {"claimed_by": None, "claimed_until": None, "recapture": False}
    attempts = target.attempts + 1
    if outcome.state == CaptureState.ARCHIVED:
        values.update(archived_values(target, now, check_interval))
        # last_error: a 2xx stand-in is what it was (issue 17)
        values.update(last_error=outcome.error, attempts=attempts)
    elif outcome.state == CaptureState.PENDING:
        # a rate-limited attempt is an attempt: a host answering "Retry-After: 0"
        # forever must not be fetched every minute forever
        values.update(
            last_error=outcome.error,
            attempts=attempts,
            next_capture_at=now + timedelta(seconds=retry_wait(outcome.retry_after, retry_max)),
        )
        spent = max_attempts is not None and attempts >= max_attempts
        if spent and target.capture_state != CaptureState.ARCHIVED:
            values["capture_state"] = CaptureState.FAILED
    else:
        wait = min(retry_backoff * 2 ** (attempts - 1), retry_max)
        values.update(
            last_error=outcome.error,
            attempts=attempts,
            next_capture_at=now + timedelta(seconds=wait),
        )
        if target.capture_state != CaptureState.ARCHIVED:
            values["capture_state"] = CaptureState.FAILED
    return values


def _insert_capture(
    conn, target, outcome: CaptureOutcome, values: dict[str, Any], seqs: list
) -> list[int]:
    """One attempt's rows: its snapshots (with their seqs), the copies the last one
    reuses, the resources it wrote, and the target moved on; returns the snapshot ids."""
    ids: list[int] = []
    for row, seq in zip(outcome.snapshots, seqs, strict=True):
        res = conn.execute(
            t.snapshot.insert().values(target_id=target.id, ledger_seq=seq, **row.columns())
        )
        ids.append(res.inserted_primary_key[0])
    if outcome.reused and ids:
        conn.execute(
            t.snapshot_reuse.insert(), [dict(r, snapshot_id=ids[-1]) for r in outcome.reused]
        )
    if outcome.resources:
        conn.execute(t.resource.insert(), outcome.resources)
    conn.execute(tg.update().where(tg.c.id == target.id).values(**values))
    return ids
