"""Issue 10: claims/s and captures/s with 1, 2 and 4 worker processes on one PostgreSQL store.

    .venv/bin/python -m bench.workers [--quick] [--keep] [--workers 1,2,4]

- claims: N targets queued in a fresh database; K processes (one claiming thread each,
  as in `capture_pending`) claim one target at a time with SELECT … FOR UPDATE SKIP
  LOCKED until none is left. Then the same again, each claim followed by storing its
  result (claim + record: the store's whole share of one capture, without the fetch).
- captures: N small pages (fleet0–7.test/page/i of the fixture web, 20 ms think time,
  no requisites) queued in a fresh archive on a fresh database; K `archive daemon --once
  --worker-id bK` processes (capture.workers = 4 threads each, per_host_concurrency = 2
  across all workers, per_host_delay = 0) capture them through the fixture web's proxy.
  captures/s is N over the span from the first to the last snapshot (steady state);
  end to end (process start-up, the manifest pass) is N over the wall time.

Also reported: CPU seconds per capture of the workers (rusage), and how busy the whole
machine was (/proc/stat) — on a small machine the workers, the fixture web and
PostgreSQL share the same cores, and that is where the curve flattens. Needs the
PostgreSQL server of the tests ($ARCHIVER_TEST_PG, default the local one).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

from bench.common import (
    FixtureWeb,
    Result,
    Run,
    archive_cmd,
    clean_env,
    machine,
    run_timed,
    text_table,
    workdir,
    write_config,
)

FULL = {"claims": 3000, "captures": 1200}
QUICK = {"claims": 600, "captures": 200}
THREADS = 4  # capture.workers of each worker process
HOSTS = 8  # fleet0.test … fleet7.test

CLAIMER = """
import sys, time
from archiver.store import open_store
from archiver.capture.outcome import CaptureOutcome
url, name, go, record = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4] == "1"
store = open_store(url)
done = CaptureOutcome(state="archived")
time.sleep(max(0.0, go - time.time()))
began = time.time()
n = 0
while True:
    rows = store.claim_captures(worker=name, lease=3600, limit=1, max_attempts=8)
    if not rows:
        break
    if record:
        store.record_capture(rows[0], name, done, retry_backoff=300, retry_max=3600,
                             check_interval=86400)
    n += 1
