"""Run the benchmarks of issue 9, print one table, record it in bench/RESULTS.md.

    .venv/bin/python -m bench                      # all five, full size (make bench)
    .venv/bin/python -m bench --quick              # smaller sizes, one run each
    .venv/bin/python -m bench capture bigbody      # some of them
    .venv/bin/python -m bench.capture              # one, on its own

Full runs rewrite their own section of bench/RESULTS.md (machine, date, command, table,
settings, notes); quick runs only print, unless --write-results.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import re
import sys
import time
import traceback
from collections.abc import Sequence

from bench.common import HEADER, REPO, Result, machine, markdown_table, text_table, tool_version

BENCHES = {
    "capture": "bench.capture",
    "cdn": "bench.cdn",
    "bigbody": "bench.bigbody",
    "linkcheck": "bench.linkcheck",
    "store": "bench.store",
    "verify": "bench.verify",
}
RESULTS = REPO / "bench" / "RESULTS.md"


def parse_args(argv: Sequence[str] | None = None, only: str | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog=f"python -m bench{'.' + only if only else ''}",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if only is None:
        p.add_argument(
            "benches",
            nargs="*",
            metavar="BENCH",
            help=f"which to run (default: all): {', '.join(BENCHES)}",
        )
    p.add_argument("--quick", action="store_true", help="smaller sizes, one run each")
    p.add_argument("--repeat", type=int, default=0, help="runs of each tool (default 3; quick 1)")
    p.add_argument("--keep", action="store_true", help="keep the scratch folders in bench/out/")
    p.add_argument(
        "--write-results",
        dest="write",
        action="store_true",
        default=None,
        help="record in bench/RESULTS.md (the default for full runs)",
    )
    p.add_argument("--no-write-results", dest="write", action="store_false")
    args = p.parse_args(argv)
    if only is not None:
        args.benches = [only]
    unknown = [b for b in args.benches if b not in BENCHES]
    if unknown:
        p.error(f"unknown benchmark(s): {', '.join(unknown)}; pick from {', '.join(BENCHES)}")
    if args.write is None:
        args.write = not args.quick
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    from archiver import __version__

    parts = [f"archiver {__version__}", tool_version(["wget", "--version"]).split(" built")[0]]
    for dist in ("warcio", "linkchecker"):
        try:
            parts.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist} not installed")
    return "; ".join(parts)


def present(results: list[Result], args: argparse.Namespace) -> None:
    rows = [row.cells() for r in results for row in r.rows]
    print()
    print(text_table(rows, HEADER))
    for r in results:
        for note in r.notes:
            print(f"  [{r.name}] {note}")
    if args.write:
        record(results, args)
        print(f"\nRecorded in {RESULTS.relative_to(REPO)}")


def _section(result: Result, when: str, where: str, tools: str) -> str:
    rows = [row.cells() for row in result.rows]
    lines = [
        f"<!-- bench:{result.name} -->",
        f"### {result.title}",
        "",
        f"- run: {result.started or when}, `{result.command}` ({result.seconds:.0f} s)",
        f"- machine: {where}",
        f"- tools: {tools}",
        *(f"- {s}" for s in result.settings),
        "",
        markdown_table(rows, HEADER),
        "",
        *(f"- {n}" for n in result.notes),
        f"<!-- /bench:{result.name} -->",
    ]
    return "\n".join(lines)


def record(results: list[Result], args: argparse.Namespace) -> None:
    """Replace each benchmark's section of RESULTS.md (added if missing); keep the rest."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else _skeleton()
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    where, tools = machine(), versions()
    for result in results:
        section = _section(result, when, where, tools)
        pattern = re.compile(
            rf"<!-- bench:{result.name} -->.*?<!-- /bench:{result.name} -->", re.DOTALL
        )
        if pattern.search(text):
            text = pattern.sub(lambda _m, s=section: s, text)
        else:
            text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text, encoding="utf-8")


def _skeleton() -> str:
    return (
        "# Benchmark results\n\n"
        "Written by `python -m bench` (see bench/README.md). Each section is replaced by the\n"
        "latest full run of that benchmark; ratios are archiver / peer unless they say\n"
        "otherwise.\n"
    )


def timed_run(run, args: argparse.Namespace) -> Result:
    """``run(args)``, with its duration and the machine's load before and after noted."""
    load, started = os.getloadavg()[0], time.time()
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    result = run(args)
    result.started = when
    result.seconds = time.time() - started
    result.notes.append(
        f"machine load (1-min average) {load:.1f} before, {os.getloadavg()[0]:.1f} after, "
        f"on {os.cpu_count()} cores: other work on the machine inflates times"
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    names = args.benches or list(BENCHES)
    results: list[Result] = []
    failed: list[str] = []
    for name in names:
        print(f"== {name}", flush=True)
        module = importlib.import_module(BENCHES[name])
        try:
            result = timed_run(module.run, args)
        except Exception:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
            continue
        results.append(result)
    present(results, args)
    if failed:
        print(f"\nFailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
