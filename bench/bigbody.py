"""Issue 9 item 2 (and issue 4's memory benchmark): one 1 GiB streamed response.

    .venv/bin/python -m bench.bigbody [--quick] [--repeat N] [--keep]

``https://cases.test/big?size=1073741824`` (Content-Length, streamed by the fixture web in
64 KiB blocks of a repeating text pattern) is captured by ``archive add`` (in a fresh
archive, capture.max_bytes raised to 2 GiB so the body is kept whole) and by
``wget --warc-file`` on the same URL, through the fixture proxy over HTTPS. Reported:
wall time, throughput (MiB of body / wall second), CPU seconds, peak RSS (goal: under
150 MB for the archiver), WARC size; the ratio of throughputs (goal ≥ 70 % of wget's).
A second row does the same with incompressible bytes (``bench00.test/random``), where
gzip costs most. ``curl -o /dev/null`` on the same URL shows what the fixture web can
serve at most.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.common import (
    MB,
    FixtureWeb,
    MiB,
    Result,
    Run,
    archive_cmd,
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

FULL = {"size": 1024 * MiB, "repeat": 3}
QUICK = {"size": 128 * MiB, "repeat": 1}
RSS_GOAL_MB = 150
BODIES = {
    "pattern": "https://cases.test/big?size={size}",
    "random": "https://bench00.test/random?size={size}",
}


def run_archiver(web: FixtureWeb, url: str, size: int, folder: Path) -> tuple[Run, list[Path]]:
    root = folder / "archive"
    cfg = init_archive(root, web, capture={"max_bytes": 2 * size + MiB, "page_timeout": "1h"})
    article = folder / "big.txt"
    article.write_text(f"One big download\n\n{url}\n", encoding="utf-8")
    run = run_timed(archive_cmd(cfg, "add", article), timeout=3600).check("archive add")
    if "1 archived" not in run.stdout:
        raise RuntimeError(f"archiver did not archive the body:\n{run.stdout[-2000:]}")
    return run, warc_paths(root / "warcs")


def run_wget(web: FixtureWeb, url: str, folder: Path) -> tuple[Run, list[Path]]:
    cmd = ["wget", *web.wget_args(), "-nv", f"--warc-file={folder / 'wget'}", "-P", folder, url]
    return run_timed(cmd, timeout=3600).check("wget"), warc_paths(folder)


def run_curl(web: FixtureWeb, url: str) -> Run:
    cmd = ["curl", "-sS", "-o", "/dev/null", "-x", web.proxy_url, "--cacert", web.ca_path, url]
    return run_timed(cmd, timeout=3600).check("curl")


def measure(web: FixtureWeb, tmp: Path, kind: str, size: int, repeat: int, check: bool) -> dict:
    url = BODIES[kind].format(size=size)
    figures: dict[str, list] = {"archiver": [], "wget": [], "curl": []}
    checks = {"archiver": True, "wget": True}
    for i in range(repeat):
        order = ("archiver", "wget", "curl") if i % 2 == 0 else ("wget", "archiver", "curl")
        for tool in order:
            folder = tmp / f"{kind}-{tool}-{i}"
            folder.mkdir()
            if tool == "curl":
                r, paths = run_curl(web, url), []
            elif tool == "archiver":
                r, paths = run_archiver(web, url, size, folder)
            else:
                r, paths = run_wget(web, url, folder)
            if paths and check and i == 0:
                checks[tool] = warcio_check(paths)[0]
            figures[tool].append(
                {"run": r, "mb": total_size(paths) / MB, "mibps": size / MiB / r.wall}
            )
            print(
                f"  {kind:7s} {tool:8s} run {i + 1}/{repeat}: {r.wall:7.2f} s wall, "
                f"{size / MiB / r.wall:7.1f} MiB/s, {r.cpu:6.2f} s CPU, {r.rss_mb:6.1f} MB RSS",
                flush=True,
            )
            _rmtree(folder)
    return {"figures": figures, "checks": checks}


def _rmtree(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def _med(runs: list[dict], key: str) -> float:
    if key in ("wall", "cpu", "rss_mb"):
        return median([getattr(r["run"], key) for r in runs])
    return median([r[key] for r in runs])


def report(result: Result, kind: str, data: dict, size: int) -> None:
    f = data["figures"]
    a, w, c = f["archiver"], f["wget"], f["curl"]
    label = f"{size // MiB} MiB {kind}"
    tput_a, tput_w = _med(a, "mibps"), _med(w, "mibps")
    share = ratio(tput_a, tput_w)
    result.add(
        f"{label}: throughput",
        f"{tput_a:.0f} MiB/s",
        f"{tput_w:.0f} MiB/s",
        f"{100 * share:.0f} %",
        "≥ 70 % of wget" if kind == "pattern" else "",
        share >= 0.7 if kind == "pattern" else None,
    )
    result.add(f"{label}: wall time", fmt_s(_med(a, "wall")), fmt_s(_med(w, "wall")))
    result.add(
        f"{label}: CPU seconds",
        f"{_med(a, 'cpu'):.2f}",
        f"{_med(w, 'cpu'):.2f}",
        f"{ratio(_med(a, 'cpu'), _med(w, 'cpu')):.2f}",
    )
    rss = _med(a, "rss_mb")
    result.add(
        f"{label}: peak RSS",
        f"{rss:.0f} MB",
        f"{_med(w, 'rss_mb'):.0f} MB",
        goal=f"< {RSS_GOAL_MB} MB",
        met=rss < RSS_GOAL_MB,
    )
    result.add(f"{label}: WARC MB", f"{_med(a, 'mb'):.1f}", f"{_med(w, 'mb'):.1f}")
    ok = data["checks"]
    result.add(
        f"{label}: warcio check",
        "pass" if ok["archiver"] else "FAIL",
        "pass" if ok["wget"] else "FAIL",
        goal="both pass",
        met=ok["archiver"] and ok["wget"],
    )
    result.notes.append(
        f"{label}: the fixture web serves at most {_med(c, 'mibps'):.0f} MiB/s "
        f"(curl -o /dev/null, median)"
    )


def run(args: argparse.Namespace) -> Result:
    size_cfg = QUICK if args.quick else FULL
    size, repeat = size_cfg["size"], args.repeat or size_cfg["repeat"]
    result = Result(
        name="bigbody",
        title="Large body: one streamed response (archiver vs wget --warc-file)",
        command="python -m bench.bigbody" + (" --quick" if args.quick else ""),
    )
    result.settings = [
        f"{size // MiB} MiB body, Content-Length, over HTTPS through the fixture proxy",
        "archiver: `archive add` with capture.max_bytes = 2 × body (default 256 MiB would "
        "cut it), gzip_level = 6 (default); wget: --warc-file (gzip level 9, its default)",
        f"{repeat} run(s) each, alternating; medians; warcio check on the first run's WARCs",
    ]
    with workdir("bigbody", keep=args.keep) as tmp, FixtureWeb(tmp) as web:
        for kind in BODIES:
            data = measure(web, tmp, kind, size, repeat, check=True)
            report(result, kind, data, size)
    return result


def main(argv: list[str] | None = None) -> int:
    from bench.__main__ import parse_args, present, timed_run

    args = parse_args(argv, only="bigbody")
    present([timed_run(run, args)], args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