print(n, began, time.time())
"""


# ------------------------------------------------------------------ measuring


def cpu_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine so far."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_share(before: tuple[float, float], after: tuple[float, float]) -> float:
    busy, total = after[0] - before[0], after[1] - before[1]
    return busy / total if total else 0.0


def run_all(cmds: list[list[str]], env: dict[str, str]) -> list[Run]:
    """Start every command at once; wait for all (each `Run` has its own rusage)."""
    runs: list[Run | None] = [None] * len(cmds)

    def one(i: int) -> None:
        runs[i] = run_timed(cmds[i], env=env, timeout=1800)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(cmds))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return [r for r in runs if r is not None]


# ------------------------------------------------------------------ the database


def new_database() -> str:
    from tests import pg

    reason = pg.unavailable()
    if reason:
        raise RuntimeError(reason)
    return pg.create_database()


def drop_database(url: str) -> None:
    from tests import pg

    pg.drop_database(url)


def queue(store, urls: list[str], per_article: int = 500) -> None:
    from archiver.extract import extract_text

    for k in range(0, len(urls), per_article):
        lines = "\n".join(
            f"Source {i}: {u} (filing)." for i, u in enumerate(urls[k : k + per_article])
        )
        store.save_article(extract_text(f"Story {k}\n\n{lines}\n"), f"story-{k}.txt")


# ------------------------------------------------------------------ the two measurements


def claims(k: int, n: int) -> dict[str, float]:
    from archiver.store import open_store
    from archiver.store import schema as t

    url = new_database()
    try:
        store = open_store(url, create=True)
        queue(store, [f"https://claims.test/{i}" for i in range(n)])
        figures = {}
        for record in (False, True):
            go = time.time() + 6.0  # every process started and connected: then all at once
            cmds = [[sys.executable, "-c", CLAIMER, url, f"c{i}", str(go), str(int(record))]
                    for i in range(k)]  # fmt: skip
            runs = run_all(cmds, env=clean_env())
            for r in runs:
                r.check("claimer")
            counts = [int(r.stdout.split()[0]) for r in runs]
            began = min(float(r.stdout.split()[1]) for r in runs)
            ended = max(float(r.stdout.split()[2]) for r in runs)
            assert sum(counts) == n, counts
            figures["claim+record/s" if record else "claims/s"] = n / (ended - began)
            with store.tx() as conn:  # free them all again for the second pass
                conn.execute(t.target.update().values(claimed_by=None, claimed_until=None))
        store.close()
        return figures
    finally:
        drop_database(url)


def captures(k: int, n: int, web: FixtureWeb, tmp: Path) -> dict[str, float]:
    from sqlalchemy import func, select

    from archiver.store import open_store
    from archiver.store import schema as t

    url = new_database()
    try:
        root = tmp / f"captures-{k}"
        cfg = write_config(
            root,
            web,
            top={"database": url},
            capture={
                "workers": THREADS,
                "per_host_concurrency": 2,
                "per_host_delay": "0s",
                "requisites": False,
            },
            daemon={"lease": "10m"},
        )
        run_timed(archive_cmd(cfg, "init", root)).check("archive init")
        store = open_store(url)
        queue(store, [f"http://fleet{i % HOSTS}.test/page/{i}?ms=20" for i in range(n)])
        cmds = [archive_cmd(cfg, "daemon", "--once", "--worker-id", f"b{i}") for i in range(k)]
        before, started = cpu_busy(), time.perf_counter()
        runs = run_all(cmds, env=clean_env())
        wall, after = time.perf_counter() - started, cpu_busy()
        for r in runs:
            r.check("archive daemon --once")
        s = t.snapshot
        with store.read() as conn:
            first, last, snaps, targets = conn.execute(
                select(
                    func.min(s.c.captured_at),
                    func.max(s.c.captured_at),
                    func.count(),
                    func.count(s.c.target_id.distinct()),
                )
            ).one()
        store.close()
        if snaps != n or targets != n:
            raise RuntimeError(f"{k} workers: {snaps} snapshots of {targets} targets, not {n}")
        span = (last - first).total_seconds()
        return {
            "captures/s": (n - 1) / span,
            "end to end/s": n / wall,
            "wall": wall,
            "cpu ms/capture": 1000 * sum(r.cpu for r in runs) / n,
            "machine busy": busy_share(before, after),
        }
    finally:
        drop_database(url)


# ------------------------------------------------------------------ the report


def run(args: argparse.Namespace) -> Result:
    size = QUICK if args.quick else FULL
    ks = [int(x) for x in getattr(args, "workers", "1,2,4").split(",")]
    result = Result(
        name="workers",
        title="Many workers on one PostgreSQL store: claims/s and captures/s",
        command="python -m bench.workers" + (" --quick" if args.quick else ""),
    )
    result.settings = [
        f"claims: {size['claims']} targets, one claiming thread per worker process",
        f"captures: {size['captures']} pages on {HOSTS} hosts (20 ms think time, no requisites),"
        f" capture.workers = {THREADS} per process, per_host_concurrency = 2 across all workers,"
        " per_host_delay = 0; `archive daemon --once` per worker",
        f"{os.cpu_count()} cores shared by the workers, the fixture web (one process) and"
        " PostgreSQL",
    ]
    table: dict[int, dict[str, float]] = {}
    with workdir("workers", keep=args.keep) as tmp, FixtureWeb(tmp) as web:
        for k in ks:
            print(f"  {k} worker(s): claims …", flush=True)
            table[k] = claims(k, size["claims"])
            print(f"  {k} worker(s): captures …", flush=True)
            table[k] |= captures(k, size["captures"], web, tmp)
            print("   ", ", ".join(f"{key} {v:.3g}" for key, v in table[k].items()), flush=True)
    base = table[ks[0]]
    for key in ("claims/s", "claim+record/s", "captures/s", "end to end/s"):
        for k in ks:
            value = table[k][key]
            result.add(f"{key}, {k} worker(s)", f"{value:.0f}", ratio=f"{value / base[key]:.2f}×")
    for k in ks:
        f = table[k]
        result.notes.append(
            f"{k} worker(s): wall {f['wall']:.1f} s, workers' CPU {f['cpu ms/capture']:.0f} ms"
            f" per capture, machine CPU busy {100 * f['machine busy']:.0f}%"
        )
    result.notes.append("ratio: against the first worker count")
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.workers", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--quick", action="store_true", help="smaller sizes")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder in bench/out/")
    p.add_argument("--workers", default="1,2,4", help="worker counts to try (default 1,2,4)")
    args = p.parse_args(argv)
    args.repeat = 1
    started = time.time()
    result = run(args)
    result.seconds = time.time() - started
    print()
    print(f"{result.title} ({machine()}; {result.seconds:.0f} s)")
    print(text_table([row.cells()[1:5] for row in result.rows], ["metric", "value", "", "ratio"]))
    for note in result.settings + result.notes:
        print(f"  - {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
