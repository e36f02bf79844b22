"""PostgreSQL as the store of many workers: schema, claims, politeness, crashes, migrate.

Every test here gets databases of its own (`tests/pg.py`: ``archiver_test_<random>``,
dropped at the end) on the server CI starts; without one they skip, saying why. The
worker tests run the real `archive daemon` script, several at once, against the fixture
web (fleet*.test, `tests/web/sites/fleet.py`, which also counts requests in flight per
host) and count the WARC records of every URL over every file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, inspect, select, update
from warcio.archiveiterator import ArchiveIterator

from archiver.cli import cli
from archiver.extract import extract_text
from archiver.manifest.articles import article_doc
from archiver.runs.add import add_sources
from archiver.runs.gate import SharedHostGate
from archiver.store import open_store
from archiver.store import schema as t
from archiver.store.core import make_engine
from archiver.store.work import CheckOutcome
from tests import pg
from tests.web.sites.fleet import HOSTS, IN_FLIGHT

from .conftest import make_archive, write_config

pytestmark = pytest.mark.postgres

SCRIPT = str(Path(sys.executable).parent / "archive")


@pytest.fixture
def dbs():
    """Fresh PostgreSQL databases for this test: ``dbs.new()`` → URL; all dropped after."""
    databases = pg.Databases()
    yield databases
    databases.drop_all()


@pytest.fixture
def pg_url(dbs) -> str:
    return dbs.new()


def pg_archive(root: Path, web, url: str, **sections):
    """An archive at ``root`` whose store is the PostgreSQL database ``url``; its daemons
    leave the screenshots job out (thousands of fleet pages are not to be rendered)."""
    sections.setdefault("screenshots", {"chromium": "no-chromium-for-this-test"})
    root.mkdir(parents=True, exist_ok=True)
    write_config(root, top={"database": url})  # so `init` makes the schema there
    return make_archive(root, web, top={"database": url}, **sections)


def fleet_urls(n: int, ms: int, start: int = 0) -> list[str]:
    return [f"http://{HOSTS[i % len(HOSTS)]}/page/{i}?ms={ms}" for i in range(start, start + n)]


def queue_articles(app, folder: Path, urls: list[str], per_article: int = 100) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for k in range(0, len(urls), per_article):
        path = folder / f"story-{k // per_article}.txt"
        lines = "\n".join(
            f"Source {i}: {u} (court filing)." for i, u in enumerate(urls[k : k + per_article])
        )
        path.write_text(f"Story {k // per_article}\n\n{lines}\n", encoding="utf-8")
        files.append(str(path))
    report = add_sources(app, files, capture=False)
    assert not report.errors, report.errors


def env_for(web, cfg: Path) -> dict[str, str]:
    return {**os.environ, **web.env(), "ARCHIVER_CONFIG": str(cfg)}


def start_daemon(web, cfg: Path, log: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [SCRIPT, "daemon", "--log-format", "json", *args],
        env=env_for(web, cfg),
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )


def records_by_url(*roots: Path) -> dict[str, Counter]:
    """URL → Counter of response/revisit records, over every WARC file (open ones too)."""
    found: dict[str, Counter] = {}
    for root in roots:
        for path in sorted((root / "warcs").rglob("*.warc.gz*")):
            with path.open("rb") as f:
                for record in ArchiveIterator(f):
                    uri = record.rec_headers.get_header("WARC-Target-URI")
                    if uri and record.rec_type in ("response", "revisit"):
                        found.setdefault(uri, Counter())[record.rec_type] += 1
    return found


def capture_states(store) -> Counter:
    with store.read() as conn:
        q = select(t.target.c.capture_state, func.count()).group_by(t.target.c.capture_state)
        return Counter(dict(conn.execute(q).all()))


def snapshots_per_target(store) -> Counter:
    with store.read() as conn:
        q = select(t.snapshot.c.target_id, func.count()).group_by(t.snapshot.c.target_id)
        return Counter(dict(conn.execute(q).all()))


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def errors_in(log: Path) -> list[dict]:
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.strip().startswith("{")]
    return [d for d in lines if d["level"] == "error"]


# ---------------------------------------------------------------- schema


def test_archive_init_makes_the_schema_on_postgresql(tmp_path, dbs, monkeypatch):
    url = dbs.new()
    root = tmp_path / "a"
    root.mkdir()
    write_config(root, top={"database": url})
    r = CliRunner().invoke(cli, ["init", str(root)])
    assert r.exit_code == 0, r.output
    assert "store" in r.output
    store = open_store(url)
    try:
        assert store.schema_version() == t.SCHEMA_VERSION
        assert set(inspect(store.engine).get_table_names()) == set(t.metadata.tables)
        with store.read() as conn:  # "check" is a reserved word in PostgreSQL: quoted
            assert conn.execute(select(func.count()).select_from(t.check)).scalar_one() == 0
    finally:
        store.close()
    r = CliRunner().invoke(cli, ["init", str(root)])
    assert r.exit_code == 0 and "nothing changed" in r.output

    # $ARCHIVER_DATABASE beats the config file, for `init` too
    other = dbs.new()
    monkeypatch.setenv("ARCHIVER_DATABASE", other)
    r = CliRunner().invoke(cli, ["init", str(tmp_path / "b")])
    assert r.exit_code == 0 and "store" in r.output, r.output
    store = open_store(other)
    assert store.schema_version() == t.SCHEMA_VERSION
    store.close()


def test_workers_starting_together_migrate_an_old_store_once(pg_url):
    store = open_store(pg_url, create=True)
    with store.tx() as conn:  # back to schema 1: no host_gate table yet
        t.host_gate.drop(conn)
        conn.execute(update(t.meta).values(value="1"))
    store.close()
    opened, failed = [], []

    def worker() -> None:
        try:
            opened.append(open_store(pg_url))
        except Exception as exc:
            failed.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not failed, failed
    assert len(opened) == 6
    assert opened[0].schema_version() == t.SCHEMA_VERSION
    assert inspect(opened[0].engine).has_table("host_gate")
    for s in opened:
        s.close()


def test_status_counts_and_reserved_words_on_postgresql(pg_url):
    store = open_store(pg_url, create=True)
    try:
        article_id, _, _ = store.save_article(
            extract_text("Story https://a.test/1 and https://a.test/2"), "s.txt"
        )
        (row, _) = store.claim_captures(worker="w", lease=60, limit=2, max_attempts=3)
        store.record_capture(
            row, "w", _archived(), retry_backoff=60, retry_max=60, check_interval=60
        )
        store.record_check(
            row,
            "w",
            CheckOutcome(
                checked={
                    "checked_at": store.clock(),
                    "status": 404,
                    "final_url": row.url,
                    "redirects": [row.url],
                    "classification": "gone",
                },
                rot="gone",
                dead=True,
                consecutive_failures=3,
                first_failure_at=store.clock(),
                recapture=False,
                next_check_in=60,
            ),
        )
        (status,) = store.status_rows()
        assert status == {
            "id": article_id,
            "title": status["title"],
            "source_url": None,
            "citations": 2,
            "archived": 1,
            "failed": 0,
            "rotted": 1,
            "dead": 1,
        }
        doc = article_doc(store, article_id)
        assert doc["citations"][0]["checks"][0]["redirects"] == [row.url]  # JSON column
        assert doc["citations"][0]["snapshots"][0]["offset"] == 0  # "offset" is reserved too
    finally:
        store.close()


def _archived():
    from archiver.capture.outcome import CaptureOutcome, Snapshot

    return CaptureOutcome(
        state="archived",
        snapshots=[
            Snapshot(
                captured_at=_now(),
                warc="warcs/x.warc.gz",
                offset=0,
                length=10,
                record_id="<urn:uuid:1>",
                final_url="https://a.test/1",
                redirects=[],
                status=200,
                good=True,
            )
        ],
    )


def _now():
    from archiver.times import now

    return now()


# ---------------------------------------------------------------- claims


CLAIMER = """
import json, sys, threading
from archiver.store import open_store
store = open_store(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()  # "go": every process is connected, all start together
got = []
lock = threading.Lock()
def work(name):
    while True:
        rows = store.claim_captures(worker=name, lease=600, limit=3, max_attempts=5)
        if not rows:
            return
        with lock:
            got.extend(r.id for r in rows)
threads = [threading.Thread(target=work, args=(f"{sys.argv[2]}-{i}",)) for i in range(4)]
for th in threads: th.start()
for th in threads: th.join()
print(json.dumps(got))
"""


def test_claims_with_skip_locked_are_exclusive_across_processes(pg_url):
    store = open_store(pg_url, create=True)
    for k in range(4):
        urls = " ".join(f"https://a.test/{k}/{i}" for i in range(150))
        store.save_article(extract_text(f"Story {k} {urls}"), f"{k}.txt")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, pg_url, f"p{i}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    assert [p.stdout.readline().strip() for p in procs] == ["ready"] * 4
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0]
    claimed = [i for out in outs for i in json.loads(out)]
    per_process = [len(json.loads(out)) for out in outs]
    assert len(claimed) == 600 and len(set(claimed)) == 600, per_process
    assert all(n > 0 for n in per_process), per_process
    store.close()


# ---------------------------------------------------------------- politeness


def _hammer(gates, host: str, per_thread: int, seconds: float):
    """Threads on several gates (each its own engine: as separate processes) → (peak, starts)."""
    state = {"now": 0, "peak": 0, "starts": []}
    lock = threading.Lock()

    def work(gate):
        for _ in range(per_thread):
            with gate.slot(host):
                with lock:
                    state["now"] += 1
                    state["peak"] = max(state["peak"], state["now"])
                    state["starts"].append(time.monotonic())
                time.sleep(seconds)
                with lock:
                    state["now"] -= 1

    threads = [threading.Thread(target=work, args=(g,)) for g in gates for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return state["peak"], sorted(state["starts"])


def test_the_host_gate_holds_across_workers(pg_url):
    open_store(pg_url, create=True).close()
    engines = [make_engine(pg_url) for _ in range(4)]
    try:
        gates = [SharedHostGate(e, concurrency=2, delay=0) for e in engines]
        peak, starts = _hammer(gates, "a.test", per_thread=6, seconds=0.01)
        assert peak == 2 and len(starts) == 4 * 3 * 6

        # a delay spaces every start to the host, whichever worker makes it
        gates = [SharedHostGate(e, concurrency=2, delay=0.05) for e in engines[:3]]
        peak, starts = _hammer(gates, "b.test", per_thread=3, seconds=0.001)
        # (one start may be late by a busy machine's scheduling, so the span is checked)
        assert starts[-1] - starts[0] >= 0.05 * (len(starts) - 1) * 0.9, starts

        # Retry-After from one worker holds every worker back (with or without a delay)
        for gate in (gates[1], SharedHostGate(engines[3], concurrency=2, delay=0)):
            gates[0].defer("c.test", 0.4)
            began = time.monotonic()
            with gate.slot("c.test"):
                waited = time.monotonic() - began
            assert 0.3 < waited < 2, waited
    finally:
        for e in engines:
            e.dispose()


HOLDER = """
import sys, time
from archiver.store.core import make_engine
from archiver.runs.gate import SharedHostGate
gate = SharedHostGate(make_engine(sys.argv[1]), concurrency=1, delay=0)
with gate.slot("crash.test"):
    print("holding", flush=True)
    time.sleep(60)
"""


def test_a_crashed_worker_never_keeps_a_host_slot(pg_url):
    open_store(pg_url, create=True).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, pg_url], stdout=subprocess.PIPE, text=True
    )
    engine = make_engine(pg_url)
    try:
        assert holder.stdout.readline().strip() == "holding"
        gate = SharedHostGate(engine, concurrency=1, delay=0)
        got = threading.Event()

        def take():
            with gate.slot("crash.test"):
                got.set()

        th = threading.Thread(target=take, daemon=True)
        th.start()
        assert not got.wait(1.0)  # the live holder keeps it
        holder.send_signal(signal.SIGKILL)
        assert got.wait(5.0)  # its session ended, and the lock with it
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait()
        engine.dispose()


# ---------------------------------------------------------------- many workers


@pytest.mark.timeout(240)
def test_four_workers_capture_2000_targets_exactly_once(tmp_path, web, pg_url):
    app = pg_archive(
        tmp_path / "a",
        web,
        pg_url,
        capture={"workers": 4, "per_host_concurrency": 2, "requisites": False},
        daemon={"lease": "2m"},
    )
    urls = fleet_urls(2000, ms=20)
    queue_articles(app, tmp_path / "in", urls)
    cfg = app.settings.root / "config.toml"
    IN_FLIGHT.reset()
    web.hits.clear()
    started = time.monotonic()
    logs = [tmp_path / f"w{i}.log" for i in range(1, 5)]
    procs = [
        start_daemon(web, cfg, log, "--once", "--worker-id", f"w{i}")
        for i, log in enumerate(logs, 1)
    ]
    try:
        codes = [p.wait(timeout=200) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    took = time.monotonic() - started
    print(f"4 workers captured 2000 targets in {took:.1f}s ({2000 / took:.0f}/s)")
    for code, log in zip(codes, logs, strict=True):
        assert code == 0, log.read_text()[-2000:]
        assert not errors_in(log), errors_in(log)

    assert capture_states(app.store) == Counter(archived=2000)
    per_target = snapshots_per_target(app.store)
    assert len(per_target) == 2000 and set(per_target.values()) == {1}
    found = records_by_url(app.root)
    twice = {u: dict(found.get(u, {})) for u in urls if found.get(u) != Counter(response=1)}
    assert not twice, f"not exactly one response record: {list(twice.items())[:5]}"
    assert sum(1 for h in web.hits if h.host in HOSTS) == 2000  # one request each

    # each worker wrote its own files, named after it; all four did some of the work
    files = sorted(p.name for p in (app.root / "warcs").rglob("*.warc.gz"))
    assert not list((app.root / "warcs").rglob("*.open"))
    writers = {w for w in ("w1", "w2", "w3", "w4") if any(f"-{w}-" in f for f in files)}
    assert writers == {"w1", "w2", "w3", "w4"}, files
    with app.store.read() as conn:
        by_writer = dict(
            conn.execute(
                select(t.warc_file.c.writer, func.count()).group_by(t.warc_file.c.writer)
            ).all()
        )
    assert set(by_writer) == {"w1", "w2", "w3", "w4"}

    # politeness held across all four processes: never more than 2 in flight per host,
    # and the limit is reached: the workers' fetches overlap on a host. (Issue 18: with
    # a ledger hold per capture the workers' recording was serialized and the peak was
    # mostly 1; the recorder's group commit lets the fetches go on while it stores.)
    peaks = {h: IN_FLIGHT.peak(h) for h in HOSTS}
    print(f"per-host peaks: {peaks}")
    assert max(peaks.values()) == 2, peaks
    app.close()


@pytest.mark.timeout(150)
def test_a_killed_worker_s_targets_are_reclaimed_after_the_lease(tmp_path, web, pg_url):
    lease = 4.0
    sections = dict(
        capture={"workers": 2, "per_host_concurrency": 2, "requisites": False},
        daemon={
            "lease": f"{lease:g}s",
            "capture_every": "1s",
            "check_every": "1h",
            "shutdown_grace": "10s",
        },
    )
    app = pg_archive(tmp_path / "a", web, pg_url, **sections)
    # the victim runs from another folder, as on another machine: the others cannot see
    # its lock file, so only the lease tells them its claims are free
    elsewhere = pg_archive(tmp_path / "b", web, pg_url, **sections)
    elsewhere.close()
    urls = fleet_urls(48, ms=1200)
    queue_articles(app, tmp_path / "in", urls, per_article=12)
    cfg, victim_cfg = (a.settings.root / "config.toml" for a in (app, elsewhere))

    logs = [tmp_path / f"w{i}.log" for i in range(1, 4)]
    victim = start_daemon(web, victim_cfg, tmp_path / "victim.log", "--worker-id", "victim")
    procs = [start_daemon(web, cfg, log, "--worker-id", f"w{i}") for i, log in enumerate(logs, 1)]
    try:

        def victim_claims():
            with app.store.read() as conn:
                return conn.execute(
                    select(t.target.c.id, t.target.c.claimed_until).where(
                        t.target.c.claimed_by == "victim"
                    )
                ).all()

        wait_for(lambda: len(victim_claims()) == 2, 30, "the victim to hold two claims")
        victim.send_signal(signal.SIGKILL)  # mid-fetch: no cleanup at all
        victim.wait(timeout=10)
        held = victim_claims()  # its claims, still in the store until the lease ends
        assert held
        wait_for(lambda: capture_states(app.store) == Counter(archived=48), 90, "all archived")
        codes = _stop_all(procs)
    finally:
        for p in [victim, *procs]:
            if p.poll() is None:
                p.kill()
    assert codes == [0, 0, 0], [log.read_text()[-2000:] for log in logs]
    for log in logs:
        assert not errors_in(log), errors_in(log)

    per_target = snapshots_per_target(app.store)
    assert len(per_target) == 48 and set(per_target.values()) == {1}  # none lost, none twice
    s = t.snapshot
    with app.store.read() as conn:
        for target_id, claimed_until in held:
            snap = conn.execute(
                select(s.c.captured_at, s.c.warc).where(s.c.target_id == target_id)
            ).one()
            # taken over only once the lease ran out, by a worker of the other folder
            assert snap.captured_at >= claimed_until - timedelta(seconds=0.5), (snap, claimed_until)
            assert "-w" in Path(snap.warc).name and "-victim-" not in snap.warc
    # over both folders' files (the victim may have finished some before it was killed),
    # one response per URL; a held one may also sit, uncommitted, in the victim's .open file
    found = records_by_url(app.root, elsewhere.root)
    in_flight = _victim_urls(app, held)
    twice = {
        u: found.get(u) for u in urls if u not in in_flight and found.get(u) != Counter(response=1)
    }
    assert not twice, twice
    assert all(found[u]["response"] in (1, 2) for u in in_flight)
    app.close()


def _victim_urls(app, held) -> set[str]:
    with app.store.read() as conn:
        ids = [i for i, _ in held]
        return set(conn.execute(select(t.target.c.url).where(t.target.c.id.in_(ids))).scalars())


def _stop_all(procs) -> list[int]:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    return [p.wait(timeout=30) for p in procs]


# ---------------------------------------------------------------- migrate


def test_migrate_sqlite_to_postgresql_is_verified_and_idempotent(tmp_path, web, dbs):
    root = tmp_path / "s"
    root.mkdir()
    write_config(root, top={"database": "sqlite:///archive.db"})
    app = make_archive(root, web)
    sample = Path(__file__).resolve().parent.parent / "samples" / "seed-article.txt"
    report = add_sources(app, [str(sample)], capture=True)
    assert report.capture.archived >= 1
    article_id = report.results[0].article_id
    app.store.set_review(article_id, 2, "flagged", "cookie wall", "editor")
    app.store.beat("capture", "w1", True, "Captured 8 targets.")
    sqlite_url = app.settings.database_url
    before = article_doc(app.store, article_id)
    signing = app.store.signing_fingerprint  # the App tells its store (evidence: signed)
    app.close()

    url = dbs.new()
    cfg = root / "config.toml"
    r = CliRunner().invoke(cli, ["--config", str(cfg), "migrate", "--to", url, "--batch", "7"])
    assert r.exit_code == 0, r.output
    assert "DIFFERS" not in r.output and " ok" in r.output
    assert "Copied 0 rows" not in r.output

    r = CliRunner().invoke(cli, ["migrate", "--from", sqlite_url, "--to", url])
    assert r.exit_code == 0, r.output
    assert "Copied 0 rows" in r.output  # idempotent: nothing new the second time

    dest = open_store(url)
    dest.signing_fingerprint = signing
    try:
        assert article_doc(dest, article_id) == before
        # sequences moved past the copied ids: new rows get new ids
        _, created, added = dest.save_article(
            extract_text("Later https://a.test/late https://a.test/later"), "late.txt"
        )
        assert created and added == 2
        with dest.tx() as conn:  # someone changes the copy: the next run must say so
            conn.execute(
                update(t.article).where(t.article.c.id == article_id).values(title="Tampered")
            )
    finally:
        dest.close()
    r = CliRunner().invoke(cli, ["migrate", "--from", sqlite_url, "--to", url])
    assert r.exit_code == 8, r.output
    assert "DIFFERS" in r.output

    # the archive itself now runs on PostgreSQL: point config.toml at the copy
    write_config(root, top={"database": url})
    r = CliRunner().invoke(cli, ["--config", str(cfg), "status", article_id, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["citations"] == before["citations"]

    # and back: a PostgreSQL store copied into a new SQLite file, e.g. as a backup
    backup = f"sqlite:///{tmp_path / 'backup.db'}"
    r = CliRunner().invoke(cli, ["--config", str(cfg), "migrate", "--to", backup])
    assert r.exit_code == 0, r.output
    assert "DIFFERS" not in r.output
    back = open_store(backup)
    back.signing_fingerprint = signing
    assert article_doc(back, article_id)["citations"] == before["citations"]
    back.close()
