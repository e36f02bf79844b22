"""Issue 16: every claiming process holds the liveness lock, so `kill -9` strands nothing.

- `archive capture` and `archive add` killed mid-download: the next `archive capture`,
  started at once, captures the targets they held, each exactly once.
- A live worker's claims are left alone (skipped, and `archive capture` says how many),
  also when its lock file is held by another process; a claim without a lock file here
  (another machine) waits out its lease.
- `archive status` lists the targets in flight (by whom, until when) apart from waiting.
- Folder intake says which files it left because they are still being written.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from archiver.cli import cli
from archiver.intake.folders import FolderScan, poll_note
from archiver.runs.add import add_sources
from archiver.runs.capture import capture_pending
from archiver.runs.check import check_due
from archiver.runs.intake import run_intake
from archiver.store import schema as t
from archiver.workers import WorkerLock, alive, lock_path, worker_id

from .conftest import make_archive
from .test_crash import ARCHIVE, _env

SLOW = [f"https://cases.test/slow-body?ms=2500&n={n}" for n in (1, 2)]
FAST = ["https://cases.test/ok"]

HOLD_LOCK = """
import pathlib, sys, time
from archiver.workers import WorkerLock
WorkerLock(pathlib.Path(sys.argv[1]), sys.argv[2]).acquire()
print("locked", flush=True)
time.sleep(120)
"""


def _article(tmp_path: Path, urls: list[str]) -> Path:
    path = tmp_path / "article.txt"
    path.write_text("Liveness\n\n" + "\n".join(urls) + "\n", encoding="utf-8")
    return path


def _archive(tmp_path: Path, web):
    return make_archive(tmp_path / "a", web, capture={"workers": 2, "per_host_delay": "0s"})


def _targets(app, urls: list[str]) -> dict[str, dict]:
    """url → its target row (state, claim) and how many snapshots it has."""
    tg, s = t.target, t.snapshot
    found = {}
    with app.store.read() as conn:
        for url in urls:
            row = conn.execute(select(tg).where(tg.c.url == url)).mappings().one()
            snaps = conn.execute(select(s.c.id).where(s.c.target_id == row["id"])).all()
            found[url] = {**row, "snapshots": len(snaps)}
    return found


def _start(app, *args: str) -> subprocess.Popen:
    config = str(app.root / "config.toml")
    return subprocess.Popen(
        [ARCHIVE, "--config", config, *args],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_mid_download(app, proc: subprocess.Popen, limit: float = 60.0) -> str:
    """SIGKILL ``proc`` once it holds the claims of every SLOW target (their bodies are
    half sent then); returns the worker id it claimed them under."""
    end = time.monotonic() + limit
    while time.monotonic() < end and proc.poll() is None:
        holders = _holders(app)
        if len(holders) == len(SLOW) and None not in holders.values():
            time.sleep(0.8)  # the fetches are under way: half a page, then the pause
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"ended before it was killed: {proc.communicate()}"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    (holder,) = set(holders.values())
    return holder


def _holders(app) -> dict[str, str | None]:
    """SLOW url → who claims it, for the SLOW targets stored so far."""
    tg = t.target
    with app.store.read() as conn:
        rows = conn.execute(select(tg.c.url, tg.c.claimed_by).where(tg.c.url.in_(SLOW)))
        return {r.url: r.claimed_by for r in rows}


def _capture_now(app) -> subprocess.CompletedProcess:
    config = str(app.root / "config.toml")
    return subprocess.run(
        [ARCHIVE, "--config", config, "capture"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _assert_captured_once(app, result: subprocess.CompletedProcess, dead: str) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Captured 2 targets: 2 archived" in result.stdout, result.stdout
    assert "Skipped" not in result.stdout
    for url, row in _targets(app, SLOW).items():
        assert row["capture_state"] == "archived", (url, row)
        assert row["snapshots"] == 1, (url, row["snapshots"])
        assert row["claimed_by"] is None
    assert not lock_path(app.root, dead).exists()  # the dead worker's lock file was reaped


@pytest.mark.timeout(120)
def test_kill_nine_of_capture_mid_download_then_capture_takes_them_at_once(web, tmp_path):
    app = _archive(tmp_path, web)
    try:
        add_sources(app, [str(_article(tmp_path, SLOW))], capture=False)
        dead = _kill_mid_download(app, _start(app, "capture"))
        assert lock_path(app.root, dead).exists()  # it held the lock: the kernel dropped it
        _assert_captured_once(app, _capture_now(app), dead)
    finally:
        app.close()


@pytest.mark.timeout(120)
def test_kill_nine_of_add_mid_download_then_capture_takes_them_at_once(web, tmp_path):
    app = _archive(tmp_path, web)
    try:
        article = _article(tmp_path, SLOW)
        dead = _kill_mid_download(app, _start(app, "add", str(article)))
        _assert_captured_once(app, _capture_now(app), dead)
    finally:
        app.close()


def _claim(app, url: str, worker: str, minutes: float = 10) -> None:
    until = app.clock() + timedelta(minutes=minutes)
    with app.store.tx() as conn:
        conn.execute(
            update(t.target)
            .where(t.target.c.url == url)
            .values(claimed_by=worker, claimed_until=until)
        )


def test_a_live_workers_claims_are_skipped_and_counted(web, tmp_path):
    app = _archive(tmp_path, web)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(app.root), "desk-2"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        add_sources(
            app, [str(_article(tmp_path, [*FAST, "https://cases.test/plain"]))], capture=False
        )
        _claim(app, FAST[0], "desk-2")  # alive: its lock is held
        _claim(app, "https://cases.test/plain", "far-away:77")  # no lock file: another host
        summary = capture_pending(app)
        assert summary.attempted == 0 and summary.held == 2
        assert summary.line() == (
            "Nothing to capture. Skipped 2 targets another live worker is capturing."
        )
        rows = _targets(app, [FAST[0], "https://cases.test/plain"])
        assert {r["claimed_by"] for r in rows.values()} == {"desk-2", "far-away:77"}
        assert all(r["capture_state"] == "pending" for r in rows.values())
    finally:
        holder.kill()
        holder.wait()
    # desk-2 is dead now: released at once; far-away:77 keeps its lease
    summary = capture_pending(app)
    assert (summary.attempted, summary.held) == (1, 1)
    assert _targets(app, FAST)[FAST[0]]["capture_state"] == "archived"
    app.close()


def _dead_worker(root: Path, name: str) -> None:
    """A worker that held its lock and was killed: its lock file is left, unheld."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(root), name], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "locked"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert lock_path(root, name).exists()


