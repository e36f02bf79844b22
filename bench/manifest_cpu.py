"""CPU time of rewriting every manifest, in-process (issue 9, benchmark 4's manifest step).

    .venv/bin/python -m bench.manifest_cpu --citations 10000 [--profile] [--copy DIR]

Builds (once, kept under bench/out/manifest-<N>/) an archive filled like `bench.store`
does, then times `archiver.manifest.refresh` over every article — what `archive manifest`
runs — on the process CPU clock (all threads and the process's own children are not
counted: use the wall figure for a process pool). The clock is pinned, so two runs write
byte-identical trees; ``--copy DIR`` keeps the manifests/ folder for comparing.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import OUT, init_archive

PINNED = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)


def archive(citations: int) -> Path:
    from archiver import config
    from archiver.store import open_store
    from bench.store import fill

    root = OUT / f"manifest-{citations}"
    cfg = root / config.CONFIG_NAME
    if not (root / ".filled").exists():
        shutil.rmtree(root, ignore_errors=True)
        cfg = init_archive(root, None)
        store = open_store(config.load_settings(cfg).database_url)
        fill(store, citations)
        store.close()
        (root / ".filled").touch()
    return cfg


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.manifest_cpu", description=__doc__)
    p.add_argument("--citations", type=int, default=10_000)
    p.add_argument("--profile", action="store_true", help="cProfile (inflates the times)")
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--copy", type=Path, help="copy the written manifests/ here")
    p.add_argument("--serial", action="store_true", help="no process pool: one core's CPU")
    args = p.parse_args(argv)

    from archiver import config
    from archiver.app import App
    from archiver.manifest import refresh

    if args.serial:
        import archiver.manifest

        archiver.manifest.PARALLEL_FROM = 10**9
    cfg = archive(args.citations)
    app = App(config.load_settings(cfg), clock=lambda: PINNED)
    shutil.rmtree(app.settings.manifests_path, ignore_errors=True)
    app.settings.manifests_path.mkdir()
    ids = app.store.article_ids()
    # the process CPU clock: waits (fsync, a busy machine) do not count
    prof = cProfile.Profile(time.process_time) if args.profile else None
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    me0 = resource.getrusage(resource.RUSAGE_SELF)
    w0, c0 = time.perf_counter(), time.process_time()
    if prof:
        prof.enable()
    paths = refresh(app, ids)
    if prof:
        prof.disable()
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    me1 = resource.getrusage(resource.RUSAGE_SELF)
    user, system = me1.ru_utime - me0.ru_utime, me1.ru_stime - me0.ru_stime
    kids = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    print(
        f"{len(ids)} articles, {len(paths)} files: process CPU {cpu:.2f} s (user {user:.2f} "
        f"+ sys {system:.2f}; + children {kids:.2f} s), wall {wall:.2f} s, "
        f"{1000 * cpu / max(1, len(ids)):.2f} ms CPU an article"
    )
    if args.copy:
        shutil.rmtree(args.copy, ignore_errors=True)
        shutil.copytree(app.settings.manifests_path, args.copy)
    if prof:
        stats = pstats.Stats(prof)
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
