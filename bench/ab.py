"""CPU of `archive add` from two source trees, interleaved in one run (issue 18 follow-up).

    .venv/bin/python -m bench.ab --before /tmp/base [--after .] [--runs 3] [--pages 200]

Checks out nothing itself: ``--before`` is another tree of this repository (e.g.
``git archive <commit> | tar -x -C /tmp/base``), run with this venv's interpreter and
``PYTHONPATH`` pointing at it. Each run adds the seed article (samples/seed-article.txt)
and bench.cdn's shared-CDN reading list to fresh archives, alternating which tree goes
first. CPU is user + system seconds of the `archive` child (``RUSAGE_CHILDREN``), so it
holds up on a loaded machine where wall time does not; medians are printed with CPU
seconds per MB of WARC written.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import time
from pathlib import Path

from bench.cdn import SEED, page_urls
from bench.common import BIN, REPO, FixtureWeb, init_archive, total_size, warc_paths, workdir


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def add_once(tree: Path, web: FixtureWeb, source: Path, root: Path) -> tuple[float, float, float]:
    """(CPU s, wall s, MB written) of one `archive add` run from ``tree``."""
    cfg = init_archive(root, web)
    env = dict(os.environ, PYTHONPATH=str(tree))
    cpu0, t0 = _child_cpu(), time.perf_counter()
    done = subprocess.run(
        [str(BIN / "archive"), "--config", str(cfg), "add", str(source)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tree,
    )
    wall, cpu = time.perf_counter() - t0, _child_cpu() - cpu0
    if done.returncode not in (0, 1):  # 1: the seed article cites a 404
        raise RuntimeError(f"archive add failed ({tree}):\n{done.stderr[-2000:]}")
    return cpu, wall, total_size(warc_paths(root / "warcs")) / 1e6


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__)
    p.add_argument("--before", type=Path, required=True, help="the other source tree")
    p.add_argument("--after", type=Path, default=REPO, help="default: this tree")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--pages", type=int, default=200, help="shared-CDN pages (20 hosts)")
    args = p.parse_args(argv)
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    with workdir("ab") as tmp, FixtureWeb(tmp) as web:
        listing = tmp / "list.txt"
        listing.write_text("News\n\n" + "\n".join(page_urls(args.pages, 20)) + "\n")
        for i in range(args.runs):
            for tag in ("before", "after") if i % 2 == 0 else ("after", "before"):
                for work, source in (("seed", SEED), ("cdn", listing)):
                    got = add_once(trees[tag], web, source, tmp / f"{tag}-{work}-{i}")
                    results.setdefault((tag, work), []).append(got)
                    cpu, wall, _ = got
                    print(f"{tag:6s} {work:4s} run {i + 1}: CPU {cpu:.2f} s, wall {wall:.2f} s")
    for (tag, work), runs in sorted(results.items()):
        cpu, wall, mb = (statistics.median(x[k] for x in runs) for k in range(3))
        print(
            f"{tag:6s} {work:4s} median CPU {cpu:.2f} s, wall {wall:.2f} s, "
            f"{mb:.2f} MB, {cpu / mb:.2f} CPU s/MB"
        )
    print("load (1/5/15 min)", " ".join(f"{x:.1f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