def test_check_releases_a_dead_checkers_claims_at_once(web, tmp_path):
    app = _archive(tmp_path, web)
    try:
        add_sources(app, [str(_article(tmp_path, FAST))], capture=True)
        _dead_worker(app.root, "checker-1")
        _claim(app, FAST[0], "checker-1")  # it died mid-check
        summary = check_due(app, all_targets=True)
        assert summary.checked == 1
        assert _targets(app, FAST)[FAST[0]]["claimed_by"] is None
        assert not lock_path(app.root, "checker-1").exists()
    finally:
        app.close()


def test_intake_gives_back_a_dead_intakes_feed_at_once(web, tmp_path):
    """A killed intake held its feed for the lease (next_poll_at moved an hour on);
    the next intake finds the worker dead and polls the feed now."""
    feed = "https://news.example.test/rss.xml"
    app = make_archive(tmp_path / "a", web, intake={"feeds": [feed]})
    try:
        (row,) = app.store.intake_sync([("feed", feed)])
        _dead_worker(app.root, "intake-1")
        now = app.clock()
        assert app.store.intake_claim(
            row["id"], now=now, until=now + timedelta(hours=1), worker="intake-1"
        )
        assert "intake-1" in app.store.claim_holders()
        summary = run_intake(app)
        (report,) = summary.sources
        assert report.polled and summary.created == 2, report.note
        (row,) = app.store.intake_rows()
        assert row["claimed_by"] is None and row["next_poll_at"] > now
        assert not lock_path(app.root, "intake-1").exists()
    finally:
        app.close()


