"""`archive daemon`: --once in-process, then the real script under load, signals and kill -9.

Every subprocess test runs `.venv/bin/archive` against the fixture web with
`capture_every = 1s`, and counts WARC records per cited URL across every file: a target
captured twice shows as a second response (or a revisit) for the same URL.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update
from warcio.archiveiterator import ArchiveIterator

from archiver.cli import cli
from archiver.daemon import Daemon
from archiver.errors import UsageError
from archiver.logs import JsonFormatter
from archiver.store import schema as t
from archiver.workers import WorkerLock, is_dead, worker_id

from .conftest import make_archive, open_archive_store

SCRIPT = str(Path(sys.executable).parent / "archive")
if not Path(SCRIPT).exists():
    SCRIPT = shutil.which("archive") or SCRIPT
WARCIO = str(Path(sys.executable).parent / "warcio")


# ---------------------------------------------------------------- helpers


NO_CHROMIUM = {"chromium": "no-chromium-for-this-test"}  # the screenshots job left out


def new_archive(
    tmp_path: Path, web, *, workers: int = 4, screenshots: dict | None = None, **daemon
) -> Path:
    settings = {"capture_every": "1s", "check_every": "1h", **daemon}
    app = make_archive(
        tmp_path / "a",
        web,
        daemon=settings,
        capture={"workers": workers, "per_host_delay": "0s"},
        screenshots=NO_CHROMIUM if screenshots is None else screenshots,
    )
    app.close()
    return app.settings.root / "config.toml"


def delay_urls(ms: int, names) -> list[str]:
    return [f"https://cases.test/delay?ms={ms}&n={n}" for n in names]


def write_article(folder: Path, name: str, urls: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    body = "\n".join(f"Source {i}: {u} (as reported)." for i, u in enumerate(urls))
    path = folder / f"{name}.txt"
    path.write_text(f"Article {name}\n\n{body}\n", encoding="utf-8")
    return path


def run(cfg: Path, *args):
    return CliRunner().invoke(cli, ["--config", str(cfg), *args])


def env_for(web, cfg: Path) -> dict[str, str]:
    return {**os.environ, **web.env(), "ARCHIVER_CONFIG": str(cfg)}


def start_daemon(web, cfg: Path, log: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [SCRIPT, "daemon", "--log-format", "json", *args],
        env=env_for(web, cfg),
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )


def stop_daemon(proc: subprocess.Popen, timeout: float) -> tuple[int, float]:
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=timeout)
    return code, time.monotonic() - started


def states(cfg: Path) -> Counter:
    store = open_archive_store(cfg)
    try:
        with store.read() as conn:
            q = select(t.target.c.capture_state, func.count()).group_by(t.target.c.capture_state)
            return Counter({state: n for state, n in conn.execute(q)})
    finally:
        store.close()


def snapshot_count(cfg: Path) -> int:
    store = open_archive_store(cfg)
    try:
        with store.read() as conn:
            return conn.execute(select(func.count()).select_from(t.snapshot)).scalar_one()
    finally:
        store.close()


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"daemon exited ({proc.returncode}) while waiting for {what}")
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def records_by_url(root: Path) -> dict[str, Counter]:
    """URL → Counter of record types, over every closed WARC file."""
    found: dict[str, Counter] = {}
    for path in sorted((root / "warcs").rglob("*.warc.gz")):
        with path.open("rb") as f:
            for record in ArchiveIterator(f):
                uri = record.rec_headers.get_header("WARC-Target-URI")
                if uri and record.rec_type in ("response", "revisit"):
                    found.setdefault(uri, Counter())[record.rec_type] += 1
    return found


def assert_captured_once(root: Path, urls: list[str]) -> None:
    found = records_by_url(root)
    twice = {u: dict(found.get(u, {})) for u in urls if found.get(u) != Counter(response=1)}
    assert not twice, f"not exactly one response record: {twice}"


def open_files(root: Path) -> list[Path]:
    return sorted((root / "warcs").rglob("*.open"))


def warcio_check_all(root: Path) -> None:
    files = sorted((root / "warcs").rglob("*.warc.gz"))
    assert files
    for path in files:
        p = subprocess.run([WARCIO, "check", str(path)], capture_output=True, text=True)
        assert p.returncode == 0, f"{path.name}: {p.stdout}{p.stderr}"


def log_lines(log: Path) -> list[dict]:
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line is one JSON object


@pytest.fixture
def keep_logging():
    """`archive daemon` configures the root logger (it is an entry point): undo it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(logging.NOTSET)


# ---------------------------------------------------------------- in-process


