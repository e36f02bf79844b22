"""Issue 18: captures are stored by a group-commit recorder (`archiver.recorder`): one
transaction and one hold of the ledger's lock for the captures finished meanwhile,
with issue 22's pairing of rows and ledger lines kept."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from archiver.errors import StoreError
from archiver.ledger import ledger_for
from archiver.ledger.events import Paired
from archiver.manifest.verify import verify
from archiver.progress import NoProgress
from archiver.recorder import GroupRecorder
from archiver.runs import capture as capture_run
from archiver.runs.add import add_sources
from archiver.runs.capture import capture_pending
from archiver.store import schema as t
from archiver.store.captures import CapturesMixin

from .conftest import make_archive

# ---------------------------------------------------------------- the recorder alone


def _recorder(limit: int = 64, fail_on: int | None = None):
    """A recorder whose first batch waits for ``go`` (``entered`` is set then)."""
    go, entered = threading.Event(), threading.Event()
    stored: list[list[int]] = []
    discarded: list[int] = []

    def record(batch: list[int]) -> None:
        if not stored:
            entered.set()
            go.wait(5)
        if fail_on is not None and fail_on in batch:
            raise StoreError("the store went away")
        stored.append(batch)

    rec = GroupRecorder(record, discarded.extend, name="test-recorder", limit=limit)
    rec.start()
    rec.entered = entered
    return rec, go, stored, discarded


def _settle(rec: GroupRecorder) -> None:
    """Until everything handed over is stored or discarded."""
    deadline = time.monotonic() + 5
    while rec.backlog() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_what_piles_up_while_a_batch_is_stored_is_the_next_batch():
    rec, go, stored, _ = _recorder()
    rec.put(0)
    assert rec.entered.wait(5)  # the first batch is being stored (waiting for go)
    for i in range(1, 6):
        rec.put(i)
    assert rec.backlog() == 6
    go.set()
    rec.close()
    assert stored == [[0], [1, 2, 3, 4, 5]]
    assert rec.backlog() == 0


def test_a_batch_is_never_bigger_than_the_limit():
    rec, go, stored, _ = _recorder(limit=2)
    rec.put(0)
    assert rec.entered.wait(5)
    for i in range(1, 6):
        rec.put(i)
    go.set()
    rec.close()
    assert stored == [[0], [1, 2], [3, 4], [5]]


def test_a_failed_batch_and_everything_after_it_are_discarded_and_close_raises():
    rec, go, stored, discarded = _recorder(fail_on=2)
    rec.put(0)
    assert rec.entered.wait(5)
    for i in (1, 2, 3):
        rec.put(i)
    go.set()
    _settle(rec)
    rec.put(4)  # after the error: handed straight back
    with pytest.raises(StoreError, match="went away"):
        rec.close()
    assert stored == [[0]]
    assert sorted(discarded) == [1, 2, 3, 4]
    assert rec.backlog() == 0


# ---------------------------------------------------------------- captures


def _queue(app, tmp_path, n: int) -> list[str]:
    urls = [f"http://fleet{i % 4}.test/page/{i}?ms=30" for i in range(n)]
    article = tmp_path / "article.txt"
    article.write_text("Fleet\n\n" + "\n".join(urls) + "\n", encoding="utf-8")
    assert not add_sources(app, [str(article)], capture=False).errors
    return urls


def _states(app) -> Counter:
    with app.store.read() as conn:
        rows = conn.execute(
            select(t.target.c.capture_state, func.count()).group_by(t.target.c.capture_state)
        )
        return Counter(dict(rows.all()))


def _claimed(app) -> int:
    with app.store.read() as conn:
        q = select(func.count()).select_from(t.target).where(t.target.c.claimed_by.is_not(None))
        return conn.execute(q).scalar_one()


def test_finished_captures_share_one_ledger_hold(tmp_path, web, monkeypatch):
    app = make_archive(tmp_path / "a", web, capture={"workers": 4, "requisites": False})
    _queue(app, tmp_path, 12)
    holds: list[int] = []
    real = capture_run.write_paired

    def slow_write_paired(ledger, store, kind, n, commit, **extra):
        if kind == Paired.SNAPSHOT:
            holds.append(n)
            if len(holds) == 1:
                time.sleep(0.5)  # a slow first commit: the other captures finish meanwhile
        return real(ledger, store, kind, n, commit, **extra)

    monkeypatch.setattr(capture_run, "write_paired", slow_write_paired)
    progress = NoProgress()
    summary = capture_pending(app, progress=progress)
    assert summary.archived == 12 and summary.snapshots == 12
    assert (progress.total, progress.done) == (12, 12)  # waiting to be stored is not "more"
    assert sum(holds) == 12
    assert len(holds) < 12 and max(holds) > 1, holds  # grouped, not one hold each
    assert not verify(app).problems  # every row has its line, in seq order
    app.close()


def test_a_store_that_fails_to_record_gives_the_claims_back(tmp_path, web, monkeypatch):
    app = make_archive(tmp_path / "a", web, capture={"workers": 4, "requisites": False})
    _queue(app, tmp_path, 8)
    real = CapturesMixin.record_captures
    calls = [0]

    def failing(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] == 1:
            raise StoreError("database is locked")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(CapturesMixin, "record_captures", failing)
    with pytest.raises(StoreError, match="locked"):
        capture_pending(app)
    assert _claimed(app) == 0  # nothing is left claimed by a run that stopped
    assert not verify(app).problems  # the failed batch left neither rows nor lines
    summary = capture_pending(app)  # the next run captures what was not stored
    assert _states(app) == Counter(archived=8)
    assert summary.archived >= 1
    assert not verify(app).problems
    app.close()


def _fleet_hits(web) -> int:
    return sum(1 for hit in web.hits if hit.host.startswith("fleet"))


def test_captures_go_on_while_another_writer_holds_the_ledger(tmp_path, web):
    """A slow ledger holder (another process's commit, a slow disk) no longer stops the
    fetching: before the group commit every capture thread waited for the lock in turn,
    so at most `workers` pages were fetched while it was held."""
    app = make_archive(tmp_path / "a", web, capture={"workers": 2, "requisites": False})
    urls = [f"http://fleet{i % 4}.test/page/{i}?ms=50" for i in range(10)]
    article = tmp_path / "article.txt"
    article.write_text("Fleet\n\n" + "\n".join(urls) + "\n", encoding="utf-8")
    assert not add_sources(app, [str(article)], capture=False).errors
    web.hits.clear()
    fetched_while_held: list[int] = []

    def hold_the_ledger() -> None:
        deadline = time.monotonic() + 10
        while not _fleet_hits(web) and time.monotonic() < deadline:
            time.sleep(0.005)
        with ledger_for(app.settings).batch():
            time.sleep(1.5)  # ten pages at 50 ms on two threads: ~0.25 s of fetching
            fetched_while_held.append(_fleet_hits(web))

    holder = threading.Thread(target=hold_the_ledger)
    holder.start()
    summary = capture_pending(app)
    holder.join()
    assert summary.archived == 10
    assert fetched_while_held == [10]
    assert not verify(app).problems
    app.close()
