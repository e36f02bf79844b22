"""Issue 9 item 3 (and issue 5's benchmark): check 10 000 links — archiver vs LinkChecker.

    .venv/bin/python -m bench.linkcheck [--quick] [--repeat N] [--keep]

10 000 pages (``bench<NN>.test/link/N``, ~15 KB each, page N on host N mod 100, so
100 hosts and 100 links each; every response delayed 20–50 ms) are cited by 100
articles of 100 links and captured while the fixture web is in its "now" world, where
all of them answer 200. The web then turns "later": 5 links in 100 rot (404, 410, 500,
or a 301 to a moved copy). On the same list, through the same proxy and CA:

- the archiver: ``archive check --all`` on a copy of the archive: each link fetched
  with every redirect hop, its main text compared with the snapshot, classified, stored
  with a ledger line, the manifests of the citing articles rewritten; politeness on —
  per_host_delay 0.5 s and per_host_concurrency 2 (defaults), check.workers 8 (default);
- LinkChecker (PyPI ``linkchecker``, the established link checker): ``linkchecker
  --stdin -r0`` on the list, its defaults otherwise (10 threads, robots.txt honoured,
  at most 10 requests per second per host — its politeness).

The archiver runs twice per round: with its defaults (2 requests a second per host),
and at LinkChecker's politeness (`per_host_delay = 0.1 s`: 10 requests a second per
host), the like-for-like comparison the goal is judged on. In the "later" world the rot
type follows the host, so one host (bench13) answers 301 for all its 100 links: 200
requests there make the floor of a run — 100 s at the defaults, 20 s at 0.1 s.

Reported: URLs/s (links / wall time) for both, CPU seconds, peak RSS, and what each
found; goal: the archiver at least as fast as LinkChecker at the same politeness.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import time
import urllib.request
from pathlib import Path

from bench.common import (
    BIN,
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
    workdir,
    write_config,
)

FULL = {"links": 10_000, "repeat": 2}
QUICK = {"links": 1_000, "repeat": 1}
HOSTS = 100
SUMMARY = re.compile(r"(\d+) links? in (\d+) URLs? checked\. (\d+) warnings? found\. (\d+) errors?")


def link_urls(n: int) -> list[str]:
    return [f"https://bench{i % HOSTS:02d}.test/link/{i}" for i in range(n)]


def set_state(web: FixtureWeb, state: str) -> None:
    proxy = urllib.request.ProxyHandler({"http": web.proxy_url})
    opener = urllib.request.build_opener(proxy)
    with opener.open(f"http://fixture.control/state?set={state}", timeout=30) as resp:
        assert resp.read().decode().strip() == state


def prepare(web: FixtureWeb, folder: Path, urls: list[str]) -> Path:
    """An archive holding a capture of every link (taken in the "now" world)."""
    root = folder / "archive"
    # fast set-up: no politeness, no requisites (the pages have none anyway)
    cfg = init_archive(
        root, web, capture={"workers": 16, "per_host_delay": "0s", "requisites": False}
    )
    articles = []
    per = 100
    for a in range(0, len(urls), per):
        path = folder / f"article-{a // per:03d}.txt"
        lines = "\n".join(urls[a : a + per])
        path.write_text(f"Reading list {a // per}\n\n{lines}\n", encoding="utf-8")
        articles.append(path)
    run = run_timed(archive_cmd(cfg, "add", *articles), timeout=3600).check("archive add")
    if f"{len(urls)} archived" not in run.stdout:
        raise RuntimeError(f"set-up did not archive every link:\n{run.stdout[-2000:]}")
    write_config(root, web)  # the check runs with the defaults: politeness on
    return root


EQUAL_DELAY = "0.1s"  # LinkChecker's default: maxrequestspersecond = 10 per host


def run_archiver(
    master: Path, folder: Path, web: FixtureWeb, delay: str | None = None
) -> tuple[Run, str]:
    root = folder / "archive"
    shutil.copytree(master, root)
    if delay is not None:
        write_config(root, web, capture={"per_host_delay": delay})
    r = run_timed(archive_cmd(root / "config.toml", "check", "--all"), timeout=7200)
    r.check("archive check")
    found = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    return r, found


def run_linkchecker(web: FixtureWeb, urls: list[str], folder: Path) -> tuple[Run, str]:
    listing = folder / "urls.txt"
    listing.write_text("\n".join(urls) + "\n", encoding="utf-8")
    config = folder / "linkcheckerrc"
    config.write_text(f"[checking]\nsslverify={web.ca_path}\n", encoding="utf-8")
    # LinkChecker run as root drops to "nobody", who must read these and the fixture's CA
    for path in (folder, folder.parent, Path(web.ca_path).parent):
        os.chmod(path, 0o755)
    env = clean_env(
        http_proxy=web.proxy_url, https_proxy=web.proxy_url, HOME=str(folder), no_proxy=""
    )
    cmd = [BIN / "linkchecker", "-f", config, "--no-status", "-r0", "--stdin"]
    r = run_timed(cmd, env=env, stdin=listing, timeout=7200)
    if r.rc not in (0, 1):  # 1: broken links found (expected)
        r.check("linkchecker")
    m = SUMMARY.search(r.stdout)
    if not m or int(m.group(2)) < len(urls):
        raise RuntimeError(f"LinkChecker did not check every URL:\n{r.stdout[-2000:]}")
    return r, m.group(0)


def run(args: argparse.Namespace) -> Result:
    size = QUICK if args.quick else FULL
    repeat = args.repeat or size["repeat"]
    urls = link_urls(size["links"])
    result = Result(
        name="linkcheck",
        title="Link check: archiver check --all vs LinkChecker",
        command="python -m bench.linkcheck" + (" --quick" if args.quick else ""),
    )
    result.settings = [
        f"{len(urls)} links on {HOSTS} hosts (~15 KB pages, 20–50 ms a response), 5 % rotted",
        "archiver: `archive check --all`, check.workers = 8, per_host_concurrency = 2, "
        "per_host_delay = 0.5 s (defaults) and, like for like, 0.1 s (10 requests/s per "
        "host); LinkChecker: `--stdin -r0`, defaults (10 threads, maxrequestspersecond = "
        "10 per host, robots.txt)",
        f"{repeat} run(s) each, alternating; medians",
    ]
    ours: list[Run] = []
    equal: list[Run] = []
    peers: list[Run] = []
    said = {}
    with workdir("linkcheck", keep=args.keep) as tmp, FixtureWeb(tmp) as web:
        started = time.perf_counter()
        master = prepare(web, tmp / "setup", urls)
        print(f"  set-up: {len(urls)} links captured in {time.perf_counter() - started:.0f} s")
        set_state(web, "later")
        for i in range(repeat):
            tools = ("archiver", "archiver@0.1s", "linkchecker")
            for tool in tools if i % 2 == 0 else tools[::-1]:
                folder = tmp / f"{tool}-{i}"
                folder.mkdir()
                if tool == "archiver":
                    r, said[tool] = run_archiver(master, folder, web)
                    ours.append(r)
                elif tool == "archiver@0.1s":
                    r, said[tool] = run_archiver(master, folder, web, EQUAL_DELAY)
                    equal.append(r)
                else:
                    r, said[tool] = run_linkchecker(web, urls, folder)
                    peers.append(r)
                print(
                    f"  {tool:13s} run {i + 1}/{repeat}: {r.wall:7.1f} s wall, "
                    f"{len(urls) / r.wall:6.1f} URLs/s, {r.cpu:6.1f} s CPU, {r.rss_mb:5.0f} MB RSS",
                    flush=True,
                )
                shutil.rmtree(folder, ignore_errors=True)
    wall_p = median([r.wall for r in peers])
    ups_p = len(urls) / wall_p
    cpu_p = median([r.cpu for r in peers])
    rss_p = median([r.rss_mb for r in peers])
    for label, runs, goal in (
        ("same politeness (0.1 s a host)", equal, True),
        ("archiver defaults (0.5 s a host)", ours, False),
    ):
        wall_a = median([r.wall for r in runs])
        ups_a = len(urls) / wall_a
        result.add(
            f"URLs per second, {label}",
            f"{ups_a:.1f}",
            f"{ups_p:.1f}",
            f"{ratio(ups_a, ups_p):.2f}",
            "≥ LinkChecker" if goal else "",
            (ups_a >= ups_p) if goal else None,
        )
        result.add(
            f"wall time, {label}", fmt_s(wall_a), fmt_s(wall_p), f"{ratio(wall_a, wall_p):.2f}"
        )
        cpu_a = median([r.cpu for r in runs])
        result.add(
            f"CPU seconds, {label}", f"{cpu_a:.1f}", f"{cpu_p:.1f}", f"{ratio(cpu_a, cpu_p):.2f}"
        )
        rss_a = median([r.rss_mb for r in runs])
        result.add(
            f"peak RSS, {label}", f"{rss_a:.0f} MB", f"{rss_p:.0f} MB", f"{ratio(rss_a, rss_p):.1f}"
        )
    result.notes.append(f"archiver: {said.get('archiver', '')}")
    result.notes.append(f"archiver at 0.1 s: {said.get('archiver@0.1s', '')}")
    result.notes.append(f"LinkChecker: {said.get('linkchecker', '')}")
    result.notes.append(
        "the archiver's floor: bench13.test answers 301 for all its 100 links, 200 requests "
        f"to one host: 100 s at one start per 0.5 s ({len(urls) / 100:.0f} URLs/s), 20 s "
        f"at 0.1 s ({len(urls) / 20:.0f} URLs/s)"
        if len(urls) == FULL["links"]
        else "quick run: 10 links per host"
    )
    return result


def main(argv: list[str] | None = None) -> int:
    from bench.__main__ import parse_args, present, timed_run

    args = parse_args(argv, only="linkcheck")
    present([timed_run(run, args)], args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