@pytest.mark.timeout(60)
def test_once_captures_queued_and_runs_due_checks(tmp_path, web, keep_logging):
    cfg = new_archive(tmp_path, web)
    urls = [*delay_urls(50, range(3)), "https://cases.test/ok"]
    r = run(cfg, "add", "--queue", str(write_article(tmp_path / "in", "once", urls)))
    assert r.exit_code == 0, r.output

    r = run(cfg, "daemon", "--once", "--worker-id", "test-once")
    assert r.exit_code == 0, r.output
    assert states(cfg) == Counter(archived=4)
    assert_captured_once(cfg.parent, urls)
    assert not open_files(cfg.parent)

    # make every check due now: the next --once checks them (one live GET each)
    store = open_archive_store(cfg)
    with store.tx() as conn:
        conn.execute(update(t.target).values(next_check_at=store.clock()))
    web.hits.clear()
    r = run(cfg, "daemon", "--once", "--worker-id", "test-once")
    assert r.exit_code == 0, r.output
    with store.read() as conn:
        checked = conn.execute(select(func.count()).select_from(t.check)).scalar_one()
    beats = {b["job"]: b for b in store.heartbeats()}
    store.close()
    assert checked == 4
    assert all(web.hits.count("cases.test", u.split("cases.test")[1]) >= 1 for u in urls)
    assert set(beats) == {"recover", "capture", "check", "manifest"}
    for b in beats.values():
        assert b["worker"] == "test-once" and b["last_ok_at"] == b["last_run_at"], b
        assert b["last_error"] is None and b["summary"]

    r = run(cfg, "status")
    assert r.exit_code == 0 and "last run" in r.output and "manifest" in r.output
    r = run(cfg, "status", "--json")  # the public contract: article rows only
    assert set(json.loads(r.output)[0]) == {"id", "title", "source_url", "citations"}


@pytest.mark.timeout(60)
def test_a_failing_job_is_logged_and_the_others_run(tmp_path, web, monkeypatch, caplog):
    cfg = new_archive(tmp_path, web)
    run(cfg, "add", "--queue", str(write_article(tmp_path / "in", "f", delay_urls(10, [1]))))
    from archiver import config
    from archiver.app import App

    app = App(settings=config.load_settings(cfg))
    daemon = Daemon(app, worker="w")

    def broken() -> str:
        raise RuntimeError("check exploded")

    daemon.jobs["check"] = broken
    with caplog.at_level(logging.INFO, logger="archiver.daemon"):
        assert daemon.run(once=True) == 1  # --once reports the failure in its exit code
    beats = {b["job"]: b for b in app.store.heartbeats()}
    app.close()
    assert beats["check"]["last_error"] == "RuntimeError: check exploded"
    assert beats["check"]["last_ok_at"] is None
    assert beats["manifest"]["last_error"] is None  # ran after the failure
    assert states(cfg) == Counter(archived=1)
    failed = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failed) == 1 and failed[0].job == "check"
    doc = json.loads(JsonFormatter().format(failed[0]))
    assert doc["level"] == "error" and doc["job"] == "check" and doc["time"].endswith("Z")


