"""What the daemon keeps in the store: one heartbeat row per job, and its claims.

The heartbeat row (job → when it last ran, last succeeded, the last error and summary)
is how `archive status` tells an operator the daemon is alive. Claims are released
here when a worker stops (or is found dead) so its targets need not wait out the lease.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, select, union

from archiver.store import schema as t

hb = t.heartbeat
tg = t.target
src = t.intake_source


class DaemonMixin:
    # ------------------------------------------------------------ heartbeats

    def beat(
        self, job: str, worker: str, ok: bool, summary: str | None, error: str | None = None
    ) -> None:
        """Record one run of ``job``: a success clears the last error, a failure keeps last_ok."""
        now = self.clock()
        values: dict[str, Any] = {"worker": worker, "last_run_at": now, "summary": summary}
        values.update({"last_ok_at": now, "last_error": None} if ok else {"last_error": error})
        # one statement, so two daemons beating the same job for the first time never collide
        stmt = self.upsert(hb).values(job=job, **values)
        stmt = stmt.on_conflict_do_update(index_elements=[hb.c.job], set_=values)
        with self.tx() as conn:
            conn.execute(stmt)

    def heartbeats(self) -> list[dict[str, Any]]:
        """Every job's heartbeat row, by job name."""
        with self.read() as conn:
            rows = conn.execute(select(hb).order_by(hb.c.job)).mappings().all()
        return [dict(r) for r in rows]

    # ------------------------------------------------------------ claims

    def claim_holders(self) -> list[str]:
        """Workers holding at least one unexpired claim (on a target or a feed)."""
        now = self.clock()
        targets = select(tg.c.claimed_by).where(
            tg.c.claimed_by.is_not(None), tg.c.claimed_until >= now
        )
        feeds = select(src.c.claimed_by).where(
            src.c.claimed_by.is_not(None), src.c.next_poll_at >= now
        )
        with self.read() as conn:
            return sorted(r.claimed_by for r in conn.execute(union(targets, feeds)))

    def in_flight(self, limit: int = 20) -> tuple[list[dict[str, Any]], int]:
        """Targets under an unexpired claim (url, claimed_by, claimed_until), the longest
        claimed first, at most ``limit`` of them; and how many there are in all."""
        held = and_(tg.c.claimed_by.is_not(None), tg.c.claimed_until >= self.clock())
        cols = (tg.c.url, tg.c.claimed_by, tg.c.claimed_until)
        with self.read() as conn:
            rows = conn.execute(
                select(*cols).where(held).order_by(tg.c.claimed_until, tg.c.id).limit(limit)
            ).mappings()
            shown = [dict(r) for r in rows]
            total = conn.execute(select(func.count()).select_from(tg).where(held)).scalar_one()
        return shown, total

    def release_claims(self, worker: str) -> int:
        """Drop every claim ``worker`` holds (it stopped, or is known dead); returns how many.

        A feed it was polling is due again at once (a claim is only taken when due)."""
        with self.tx() as conn:
            res = conn.execute(
                tg.update()
                .where(tg.c.claimed_by == worker)
                .values(claimed_by=None, claimed_until=None)
            )
            fed = conn.execute(
                src.update()
                .where(src.c.claimed_by == worker)
                .values(claimed_by=None, next_poll_at=None)
            )
            return (res.rowcount or 0) + (fed.rowcount or 0)
