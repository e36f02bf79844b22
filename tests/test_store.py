"""The store: identity of articles, claims with leases, migrations, transactions."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, inspect, select, text

from archiver.capture.outcome import CaptureOutcome, Snapshot
from archiver.errors import StoreError
from archiver.extract import extract_text
from archiver.manifest.articles import article_doc
from archiver.store import open_store
from archiver.store import schema as t


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(store_url, clock):
    s = open_store(store_url, clock=clock, create=True)
    yield s
    s.close()


def add(store, text, source="x.txt"):
    return store.save_article(extract_text(text), source)


def test_identity_by_source_url_then_text(store):
    a1, created, n = add(store, "Story\nOriginal url: https://n.org/s\n\nhttps://a.org/1")
    assert created and n == 2
    a2, created, n = add(store, "Story v2\nOriginal url: https://n.org/s\n\nhttps://a.org/2")
    assert a2 == a1 and not created and n == 1
    b1, created, _ = add(store, "Other story https://a.org/1")
    b2, created2, _ = add(store, "Other story https://a.org/1")
    assert b1 == b2 and created and not created2
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(t.target)).scalar_one() == 3


def test_slugs_are_unique_and_typable(store):
    ids = [add(store, f"Same Title Here\n{i} https://a.org/{i}")[0] for i in range(3)]
    assert ids == ["same-title-here", "same-title-here-2", "same-title-here-3"]
    assert add(store, "Заголовок статьи https://a.org/x")[0] == "zagolovok-stati"


def test_failed_transaction_leaves_nothing(store, monkeypatch):
    add(store, "Before https://a.org/1")
    ex = extract_text("Broken https://a.org/2 https://a.org/3")

    def boom(conn, url):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store, "_target_id", boom)
    with pytest.raises(RuntimeError):
        store.save_article(ex, "y.txt")
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(t.article)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(t.citation)).scalar_one() == 1


def test_claims_are_exclusive_across_threads(store):
    add(store, "Many " + " ".join(f"https://a.org/{i}" for i in range(60)))
    got: list[int] = []
    lock = threading.Lock()

    def worker(name):
        while True:
            rows = store.claim_captures(worker=name, lease=600, limit=3, max_attempts=5)
            if not rows:
                return
            with lock:
                got.extend(r.id for r in rows)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(got) == 60 and len(set(got)) == 60


def test_expired_lease_is_reclaimed(store, clock):
    add(store, "One https://a.org/1")
    assert len(store.claim_captures(worker="a", lease=60, limit=5, max_attempts=5)) == 1
    assert store.claim_captures(worker="b", lease=60, limit=5, max_attempts=5) == []
    clock.now += timedelta(seconds=61)
    assert len(store.claim_captures(worker="b", lease=60, limit=5, max_attempts=5)) == 1


def test_failure_backs_off_then_gives_up(store, clock):
    add(store, "One https://a.org/1")
    waits = []
    for _ in range(4):
        clock.now += timedelta(days=30)
        (row,) = store.claim_captures(worker="w", lease=60, limit=1, max_attempts=4)
        store.record_capture(
            row,
            "w",
            CaptureOutcome(state="failed", error="HTTP 500"),
            retry_backoff=300,
            retry_max=3600,
            check_interval=86400,
        )
        with store.read() as conn:
            tr = conn.execute(select(t.target)).one()
        waits.append((tr.next_capture_at - clock.now).total_seconds())
        assert tr.capture_state == "failed" and tr.last_error == "HTTP 500"
    assert waits == [300, 600, 1200, 2400]
    clock.now += timedelta(days=30)
    assert store.claim_captures(worker="w", lease=60, limit=1, max_attempts=4) == []


def test_retry_after_is_not_a_failure(store, clock):
    add(store, "One https://a.org/1")
    (row,) = store.claim_captures(worker="w", lease=60, limit=1, max_attempts=4)
    store.record_capture(
        row,
        "w",
        CaptureOutcome(state="pending", retry_after=120, error="HTTP 429"),
        retry_backoff=300,
        retry_max=3600,
        check_interval=86400,
    )
    with store.read() as conn:
        tr = conn.execute(select(t.target)).one()
    assert tr.capture_state == "pending" and tr.attempts == 1
    assert tr.next_capture_at == clock.now + timedelta(seconds=120)


# issue #23, finding 6: Retry-After is capped at retry_max and counts as an attempt


@pytest.mark.parametrize("retry_after", [999_999_999_999.0, float("inf"), 1e308])
def test_huge_retry_after_is_capped_at_retry_max(store, clock, retry_after):
    add(store, "One https://a.org/1")
    (row,) = store.claim_captures(worker="w", lease=60, limit=1, max_attempts=4)
    store.record_capture(
        row,
        "w",
        CaptureOutcome(state="pending", retry_after=retry_after, error="HTTP 429"),
        retry_backoff=300,
        retry_max=3600,
        check_interval=86400,
        max_attempts=4,
    )
    with store.read() as conn:
        tr = conn.execute(select(t.target)).one()
    assert tr.next_capture_at == clock.now + timedelta(seconds=3600)


def test_retry_after_zero_counts_attempts_and_gives_up(store, clock):
    add(store, "One https://a.org/1")
    for _ in range(3):
        clock.now += timedelta(days=1)
        (row,) = store.claim_captures(worker="w", lease=60, limit=1, max_attempts=3)
        store.record_capture(
            row,
            "w",
            CaptureOutcome(state="pending", retry_after=0.0, error="HTTP 429: retry after 0s"),
            retry_backoff=300,
            retry_max=3600,
            check_interval=86400,
            max_attempts=3,
        )
        with store.read() as conn:
            tr = conn.execute(select(t.target)).one()
        assert tr.next_capture_at >= clock.now + timedelta(seconds=60)
    assert tr.attempts == 3 and tr.capture_state == "failed"
    clock.now += timedelta(days=30)
    assert store.claim_captures(worker="w", lease=60, limit=1, max_attempts=3) == []


def test_schema_version_guard(tmp_path):
    url = f"sqlite:///{tmp_path / 'b.db'}"
    s = open_store(url, create=True)
    with s.tx() as conn:
        conn.execute(t.meta.update().values(value=str(t.SCHEMA_VERSION + 1)))
    s.close()
    with pytest.raises(StoreError, match="newer than this archiver"):
        open_store(url)


def test_opening_a_non_archive_database(tmp_path):
    with pytest.raises(StoreError, match="run `archive init`"):
        open_store(f"sqlite:///{tmp_path / 'empty.db'}")


def test_a_live_worker_keeps_its_claims_past_the_lease(store, clock):
    from archiver.store.leases import LeaseKeeper

    add(store, "One https://a.org/1")
    (row,) = store.claim_captures(worker="a", lease=0.6, limit=1, max_attempts=5)
    with LeaseKeeper(store, "a", lease=0.6) as keeper:
        keeper.hold(row.id)
        clock.now += timedelta(seconds=60)  # far past the lease taken at the claim
        time.sleep(1.0)  # the keeper renews every lease/3 (0.2 s)
        assert store.claim_captures(worker="b", lease=60, limit=1, max_attempts=5) == []
        keeper.drop(row.id)
    clock.now += timedelta(seconds=1)  # no renewal any more: the lease runs out
    again = store.claim_captures(worker="b", lease=60, limit=1, max_attempts=5)
    assert [r.id for r in again] == [row.id]


def test_schema_4_adds_judgement_reasons_to_an_older_store(store_url):
    """Issue 17: a store from schema 2 (no `reasons` columns) gets them on opening; rows
    written before keep NULL, read back as no reasons."""
    s = open_store(store_url, create=True)
    with s.tx() as conn:
        for table in ("snapshot", '"check"'):
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN reasons"))
        conn.execute(t.meta.update().values(value="2"))
    s.close()
    s = open_store(store_url)
    try:
        assert s.schema_version() == t.SCHEMA_VERSION
        with s.read() as conn:
            for table in ("snapshot", "check"):
                assert "reasons" in {c["name"] for c in inspect(conn).get_columns(table)}
        assert s.migrate() == 0  # nothing left to do, and v4 again would be a no-op
    finally:
        s.close()


def test_judgement_reasons_round_trip_through_the_article_document(store, clock):
    add(store, "One https://a.org/1")
    (row,) = store.claim_captures(worker="w", lease=60, limit=1, max_attempts=5)
    reasons = [{"rule": "cf-mitigated", "detail": "cf-mitigated: challenge, HTTP 403 «ü»"}]
    snap = Snapshot(
        captured_at=clock.now,
        warc="warcs/a.warc.gz",
        offset=0,
        length=1,
        record_id="<urn:x>",
        status=403,
        final_url="https://a.org/1",
        redirects=[],
        good=False,
        quality="bot-wall",
        reasons=reasons,
    )
    outcome = CaptureOutcome(state="failed", snapshots=[snap], error="blocked: …")
    store.record_capture(row, "w", outcome, retry_backoff=1, retry_max=2, check_interval=3)
    doc = article_doc(store, store.article_ids()[0])
    (cited,) = doc["citations"]
    assert cited["snapshots"][0]["reasons"] == reasons


def test_set_archived_schedules_a_first_check_only_once(store, clock):
    add(store, "Story https://a.org/1 https://a.org/2")
    tg = t.target
    with store.read() as conn:
        ids = sorted(r.id for r in conn.execute(select(tg.c.id)))
    set_before = clock.now + timedelta(days=3)
    with store.tx() as conn:
        conn.execute(tg.update().where(tg.c.id == ids[1]).values(next_check_at=set_before))
        conn.execute(tg.update().values(last_error="timeout"))
        store.set_archived(conn, ids, check_interval=3600)
    with store.read() as conn:
        rows = {r.id: r for r in conn.execute(select(tg))}
    assert {r.capture_state for r in rows.values()} == {"archived"}
    assert all(r.next_capture_at is None and r.last_error is None for r in rows.values())
    assert rows[ids[0]].next_check_at == clock.now + timedelta(hours=1)
    assert rows[ids[1]].next_check_at == set_before  # a scheduled check is not postponed
