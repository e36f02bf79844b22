"""Issue 9 item 1: capture article pages with their requisites — archiver vs wget.

    .venv/bin/python -m bench.capture [--quick] [--repeat N] [--keep]

200 article pages (``bench<NN>.test/article/N`` of the fixture web, spread over 50
hosts, page i on host i mod 50), each with 11 requisites (CSS with @import and url(),
JS, a web font, images; ~0.8 MB a page), every response delayed 20–50 ms. The same URL
list goes to

- the archiver: ``archive add list.txt`` (extract, store, capture with the thread pool
  and per-host politeness — per_host_delay 0.5 s, per_host_concurrency 2 — and write
  the manifests), in a fresh archive each run;
- wget: ``wget --warc-file=… --page-requisites -i list`` (Debian's GNU Wget; one
  request at a time, robots.txt off so it does not pay an extra request per host).

Both go through the fixture web's forward proxy over HTTPS, trusting its CA. Reported:
medians of wall time, CPU seconds (user+sys), MB of WARC written, peak RSS, and the
ratios; every WARC written goes through `warcio check`.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from bench.common import (
    BIN,
    MB,
    FixtureWeb,
    Result,
    Run,
    archive_cmd,
    fmt_s,
    init_archive,
    median,
    ratio,
    run_timed,
    spread,
    total_size,
    warc_paths,
    warcio_check,
    workdir,
)

FULL = {"pages": 200, "hosts": 50, "repeat": 3}
QUICK = {"pages": 40, "hosts": 10, "repeat": 1}
WORKERS = 64  # capture threads; politeness is per host, whatever the thread count
SUMMARY = re.compile(r"Captured (\d+) targets: (\d+) archived")


def floor(pages: int, hosts: int) -> float:
    """The physical floor at the default politeness: a host's page visits one
    per_host_delay (0.5 s) apart, plus the slowest visit's critical path (page →
    site.css → its @import: 3 responses of up to 50 ms)."""
    return (-(-pages // hosts) - 1) * 0.5 + 3 * 0.050


def page_urls(pages: int, hosts: int) -> list[str]:
    return [f"https://bench{i % hosts:02d}.test/article/{i}" for i in range(pages)]


def count_records(paths: list[Path]) -> dict[str, int]:
    from warcio.archiveiterator import ArchiveIterator

    counts: dict[str, int] = {}
    for path in paths:
        with open(path, "rb") as f:
            for record in ArchiveIterator(f):
                counts[record.rec_type] = counts.get(record.rec_type, 0) + 1
    return counts


def run_archiver(web: FixtureWeb, urls: list[str], folder: Path) -> tuple[Run, list[Path]]:
    root = folder / "archive"
    cfg = init_archive(root, web, capture={"workers": WORKERS})
    article = folder / "reading-list.txt"
    article.write_text("Benchmark reading list\n\n" + "\n".join(urls) + "\n", encoding="utf-8")
    run = run_timed(archive_cmd(cfg, "add", article), timeout=1800).check("archive add")
    m = SUMMARY.search(run.stdout)
    if not m or int(m.group(2)) != len(urls):
        raise RuntimeError(f"archiver did not archive every page:\n{run.stdout[-3000:]}")
    return run, warc_paths(root / "warcs")


def run_wget(web: FixtureWeb, urls: list[str], folder: Path) -> tuple[Run, list[Path]]:
    listing = folder / "list.txt"
    listing.write_text("\n".join(urls) + "\n", encoding="utf-8")
    cmd = [
        "wget",
        *web.wget_args(),
        "-nv",
        "-e",
        "robots=off",
        f"--warc-file={folder / 'wget'}",
        "--page-requisites",
        "-i",
        listing,
        "-P",
        folder / "files",
    ]
    run = run_timed(cmd, timeout=3600)
    if run.rc not in (0, 8):  # 8: some URL answered an error (none should here)
        run.check("wget")
    return run, warc_paths(folder)


def run(args: argparse.Namespace) -> Result:
    size = QUICK if args.quick else FULL
    repeat = args.repeat or size["repeat"]
    urls = page_urls(size["pages"], size["hosts"])
    result = Result(
        name="capture",
        title="Capture: article pages with requisites (archiver vs wget)",
        command="python -m bench.capture" + (" --quick" if args.quick else ""),
    )
    result.settings = [
        f"{len(urls)} pages on {size['hosts']} hosts (page i on host i mod {size['hosts']}), 14 "
        "requests a page (the page, 13 requisites; 6 of them shared by a host's pages), "
        "20–50 ms a response",
        f"archiver: capture.workers = {WORKERS}, per_host_delay = 0.5 s, "
        "per_host_concurrency = 2 (defaults), gzip_level = 6 (default)",
        "wget: --warc-file --page-requisites -i list -e robots=off -nv",
        f"{repeat} run(s) each, alternating; medians",
    ]
    ours: list[dict] = []
    peers: list[dict] = []
    checks: dict[str, list[bool]] = {"archiver": [], "wget": []}
    with workdir("capture", keep=args.keep) as tmp, FixtureWeb(tmp) as web:
        for i in range(repeat):
            for tool in ("archiver", "wget") if i % 2 == 0 else ("wget", "archiver"):
                folder = tmp / f"{tool}-{i}"
                folder.mkdir()
                fn = run_archiver if tool == "archiver" else run_wget
                r, paths = fn(web, urls, folder)
                ok, said = warcio_check(paths)
                checks[tool].append(ok)
                if not ok:
                    result.notes.append(f"{tool} run {i}: warcio check failed: {said}")
                figures = {
                    "pages": len(urls),
                    "hosts": size["hosts"],
                    "wall": r.wall,
                    "cpu": r.cpu,
                    "user": r.user,
                    "sys": r.sys,
                    "rss": r.rss_mb,
                    "mb": total_size(paths) / MB,
                    "records": count_records(paths),
                }
                (ours if tool == "archiver" else peers).append(figures)
                print(
                    f"  {tool:8s} run {i + 1}/{repeat}: {r.wall:7.2f} s wall, {r.cpu:6.2f} s CPU, "
                    f"{figures['mb']:7.1f} MB WARC, {r.rss_mb:6.1f} MB RSS",
                    flush=True,
                )
                _cleanup(folder)
    _report(result, ours, peers, checks)
    return result


def _cleanup(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def _med(runs: list[dict], key: str) -> float:
    return median([r[key] for r in runs])


def _report(result: Result, ours: list[dict], peers: list[dict], checks) -> None:
    wall_a, wall_w = _med(ours, "wall"), _med(peers, "wall")
    cpu_a, cpu_w = _med(ours, "cpu"), _med(peers, "cpu")
    mb_a, mb_w = _med(ours, "mb"), _med(peers, "mb")
    rss_a, rss_w = _med(ours, "rss"), _med(peers, "rss")
    speedup = ratio(wall_w, wall_a)
    pages, hosts = ours[0]["pages"], ours[0]["hosts"]
    low = floor(pages, hosts)
    result.add(
        "wall / physical floor", f"{ratio(wall_a, low):.2f}× ({fmt_s(low)})", "", "", "", None
    )
    result.add(
        "wall time",
        fmt_s(wall_a),
        fmt_s(wall_w),
        f"{speedup:.2f}× faster",
        "≥ 3× faster",
        speedup >= 3,
    )
    result.add(
        "CPU seconds (user+sys)", f"{cpu_a:.2f}", f"{cpu_w:.2f}", f"{ratio(cpu_a, cpu_w):.2f}"
    )
    result.add("MB written (WARC)", f"{mb_a:.1f}", f"{mb_w:.1f}", f"{ratio(mb_a, mb_w):.2f}")
    per_a, per_w = ratio(cpu_a, mb_a), ratio(cpu_w, mb_w)
    result.add(
        "CPU s per MB written",
        f"{per_a:.4f}",
        f"{per_w:.4f}",
        f"{ratio(per_a, per_w):.2f}",
        "≤ 1.5",
        ratio(per_a, per_w) <= 1.5,
    )
    result.add("peak RSS", f"{rss_a:.0f} MB", f"{rss_w:.0f} MB", f"{ratio(rss_a, rss_w):.1f}")
    ok_a, ok_w = all(checks["archiver"]), all(checks["wget"])
    result.add(
        "warcio check",
        "pass" if ok_a else "FAIL",
        "pass" if ok_w else "FAIL",
        goal="both pass",
        met=ok_a and ok_w,
    )
    rec_a, rec_w = ours[0]["records"], peers[0]["records"]
    result.notes.append(
        "records (first run): archiver "
        + ", ".join(f"{k} {v}" for k, v in sorted(rec_a.items()))
        + "; wget "
        + ", ".join(f"{k} {v}" for k, v in sorted(rec_w.items()))
    )
    for key, label in (("wall", "wall"), ("cpu", "CPU")):
        sa, sw = spread([r[key] for r in ours]), spread([r[key] for r in peers])
        if sa:
            result.notes.append(f"{label} range over the runs: archiver {sa} s, wget {sw} s")
    result.notes.append(
        f"CPU split (median): archiver user {_med(ours, 'user'):.2f} s + sys "
        f"{_med(ours, 'sys'):.2f} s; wget user {_med(peers, 'user'):.2f} s + sys "
        f"{_med(peers, 'sys'):.2f} s"
    )


def main(argv: list[str] | None = None) -> int:
    from bench.__main__ import parse_args, present, timed_run

    args = parse_args(argv, only="capture")
    present([timed_run(run, args)], args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

__all__ = ["BIN", "page_urls", "run"]
