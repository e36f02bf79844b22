"""Where the wall time of the capture benchmark's `archive add` goes, phase by phase.

    .venv/bin/python -m bench.phases [--pages 200 --hosts 50]

Runs one `archive add` of the capture benchmark's reading list (bench.capture's pages,
its settings) in a child process whose capture steps print their start and end on the
wall clock, measured from just before the child was started: interpreter start-up and
imports, the captures themselves (against the politeness floor: requests per host ×
per_host_delay), the manifests and the CDXJ index written at the end.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench.capture import WORKERS, page_urls
from bench.common import FixtureWeb, init_archive, workdir

REQUESTS_PER_PAGE = 14  # the page and its 13 requisites (tests/web/sites/bench.py)

# runs in the child: marks on the wall clock around the steps of `archive add`
CHILD = """
import sys, time
T0 = float(sys.argv[1])

def mark(what):
    print(f"{time.time() - T0:7.2f} s  {what}", flush=True)

mark("interpreter up")
import archiver.runs.capture as run
from archiver.cli import main
mark("imports done")

def timed(name):
    real = getattr(run, name)
    def step(*args, **kwargs):
        mark(name + " start")
        try:
            return real(*args, **kwargs)
        finally:
            mark(name + " end")
    setattr(run, name, step)

for name in ("capture_pending", "_refresh", "index_new_warcs"):
    timed(name)
one = run._Capturer.one
started = []

def first(self, target):
    if not started:
        started.append(True)
        mark("first capture starts")
    return one(self, target)

run._Capturer.one = first
sys.argv = ["archive", "--config", sys.argv[2], "add", sys.argv[3]]
try:
    main()
except SystemExit:
    pass
mark("archive add returned")
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--hosts", type=int, default=50)
    args = parser.parse_args(argv)
    with workdir("phases", keep=False) as tmp, FixtureWeb(tmp) as web:
        cfg = init_archive(tmp / "archive", web, capture={"workers": WORKERS})
        listing = tmp / "reading-list.txt"
        urls = page_urls(args.pages, args.hosts)
        listing.write_text("Benchmark reading list\n\n" + "\n".join(urls) + "\n", "utf-8")
        started = time.time()
        child = subprocess.run(
            [sys.executable, "-c", CHILD, repr(started), str(cfg), str(listing)],
            capture_output=True,
            text=True,
            check=False,
        )
        total = time.time() - started
    for line in (child.stdout + child.stderr).splitlines():
        if " s  " in line or line.startswith(("Captured", "Error")):
            print(line)
    per_host = args.pages / args.hosts * REQUESTS_PER_PAGE
    print(f"total {total:.2f} s; politeness floor {(per_host - 1) * 0.5:.1f} s")
    print(f"({per_host:.0f} requests on each host at one start per 0.5 s, the default)")
    return child.returncode


if __name__ == "__main__":
    raise SystemExit(main())