def test_a_live_intakes_feed_is_left_to_it(web, tmp_path):
    feed = "https://news.example.test/rss.xml"
    app = make_archive(tmp_path / "a", web, intake={"feeds": [feed]})
    try:
        (row,) = app.store.intake_sync([("feed", feed)])
        now = app.clock()
        with alive(app.root, "intake-2"):
            app.store.intake_claim(
                row["id"], now=now, until=now + timedelta(hours=1), worker="intake-2"
            )
            (report,) = run_intake(app).sources
        assert not report.polled and "not due" in report.note
        assert app.store.intake_rows()[0]["claimed_by"] == "intake-2"
    finally:
        app.close()


def test_a_reused_pid_releases_the_claims_left_under_its_own_id(web, tmp_path):
    """A killed run's id is ours when the pid came round again: taking the lock proves it."""
    app = _archive(tmp_path, web)
    try:
        add_sources(app, [str(_article(tmp_path, FAST))], capture=False)
        _claim(app, FAST[0], worker_id())
        assert capture_pending(app).archived == 1
    finally:
        app.close()


def test_the_lock_is_taken_once_per_process_and_released_by_the_last_holder(tmp_path):
    with alive(tmp_path, "w") as first:
        with alive(tmp_path, "w") as nested:
            assert (first, nested) == (True, False)
        assert lock_path(tmp_path, "w").exists()  # the outer block still holds it
    assert not lock_path(tmp_path, "w").exists()
    lock = WorkerLock(tmp_path, "w")
    lock.acquire(patience=0.1)  # free again
    lock.release()


def _status(app) -> str:
    result = CliRunner().invoke(cli, ["--config", str(app.root / "config.toml"), "status"])
    assert result.exit_code == 0, result.output
    return result.output


def test_status_shows_what_is_in_flight_apart_from_what_waits(web, tmp_path):
    app = _archive(tmp_path, web)
    try:
        add_sources(app, [str(_article(tmp_path, [*SLOW, *FAST]))], capture=False)
        assert "Work: 0 targets in flight, 3 waiting to be captured." in _status(app)
        _claim(app, SLOW[0], "[bold]desk[/bold]")  # rich markup in a worker id stays text
        out = _status(app)
        assert "Work: 1 targets in flight, 2 waiting to be captured." in out
        assert "[bold]desk[/bold]" in out
        until = _targets(app, SLOW)[SLOW[0]]["claimed_until"]
        assert f"{until:%Y-%m-%d %H:%M:%S}Z" in out
        assert "slow-body?ms=2500&n=1" in out
    finally:
        app.close()


@pytest.mark.parametrize(
    ("found", "settling", "new", "note"),
    [
        (0, 1, 0, "1 file still being written, read on the next pass"),
        (0, 2, 0, "2 files still being written, read on the next pass"),
        (3, 1, 1, "3 files, 1 new or changed; 1 file still being written, read on the next pass"),
        (2, 0, 0, "2 files, 0 new or changed"),
        (0, 0, 0, "0 files, 0 new or changed"),
    ],
)
def test_the_folder_note_names_files_still_being_written(found, settling, new, note):
    scan = FolderScan(found=[object()] * found, settling=settling)
    assert poll_note(scan, new) == note


def test_intake_says_a_file_is_still_being_written(web, tmp_path):
    app = make_archive(tmp_path / "a", web, intake={"folders": ["inbox"]})
    try:
        inbox = app.root / "inbox"
        inbox.mkdir()
        (inbox / "fresh.txt").write_text("Fresh\n\nhttps://cases.test/ok\n", encoding="utf-8")
        summary = run_intake(app)
        assert [s.note for s in summary.sources] == [
            "1 file still being written, read on the next pass"
        ]
        assert summary.created == 0
    finally:
        app.close()
