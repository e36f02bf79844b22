"""Issue 18: news sites sharing one CDN host, and the seed article — archiver vs wget.

    .venv/bin/python -m bench.cdn [--quick] [--repeat N] [--keep]

Workload 1, shared CDN: 200 article pages (``newsNN.test/article/N`` of the fixture
web) on 20 hosts, page i on host i mod 20. Each page loads its own photo (same host)
plus a stylesheet, a script and two images from ``cdn.news.test``; the stylesheet loads
a web font from the CDN too: 7 requests a page, 5 distinct CDN files for the whole run.
Every response waits 30 ms. The same list goes to

- the archiver: ``archive add list.txt`` with the default settings (capture.workers,
  per_host_delay 0.5 s, per_host_concurrency 2, reuse_window 1 h), a fresh archive;
- wget: ``wget --warc-file=… -p -H -e robots=off -i list`` (one request at a time);
- ``python -m bench.pyfloor``: requests + warcio and nothing else, one request at a
  time, each distinct URL once (a reference for the CPU figures, not a peer tool: what
  the required libraries and the interpreter cost without any of the archiver's work).

Workload 2, the seed article: ``archive add samples/seed-article.txt`` (its 8 URLs)
against ``wget --warc-file -p -H`` on the same 8 URLs.

Reported: medians of wall, CPU, MB written, peak RSS (GNU time's maxrss of the tool's
process), requests the CDN host received (request records in the WARCs: each request
is recorded), and the physical floor of the shared-CDN run at the default politeness:
a host's page visits one per_host_delay apart — (visits − 1) × delay — plus the
slowest visit's critical path (page → stylesheet → font: 3 × 30 ms).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from bench.common import (
    MB,
    REPO,
    FixtureWeb,
    Result,
    Run,
    archive_cmd,
    clean_env,
    fmt_s,
    init_archive,
    median,
    ratio,
    run_timed,
    total_size,
    warc_paths,
    warcio_check,
    workdir,
)

FULL = {"pages": 200, "hosts": 20, "repeat": 1}
QUICK = {"pages": 60, "hosts": 20, "repeat": 1}
CDN = "cdn.news.test"
RESPONSE = 0.030  # every fixture response's wait
DELAY = 0.5  # capture.per_host_delay's default
SEED = REPO / "samples" / "seed-article.txt"
SUMMARY = re.compile(r"Captured (\d+) targets: (\d+) archived")


def page_urls(pages: int, hosts: int) -> list[str]:
    return [f"https://news{i % hosts:02d}.test/article/{i}" for i in range(pages)]


def seed_urls() -> list[str]:
    from archiver.extract import extract

    found = extract(SEED.read_text(encoding="utf-8"), "text")
    return [c.url for c in found.citations]


def floor(pages: int, hosts: int) -> float:
    """Page visits to the busiest host one delay apart, plus the slowest visit."""
    visits = -(-pages // hosts)
    return (visits - 1) * DELAY + 3 * RESPONSE


def cdn_requests(paths: list[Path]) -> tuple[int, int]:
    """(requests to the CDN host, distinct CDN URLs) recorded in these WARC files."""
    count, distinct = 0, set()
    for path in paths:
        with open(path, "rb") as f:
            for record in ArchiveIterator(f):
                uri = record.rec_headers.get_header("WARC-Target-URI") or ""
                if record.rec_type == "request" and uri.startswith(f"https://{CDN}/"):
                    count += 1
                    distinct.add(uri)
    return count, len(distinct)


def run_archiver(web: FixtureWeb, article: Path, folder: Path, expect: int) -> tuple[Run, list]:
    root = folder / "archive"
    cfg = init_archive(root, web)
    run = run_timed(archive_cmd(cfg, "add", article), timeout=1800).check("archive add")
    m = SUMMARY.search(run.stdout)
    if not m or int(m.group(2)) < expect:
        raise RuntimeError(f"archiver archived too few pages:\n{run.stdout[-3000:]}")
    return run, warc_paths(root / "warcs")


def run_wget(web: FixtureWeb, urls: list[str], folder: Path) -> tuple[Run, list]:
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
        "--span-hosts",
        "-i",
        listing,
        "-P",
        folder / "files",
    ]
    run = run_timed(cmd, timeout=3600)
    if run.rc not in (0, 8):  # 8: some URL answered an error (the seed cites a 404)
        run.check("wget")
    return run, warc_paths(folder)


def run_pyfloor(web: FixtureWeb, urls: list[str], folder: Path) -> tuple[Run, list]:
    listing = folder / "list.txt"
    listing.write_text("\n".join(urls) + "\n", encoding="utf-8")
    env = clean_env(
        HTTP_PROXY=web.proxy_url,
        HTTPS_PROXY=web.proxy_url,
        REQUESTS_CA_BUNDLE=web.ca_path,
        PYTHONPATH=str(REPO),
    )
    out = folder / "pyfloor.warc.gz"
    cmd = [sys.executable, "-m", "bench.pyfloor", listing, out]
    return run_timed(cmd, env=env, cwd=REPO, timeout=3600).check("bench.pyfloor"), [out]


def _figures(r: Run, paths: list[Path]) -> dict:
    ok, said = warcio_check(paths)
    cdn, distinct = cdn_requests(paths)
    return {
        "wall": r.wall,
        "cpu": r.cpu,
        "rss": r.rss_mb,
        "mb": total_size(paths) / MB,
        "cdn": cdn,
        "distinct": distinct,
        "ok": ok,
        "said": said,
    }


def _load() -> str:
    return "load (1/5/15 min) " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def run(args: argparse.Namespace) -> Result:
    size = QUICK if args.quick else FULL
    repeat = args.repeat or size["repeat"]
    urls = page_urls(size["pages"], size["hosts"])
    seed = seed_urls()
    result = Result(
        name="cdn",
        title="Capture: news sites sharing a CDN host, and the seed article (archiver vs wget)",
        command="python -m bench.cdn" + (" --quick" if args.quick else ""),
    )
    result.settings = [
        f"shared CDN: {len(urls)} pages on {size['hosts']} hosts (page i on host i mod "
        f"{size['hosts']}), 7 requests a page (the page, its photo, 5 files of one CDN "
        "host shared by every page), 30 ms a response",
        f"seed article: samples/seed-article.txt, {len(seed)} URLs",
        "archiver: the defaults (capture.workers, per_host_delay 0.5 s, "
        "per_host_concurrency 2, reuse_window 1 h)",
        "wget: --warc-file --page-requisites --span-hosts -i list -e robots=off -nv",
        f"{repeat} run(s) each, alternating; medians; peak RSS: GNU time's maxrss",
    ]
    runs: dict[str, list[dict]] = {"a": [], "w": [], "p": [], "sa": [], "sw": []}
    loads = [_load()]
    with workdir("cdn", keep=args.keep) as tmp, FixtureWeb(tmp) as web:
        listing = tmp / "reading-list.txt"
        listing.write_text("News reading list\n\n" + "\n".join(urls) + "\n", encoding="utf-8")
        for i in range(repeat):
            order = ("a", "w", "p", "sa", "sw") if i % 2 == 0 else ("w", "p", "a", "sw", "sa")
            for tool in order:
                folder = tmp / f"{tool}-{i}"
                folder.mkdir()
                if tool == "a":
                    r, paths = run_archiver(web, listing, folder, len(urls))
                elif tool == "w":
                    r, paths = run_wget(web, urls, folder)
                elif tool == "p":
                    r, paths = run_pyfloor(web, urls, folder)
                elif tool == "sa":
                    r, paths = run_archiver(web, SEED, folder, len(seed) - 1)
                else:
                    r, paths = run_wget(web, seed, folder)
                fig = _figures(r, paths)
                runs[tool].append(fig)
                print(
                    f"  {tool:3s} run {i + 1}/{repeat}: {r.wall:7.2f} s wall, {r.cpu:6.2f} s CPU, "
                    f"{fig['mb']:6.1f} MB, {r.rss_mb:5.0f} MB RSS, CDN {fig['cdn']} requests",
                    flush=True,
                )
                shutil.rmtree(folder, ignore_errors=True)
        loads.append(_load())
    _report(result, runs, floor(size["pages"], size["hosts"]), loads)
    return result


def _med(runs: list[dict], key: str) -> float:
    return median([r[key] for r in runs])


def _report(result: Result, runs: dict[str, list[dict]], low: float, loads: list[str]) -> None:
    a, w, p, sa, sw = runs["a"], runs["w"], runs["p"], runs["sa"], runs["sw"]
    wall_a, wall_w = _med(a, "wall"), _med(w, "wall")
    speedup = ratio(wall_w, wall_a)
    result.add(
        "shared CDN: wall", fmt_s(wall_a), fmt_s(wall_w), f"{speedup:.2f}× faster",
        "≥ 5× faster", speedup >= 5,
    )  # fmt: skip
    result.add(
        "shared CDN: wall / physical floor", f"{ratio(wall_a, low):.2f}× ({fmt_s(low)})",
        "", "", "≤ 1.5×", ratio(wall_a, low) <= 1.5,
    )  # fmt: skip
    cdn_a, cdn_w = int(_med(a, "cdn")), int(_med(w, "cdn"))
    distinct = int(_med(a, "distinct"))
    result.add(
        "shared CDN: requests to the CDN host", f"{cdn_a} ({distinct} distinct)", str(cdn_w),
        "", "each distinct file once", cdn_a == distinct,
    )  # fmt: skip
    cpu_a, cpu_w = _med(a, "cpu"), _med(w, "cpu")
    per_a, per_w = ratio(cpu_a, _med(a, "mb")), ratio(cpu_w, _med(w, "mb"))
    result.add("shared CDN: CPU s", f"{cpu_a:.2f}", f"{cpu_w:.2f}", f"{ratio(cpu_a, cpu_w):.2f}")
    result.add(
        "shared CDN: CPU s per MB written", f"{per_a:.4f}", f"{per_w:.4f}",
        f"{ratio(per_a, per_w):.2f}", "≤ 1.5", ratio(per_a, per_w) <= 1.5,
    )  # fmt: skip
    per_p = ratio(_med(p, "cpu"), _med(p, "mb"))
    result.add(
        "shared CDN: CPU s per MB, requests + warcio alone (bench.pyfloor)",
        f"{per_p:.4f}", f"{per_w:.4f}", f"{ratio(per_p, per_w):.2f}",
    )  # fmt: skip
    rss_a, rss_w = _med(a, "rss"), _med(w, "rss")
    result.add(
        "shared CDN: peak RSS", f"{rss_a:.0f} MB", f"{rss_w:.0f} MB", "", "≤ 120 MB",
        rss_a <= 120,
    )  # fmt: skip
    seed_a, seed_w = _med(sa, "wall"), _med(sw, "wall")
    result.add(
        "seed article: wall", fmt_s(seed_a), fmt_s(seed_w), f"{ratio(seed_w, seed_a):.2f}× faster",
        "no slower", seed_a <= seed_w,
    )  # fmt: skip
    ok = all(r["ok"] for group in runs.values() for r in group)
    result.add("warcio check", "pass" if ok else "FAIL", "", "", "all pass", ok)
    for group in runs.values():
        for r in group:
            if not r["ok"]:
                result.notes.append(f"warcio check failed: {r['said']}")
    result.notes.append(
        f"physical floor of the shared-CDN run: {fmt_s(low)}: page visits to a host one "
        "per_host_delay apart plus the slowest visit's critical path. Pacing every request "
        "(before issue 18) made the CDN host alone the floor: 5 files a page, 2 a second"
    )
    result.notes.append(
        "bench.pyfloor (requests + warcio, one request at a time, no analysis, store, "
        f"evidence or index): {_med(p, 'cpu'):.2f} s CPU, {_med(p, 'mb'):.1f} MB, "
        f"{_med(p, 'rss'):.0f} MB RSS, {_med(p, 'wall'):.1f} s wall. Its CPU per MB over "
        "wget's is what the required libraries and the interpreter cost before any of "
        "the archiver's own work"
    )
    result.notes.append("machine " + "; after: ".join(loads) + " (2 cores)")


def main(argv: list[str] | None = None) -> int:
    from bench.__main__ import parse_args, present, timed_run

    args = parse_args(argv, only="cdn")
    present([timed_run(run, args)], args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
