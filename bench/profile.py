"""Where the archiver spends CPU: the capture benchmarks, in-process, profiled.

    .venv/bin/python -m bench.profile capture [--pages 40 --hosts 10] [--top 40]
    .venv/bin/python -m bench.profile cdn [--pages 200 --hosts 20]   # bench.cdn's pages, defaults
    .venv/bin/python -m bench.profile bigbody [--size-mib 256] [--random]
    .venv/bin/python -m bench.profile capture --spy     # sampling, low overhead
    .venv/bin/python -m bench.profile capture --buckets # CPU time of the main steps

cProfile (default): every capture thread gets its own profiler on the thread's CPU
clock (`time.thread_time`), so time spent sleeping in the per-host gate or waiting on
the network does not count; the profiles of all threads and the main thread are merged
and printed by own time and by cumulative time. A ``.pstats`` file is kept in
bench/out/. cProfile inflates code that makes many small Python calls (bs4) several
times over; ``--spy`` samples every thread with py-spy instead (``pip install py-spy``)
and prints, per function, the share of GIL-holding samples it was running (self) or on the
stack (total).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from bench.capture import page_urls
from bench.cdn import page_urls as cdn_page_urls
from bench.common import BIN, OUT, REPO, FixtureWeb, workdir, write_config


def _profiled_threads(profiles: list[cProfile.Profile]) -> None:
    """Wrap each capture (and check) of a target — it runs in a pool thread — in its own
    profiler."""
    from archiver.runs import capture as capture_run
    from archiver.runs import check as check_run

    _profile_method(check_run._Checker, profiles)
    _profile_method(check_run._Checker, profiles, "record")  # the check recorder thread
    _profile_method(capture_run._Capturer, profiles)
    _profile_method(capture_run._Capturer, profiles, "record")  # the capture recorder thread


def _profile_method(cls, profiles: list[cProfile.Profile], name: str = "one") -> None:
    original = getattr(cls, name)
    lock = threading.Lock()

    def one(self, *args, **kw):
        prof = cProfile.Profile(time.thread_time)
        prof.enable()
        try:
            return original(self, *args, **kw)
        finally:
            prof.disable()
            with lock:
                profiles.append(prof)

    setattr(cls, name, one)


def profile_add(
    root: Path,
    web: FixtureWeb,
    urls: list[str],
    capture: dict,
    profile: bool = True,
    buckets: bool = False,
) -> pstats.Stats | None:
    from archiver import config
    from archiver.app import App, init_archive
    from archiver.runs.add import add_sources

    cfg = write_config(root, web, capture=capture)
    init_archive(root)
    app = App(settings=config.load_settings(cfg))
    article = root / "list.txt"
    article.write_text("Profile reading list\n\n" + "\n".join(urls) + "\n", encoding="utf-8")
    profiles: list[cProfile.Profile] = []
    main = cProfile.Profile(time.thread_time)
    totals: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    if buckets:
        _bucketed(totals, calls)
    if profile:
        _profiled_threads(profiles)
        main.enable()
    started, cpu0 = time.perf_counter(), time.process_time()
    try:
        report = add_sources(app, [str(article)], capture=True)
    finally:
        main.disable()
        app.close()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu0
    print(f"{report.capture.line()}  wall {wall:.2f} s, process CPU {cpu:.2f} s")
    for spec in BUCKETS if buckets else ():
        print(f"{totals[spec]:8.3f} s CPU {calls[spec]:6d} calls  {spec}")
    if not profile:
        return None
    stats = pstats.Stats(main)
    for prof in profiles:
        stats.add(prof)
    return stats


# Functions whose CPU time (thread clock, inclusive) --buckets adds up; nested ones are
# counted in their callers too, so the column does not sum to the total.
BUCKETS = (
    "archiver.capture.target:capture_target",
    "archiver.net.fetch:Client._send",
    "archiver.net.fetch:Client._read_body",
    "archiver.capture.engine:CaptureJob.write_hop",
    "archiver.capture.engine:CaptureJob._response",
    "archiver.store.work:WorkMixin.find_resource",
    "archiver.warcfiles.records:http_record",
    "archiver.warcfiles.writer:WarcSink.write",
    "archiver.warcfiles.writer:WarcSink.append",
    "archiver.warcfiles.members:compress_record",
    "archiver.capture.requisites:html_requisites",
    "archiver.capture.requisites:outlinks",
    "archiver.capture.requisites:css_urls",
    "archiver.pages:analyse",
    "archiver.pages:main_text",
    "archiver.pages:decode_html",
    "archiver.store.captures:CapturesMixin.record_captures",
    "archiver.store.work:WorkMixin.claim_captures",
    "archiver.store.work:WorkMixin.citing_articles",
    "archiver.runs.capture:_Capturer.record",
    "archiver.runs.capture:index_new_warcs",
    "archiver.manifest:refresh",
    "archiver.runs.add:add_one",
)


CHECK_BUCKETS = (
    "archiver.runs.check:_Checker.one",
    "archiver.check.engine:CheckEngine.inspect",
    "archiver.check.engine:CheckEngine.fetch",
    "archiver.net.fetch:Client._send",
    "archiver.net.fetch:Client._read_body",
    "archiver.pages:analyse",
    "archiver.pages:main_text",
    "archiver.check.classify:classify",
    "archiver.store.checks:ChecksMixin.latest_good_snapshots",
    "archiver.store.checks:ChecksMixin.record_checks",
    "archiver.store.checks:ChecksMixin.citing_articles_of",
    "archiver.store.checks:ChecksMixin.claim_run_checks",
    "archiver.runs.check:_Checker.record",
    "archiver.runs.check:_Checker._ledger",
    "archiver.manifest:refresh",
)


def _bucketed(totals: Counter[str], calls: Counter[str], specs=BUCKETS) -> None:
    """Wrap each function of ``specs`` to add its thread CPU time to ``totals``."""
    import functools
    import importlib

    lock = threading.Lock()
    for spec in specs:
        module_name, _, qual = spec.partition(":")
        module = importlib.import_module(module_name)
        owner, name = (module, qual)
        if "." in qual:
            cls, name = qual.split(".")
            owner = getattr(module, cls)
        fn = getattr(owner, name)

        def wrapper(*a, __fn=fn, __spec=spec, **kw):
            t0 = time.thread_time()
            try:
                return __fn(*a, **kw)
            finally:
                spent = time.thread_time() - t0
                with lock:
                    totals[__spec] += spent
                    calls[__spec] += 1

        wrapped = functools.wraps(fn)(wrapper)
        setattr(owner, name, wrapped)
        users = (
            "archiver.capture.engine",
            "archiver.capture.target",
            "archiver.check.engine",
            "archiver.runs.capture",
            "archiver.runs.check",
        )
        for user in users:  # `from x import f` copies
            mod = importlib.import_module(user)
            if getattr(mod, name, None) is fn:
                setattr(mod, name, wrapped)


def spy(argv: list[str], top: int) -> int:
    """Run this module again under py-spy (all threads, GIL-holding samples only); summarise."""
    OUT.mkdir(parents=True, exist_ok=True)
    raw = OUT / "profile-spy.txt"
    inner = [a for a in argv if a != "--spy"] + ["--no-cprofile"]
    # --gil: only samples holding the GIL, i.e. Python running (not sleeping in the host
    # gate, not blocked on a socket; zlib/hashlib on big buffers release it too)
    cmd = [str(BIN / "py-spy"), "record", "--gil", "-r", "250", "-f", "raw", "-o", str(raw)]
    cmd += ["--"]
    cmd += [sys.executable, "-m", "bench.profile", *inner]
    subprocess.run(cmd, check=True, cwd=REPO)
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = [f.split(" (")[0] + " (" + f.split(" (")[-1] for f in stack.split(";")]
        samples += n
        own[frames[-1]] += n
        for f in set(frames):
            total[f] += n
    for title, table in (("self", own), ("total", total)):
        print(f"\n{title}: share of {samples} GIL-holding samples")
        for frame, n in table.most_common(top):
            print(f"{100 * n / samples:6.1f}%  {frame}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    p.add_argument("what", choices=["capture", "cdn", "bigbody", "check"])
    p.add_argument("--links", type=int, default=1000, help="check: links to check")
    p.add_argument("--pages", type=int, default=40)
    p.add_argument("--hosts", type=int, default=10)
    p.add_argument("--workers", type=int, default=64, help="capture: capture.workers")
    p.add_argument("--size-mib", type=int, default=256)
    p.add_argument("--random", action="store_true", help="bigbody: incompressible bytes")
    p.add_argument("--top", type=int, default=35)
    p.add_argument("--spy", action="store_true", help="sample with py-spy instead of cProfile")
    p.add_argument(
        "--buckets", action="store_true", help="no profiler: CPU time of the main functions"
    )
    p.add_argument("--no-cprofile", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.spy:
        return spy(argv, args.top)
    with workdir("profile") as tmp, FixtureWeb(tmp) as web:
        if args.what == "check":
            profile = not (args.no_cprofile or args.buckets)
            stats = profile_check(tmp, web, args.links, profile, args.buckets)
            return _show(stats, args)
        if args.what == "capture":
            urls = page_urls(args.pages, args.hosts)
            capture = {"workers": args.workers}
        elif args.what == "cdn":  # the settings' defaults, as bench.cdn runs them
            urls = cdn_page_urls(args.pages, args.hosts)
            capture = {}
        else:
            size = args.size_mib * 2**20
            path = "bench00.test/random" if args.random else "cases.test/big"
            urls = [f"https://{path}?size={size}"]
            capture = {"max_bytes": 2 * size + 2**20}
        stats = profile_add(
            tmp / "archive",
            web,
            urls,
            capture,
            profile=not (args.no_cprofile or args.buckets),
            buckets=args.buckets,
        )
    return _show(stats, args)


def _show(stats: pstats.Stats | None, args: argparse.Namespace) -> int:
    if stats is None:
        return 0
    out = OUT / f"profile-{args.what}.pstats"
    stats.dump_stats(out)
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)
    print(f"profile kept in {out}")
    return 0


def profile_check(
    tmp: Path, web: FixtureWeb, links: int, profile: bool, buckets: bool
) -> pstats.Stats | None:
    """`archive check --all` in-process over ``links`` links captured beforehand."""
    from archiver import config
    from archiver.app import App
    from archiver.runs.check import check_due
    from bench.linkcheck import link_urls, prepare, set_state

    root = prepare(web, tmp / "setup", link_urls(links))
    set_state(web, "later")
    app = App(settings=config.load_settings(root / "config.toml"))
    profiles: list[cProfile.Profile] = []
    main = cProfile.Profile(time.thread_time)
    totals: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    if buckets:
        _bucketed(totals, calls, CHECK_BUCKETS)
    if profile:
        _profiled_threads(profiles)
        main.enable()
    started, cpu0 = time.perf_counter(), time.process_time()
    try:
        summary = check_due(app, all_targets=True)
    finally:
        main.disable()
        app.close()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu0
    print(f"{summary.line()}  wall {wall:.2f} s, process CPU {cpu:.2f} s")
    for spec in CHECK_BUCKETS if buckets else ():
        print(f"{totals[spec]:8.3f} s CPU {calls[spec]:6d} calls  {spec}")
    if not profile:
        return None
    stats = pstats.Stats(main)
    for prof in profiles:
        stats.add(prof)
    return stats


if __name__ == "__main__":
    raise SystemExit(main())