@pytest.mark.timeout(60)
def test_without_chromium_the_screenshots_job_is_one_line_at_start(tmp_path, web, caplog):
    cfg = new_archive(tmp_path, web)
    from archiver import config
    from archiver.app import App

    app = App(settings=config.load_settings(cfg))
    with caplog.at_level(logging.INFO, logger="archiver.daemon"):
        assert Daemon(app, worker="w").run(once=True) == 0
    beats = {b["job"] for b in app.store.heartbeats()}
    app.close()
    said = [r.getMessage() for r in caplog.records if "creenshots" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("Screenshots skipped:"), said
    assert "screenshots" not in beats


@pytest.mark.timeout(90)
def test_once_takes_the_missing_screenshots(tmp_path, web):
    from archiver.runs.screenshots import unavailable

    cfg = new_archive(tmp_path, web, screenshots={"width": 320, "height": 240})
    from archiver import config
    from archiver.app import App

    app = App(settings=config.load_settings(cfg))
    try:
        if unavailable(app):
            pytest.skip(unavailable(app))
        # queued: the daemon's own capture job takes it, and the screenshots job after it
        # in the same run finds it in a closed WARC file
        article = write_article(tmp_path / "in", "s", ["https://cases.test/ok"])
        run(cfg, "add", "--queue", str(article))
        assert Daemon(app, worker="w").run(once=True) == 0
        beats = {b["job"]: b for b in app.store.heartbeats()}
        assert beats["capture"]["summary"].startswith("Captured 1 targets: 1 archived")
        assert beats["screenshots"]["summary"] == "Took 1 screenshot."
        with app.store.read() as conn:
            assert conn.execute(select(func.count()).select_from(t.screenshot)).scalar_one() == 1
    finally:
        app.close()


@pytest.mark.timeout(60)
def test_once_names_the_failed_jobs_in_one_error_line(tmp_path, web, monkeypatch):
    cfg = new_archive(tmp_path, web)
    import archiver.runs.check

    def broken(*args, **kwargs):
        raise RuntimeError("check exploded")

    monkeypatch.setattr(archiver.runs.check, "check_due", broken)
    p = run(cfg, "daemon", "--once")
    assert p.exit_code == 1
    errors = [line for line in p.stderr.splitlines() if line.startswith("Error:")]
    assert errors == ["Error: daemon --once: check failed (the log lines above say why)"]


def test_a_worker_is_dead_only_when_its_lock_file_is_unheld(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path), "w1"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert not is_dead(tmp_path, "w1")  # alive
        assert not is_dead(tmp_path, "never-ran-here")  # no lock file: the lease decides
        with pytest.raises(UsageError, match="another daemon is running as worker 'w1'"):
            WorkerLock(tmp_path, "w1").acquire(patience=0.2)
    finally:
        holder.kill()
        holder.wait()
    assert is_dead(tmp_path, "w1")  # killed: the kernel dropped its flock
    assert not is_dead(tmp_path, "w1")  # reaped once
    lock = WorkerLock(tmp_path, "w1")
    lock.acquire()  # the name is free again
    lock.release()
    assert not list((tmp_path / ".workers").iterdir())


HOLD_LOCK = """
import pathlib, sys, time
from archiver.workers import WorkerLock
WorkerLock(pathlib.Path(sys.argv[1]), sys.argv[2]).acquire()
print("locked", flush=True)
time.sleep(60)
"""


@pytest.mark.timeout(30)
def test_a_second_daemon_under_the_same_worker_id_is_refused(tmp_path, web, keep_logging):
    cfg = new_archive(tmp_path, web)
    twin = WorkerLock(cfg.parent, "desk-1")
    twin.acquire()
    try:
        r = run(cfg, "daemon", "--once", "--worker-id", "desk-1")
    finally:
        twin.release()
    assert r.exit_code == 2
    assert "another daemon is running as worker 'desk-1'" in r.output


# ---------------------------------------------------------------- the real script


@pytest.mark.timeout(90)
def test_parallel_adds_while_the_daemon_runs(tmp_path, web):
    cfg = new_archive(tmp_path, web)
    log = tmp_path / "daemon.log"
    proc = start_daemon(web, cfg, log)
    try:
        articles = []
        urls: list[str] = []
        for i in range(10):
            mine = delay_urls(200, [f"{i}-{j}" for j in range(3)])
            urls += mine
            articles.append(write_article(tmp_path / "in", f"story-{i}", mine))
        adds = [
            subprocess.Popen(
                [SCRIPT, "add", "--queue", str(a)],
                env=env_for(web, cfg),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for a in articles
        ]
        for p in adds:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
            assert "locked" not in err
        wait_for(lambda: states(cfg) == Counter(archived=30), 45, "30 archived", proc)
        code, _ = stop_daemon(proc, timeout=25)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, log.read_text()
    assert not open_files(cfg.parent)
    assert_captured_once(cfg.parent, urls)
    for u in urls:
        assert web.hits.count("cases.test", u.split("cases.test")[1]) == 1, u
    warcio_check_all(cfg.parent)
    lines = log_lines(log)
    runs = [d for d in lines if d.get("job") == "capture" and d.get("ok")]
    assert runs and all({"time", "level", "logger", "message", "duration"} <= set(d) for d in runs)
    assert not [d for d in lines if d["level"] == "error"], lines


@pytest.mark.timeout(60)
def test_sigterm_finishes_in_flight_work_and_exits_0(tmp_path, web):
    cfg = new_archive(tmp_path, web, workers=2, shutdown_grace="20s")
    urls = delay_urls(1500, range(6))
    run(cfg, "add", "--queue", str(write_article(tmp_path / "in", "slow", urls)))
    log = tmp_path / "daemon.log"
    proc = start_daemon(web, cfg, log)
    try:
        wait_for(lambda: web.hits.count("cases.test") >= 2, 20, "fetches in flight", proc)
        code, took = stop_daemon(proc, timeout=20 + 5)
    finally:
        if proc.poll() is None:
            proc.kill()
    print(f"SIGTERM → exit in {took:.2f}s")
    assert code == 0, log.read_text()
    assert took < 20 + 3
    assert not open_files(cfg.parent)
    # the two in-flight pages were finished and committed; nothing new was started
    assert states(cfg) == Counter(archived=2, pending=4)
    warcio_check_all(cfg.parent)
    assert any("SIGTERM" in d["message"] for d in log_lines(log))


@pytest.mark.timeout(60)
def test_sigterm_past_the_grace_abandons_fetches_and_exits_0(tmp_path, web):
    cfg = new_archive(tmp_path, web, workers=2, shutdown_grace="1s")
    urls = delay_urls(150, ["quick"]) + delay_urls(8000, ["stuck-1", "stuck-2"])
    run(cfg, "add", "--queue", str(write_article(tmp_path / "in", "stuck", urls)))
    log = tmp_path / "daemon.log"
    proc = start_daemon(web, cfg, log)
    try:
        wait_for(lambda: web.hits.count("cases.test") >= 3, 20, "slow fetches in flight", proc)
        code, took = stop_daemon(proc, timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    print(f"SIGTERM past grace → exit in {took:.2f}s")
    assert code == 0, log.read_text()
    assert took < 1 + 3
    assert not open_files(cfg.parent)
    assert any("abandoned" in d["message"] for d in log_lines(log))
    # the abandoned targets were released, not left claimed until the lease ends
    store = open_archive_store(cfg)
    with store.read() as conn:
        claimed = conn.execute(
            select(t.target.c.claimed_by).where(t.target.c.claimed_by.is_not(None))
        )
        assert not claimed.all()
    store.close()
    warcio_check_all(cfg.parent)


@pytest.mark.timeout(90)
def test_kill_9_mid_capture_then_the_next_start_recovers(tmp_path, web):
    cfg = new_archive(tmp_path, web, workers=2)
    urls = delay_urls(1500, range(8))
    run(cfg, "add", "--queue", str(write_article(tmp_path / "in", "killed", urls)))
    log = tmp_path / "daemon.log"
    proc = start_daemon(web, cfg, log)
    try:
        wait_for(lambda: snapshot_count(cfg) >= 1, 30, "a first snapshot", proc)
        assert snapshot_count(cfg) < len(urls)
        proc.kill()  # SIGKILL: no cleanup at all
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert open_files(cfg.parent), "the killed daemon's WARC should still be .open"

    again = subprocess.run(
        [SCRIPT, "daemon", "--once"], env=env_for(web, cfg), capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    assert not open_files(cfg.parent)
    assert states(cfg) == Counter(archived=len(urls))
    warcio_check_all(cfg.parent)
    found = records_by_url(cfg.parent)
    assert all(found.get(u, Counter())["response"] >= 1 for u in urls)


@pytest.mark.timeout(90)
def test_two_daemons_never_capture_a_target_twice(tmp_path, web):
    cfg = new_archive(tmp_path, web, workers=3)
    urls = delay_urls(300, range(18))
    for k in range(3):
        run(cfg, "add", "--queue", str(write_article(tmp_path / "in", f"two-{k}", urls[k::3])))
    logs = [tmp_path / "d1.log", tmp_path / "d2.log"]
    procs = [start_daemon(web, cfg, log) for log in logs]
    try:
        wait_for(lambda: states(cfg) == Counter(archived=len(urls)), 45, "all archived")
        results = [stop_daemon(p, timeout=25) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [code for code, _ in results] == [0, 0], [log.read_text() for log in logs]
    archived = [
        sum(
            int(d["summary"].split(": ")[1].split()[0])
            for d in log_lines(log)
            if d.get("job") == "capture" and d.get("ok") and d["summary"].startswith("Captured")
        )
        for log in logs
    ]
    print(f"two daemons archived {archived} targets")
    assert sum(archived) == len(urls)  # by their own count, too: nothing captured twice
    assert not open_files(cfg.parent)
    assert_captured_once(cfg.parent, urls)
    for u in urls:
        assert web.hits.count("cases.test", u.split("cases.test")[1]) == 1, u
    warcio_check_all(cfg.parent)


def test_intake_runs_as_often_as_the_shortest_of_its_two_settings(tmp_path):
    from archiver.app import App
    from archiver.config import load_settings
    from archiver.daemon import Daemon

    from .conftest import make_archive

    app = make_archive(
        tmp_path / "a",
        daemon={"intake_every": "5m"},
        intake={"feed_every": "2m", "feeds": ["https://news.example.test/rss"]},
    )
    assert Daemon(app, worker="w")._interval("intake") == 120
    app2 = App(settings=load_settings(app.root / "config.toml"))
    assert Daemon(app2, worker="w")._interval("capture") == 60


def test_default_worker_id_fits_the_store(monkeypatch):
    monkeypatch.setattr("socket.gethostname", lambda: "h" * 300)
    wid = worker_id()
    assert len(wid) == 128 and wid.endswith(f":{os.getpid()}")
