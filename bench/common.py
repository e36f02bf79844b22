"""What every benchmark shares: the fixture web as a process, timed child processes,
archives wired to the fixture web, medians, and the table of figures.

Each tool runs as its own child process. Wall time is `time.perf_counter` around it;
CPU seconds (user + system) and peak RSS come from `os.wait4`, i.e. the kernel's
rusage of exactly that child (its own children included once it has waited for them).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's bin: archive, warcio, linkchecker
OUT = REPO / "bench" / "out"
MB = 1_000_000
MiB = 2**20
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None

# Variables that would let a developer's own proxy or CA leak into a tool under test.
_LEAKY = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
    "WGETRC",
)


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k.upper() not in _LEAKY and not k.upper().startswith("ARCHIVER_")
    }
    env.update(extra)
    return env


# ------------------------------------------------------------------ timed processes


@dataclass
class Run:
    """One child process: what it cost and how it ended."""

    cmd: list[str]
    wall: float
    user: float
    sys: float
    maxrss_kb: int
    rc: int
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False

    @property
    def cpu(self) -> float:
        return self.user + self.sys

    @property
    def rss_mb(self) -> float:
        return self.maxrss_kb * 1024 / MB

    def check(self, what: str) -> Run:
        if self.rc != 0 or self.timed_out:
            tail = (self.stderr or self.stdout)[-2000:]
            why = "timed out" if self.timed_out else f"exit {self.rc}"
            raise RuntimeError(f"{what} failed ({why}): {' '.join(self.cmd)}\n{tail}")
        return self


def run_timed(
    cmd: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 3600,
    stdin: Path | None = None,
) -> Run:
    """Run ``cmd`` to completion; wall, CPU and peak RSS of exactly that process.

    Peak RSS comes from GNU time when it is installed: the kernel's maxrss of a child
    we fork ourselves also counts this (big) process's pages at the fork, so only a
    grandchild forked by a small process reports its own peak.
    """
    cmd = [str(c) for c in cmd]
    with contextlib.ExitStack() as files:
        out = files.enter_context(tempfile.TemporaryFile())
        err = files.enter_context(tempfile.TemporaryFile())
        feed = files.enter_context(open(stdin, "rb")) if stdin else subprocess.DEVNULL
        rss_file = Path(files.enter_context(tempfile.TemporaryDirectory())) / "rss"
        argv = [GNU_TIME, "-f", "%M", "-o", str(rss_file), *cmd] if GNU_TIME else cmd
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            env=env or clean_env(),
            cwd=cwd,
            stdin=feed,
            stdout=out,
            stderr=err,
            start_new_session=True,  # a timeout kills the tool with GNU time
        )
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.daemon = True
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(
            cmd=cmd,
            wall=wall,
            user=usage.ru_utime,
            sys=usage.ru_stime,
            maxrss_kb=_gnu_time_rss(rss_file) or usage.ru_maxrss,
            rc=proc.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            timed_out=killed.is_set(),
        )


def _gnu_time_rss(path: Path) -> int | None:
    """GNU time's %M (KB); its last line ("Command exited with non-zero status" may
    come first)."""
    try:
        return int(path.read_text().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return None


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float]) -> str:
    """min–max of the repeats, for the notes."""
    if len(values) < 2:
        return ""
    return f"{min(values):.3g}–{max(values):.3g}"


# ------------------------------------------------------------------ the fixture web


class FixtureWeb:
    """``python -m tests.web serve`` as a child process; stopped (SIGTERM) on exit."""

    def __init__(self, workdir: Path) -> None:
        self.ready = workdir / "web.json"
        self.log = workdir / "web.log"
        self.proc: subprocess.Popen | None = None
        self.proxy_url = ""
        self.ca_path = ""

    def __enter__(self) -> FixtureWeb:
        env = clean_env(PYTHONPATH=str(REPO))
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.web", "serve", "--ready-file", str(self.ready)],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while not self.ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"fixture web did not start; see {self.log}")
            time.sleep(0.05)
        info = json.loads(self.ready.read_text())
        self.proxy_url, self.ca_path = info["proxy_url"], info["ca_path"]
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __exit__(self, *exc) -> None:
        self.stop()

    def wget_args(self) -> list[str]:
        """wget through the fixture proxy, trusting only the fixture CA, no ~/.wgetrc."""
        return [
            "--no-config",
            "-e",
            "use_proxy=yes",
            "-e",
            f"http_proxy={self.proxy_url}",
            "-e",
            f"https_proxy={self.proxy_url}",
            f"--ca-certificate={self.ca_path}",
        ]


# ------------------------------------------------------------------ archives


def write_config(root: Path, web: FixtureWeb | None, **sections: dict[str, object]) -> Path:
    """root/config.toml: the defaults, fetching through the fixture web, with overrides."""
    from archiver import config

    overrides = {k: dict(v) for k, v in sections.items()}
    if web is not None:
        overrides.setdefault("capture", {}).update(proxy=web.proxy_url, ca_bundle=web.ca_path)
    root.mkdir(parents=True, exist_ok=True)
    path = root / config.CONFIG_NAME
    path.write_text(config.render_default_config(overrides), encoding="utf-8")
    return path


def init_archive(root: Path, web: FixtureWeb | None, **sections: dict[str, object]) -> Path:
    """An initialised archive at ``root`` (config, warcs/, manifests/, store)."""
    cfg = write_config(root, web, **sections)
    run_timed([BIN / "archive", "--config", cfg, "init", root]).check("archive init")
    return cfg


def archive_cmd(cfg: Path, *args: object) -> list[str]:
    return [str(BIN / "archive"), "--config", str(cfg), *map(str, args)]


def warc_paths(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.warc.gz") if p.is_file())


def total_size(paths: Sequence[Path]) -> int:
    return sum(p.stat().st_size for p in paths)


def warcio_check(paths: Sequence[Path]) -> tuple[bool, str]:
    """`warcio check` over the files; (passed, what it said when it did not)."""
    if not paths:
        return False, "no WARC files"
    r = run_timed([BIN / "warcio", "check", *paths], timeout=3600)
    return r.rc == 0, (r.stdout + r.stderr)[-500:]


@contextlib.contextmanager
def workdir(name: str, keep: bool = False) -> Iterator[Path]:
    """A scratch folder under bench/out/ (git-ignored), removed afterwards unless kept."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=OUT))
    try:
        yield path
    finally:
        if keep:
            print(f"  (kept {path})", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def tool_version(cmd: Sequence[str]) -> str:
    try:
        r = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    lines = (r.stdout or r.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


# ------------------------------------------------------------------ results


@dataclass
class Row:
    """One line of the table: a measured figure for the archiver and (maybe) its peer."""

    bench: str
    metric: str
    archiver: str
    peer: str = ""
    ratio: str = ""  # always "archiver / peer" unless the metric says otherwise
    goal: str = ""
    met: bool | None = None

    def cells(self) -> list[str]:
        verdict = {True: "met", False: "NOT met", None: ""}[self.met]
        return [self.bench, self.metric, self.archiver, self.peer, self.ratio, self.goal, verdict]


HEADER = ["bench", "metric", "archiver", "peer", "ratio", "goal", "verdict"]


@dataclass
class Result:
    """What one benchmark reports: rows for the table, the run's settings and notes."""

    name: str
    title: str
    command: str
    rows: list[Row] = field(default_factory=list)
    settings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    started: str = ""
    seconds: float = 0.0

    def add(self, metric: str, archiver: str, peer: str = "", ratio: str = "", goal: str = "",
            met: bool | None = None) -> None:  # fmt: skip
        self.rows.append(Row(self.name, metric, archiver, peer, ratio, goal, met))


def text_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [line.format(*header), line.format(*("-" * w for w in widths))]
    out += [line.format(*r) for r in rows]
    return "\n".join(out)


def markdown_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out)


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    return (
        f"{cpu}, {os.cpu_count()} cores{mem}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}"
    )


def fmt_s(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 100 else f"{seconds:.0f} s"


def ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")
