"""Crash safety: `kill -9` mid-capture and a full disk never lose a committed snapshot.

- A loop (slow) SIGKILLs `archive capture` at random moments (seeded, printed; set
  ARCHIVER_CRASH_SEED to replay a run); after each kill the next run's recovery must keep
  every snapshot the store had committed, readable, and `archive verify` must pass.
- The same at chosen points (fast): half a gzip member written, a WARC written but its
  row not committed, between the row and its ledger line, while a WARC file is closed.
- A full disk: the writer's file raises ENOSPC at a chosen byte (patched), and a real
  small tmpfs when this machine lets us mount one: one clear error line, only whole
  records on disk, the next run recovers, `archive verify` passes.
"""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from archiver.cli import cli
from archiver.errors import ArchiveWriteError
from archiver.ledger import chain as ledger_module
from archiver.manifest.verify import verify
from archiver.runs.add import add_sources
from archiver.runs.capture import capture_pending, recover
from archiver.store import schema as t
from archiver.warcfiles import writer as warc_module
from archiver.warcfiles.recover import complete_prefix
from archiver.warcfiles.writer import OPEN_SUFFIX

from .conftest import make_archive
from .fault_tools import archive_problems, snapshot_rows, unreadable

ARCHIVE = str(Path(sys.executable).parent / "archive")

URLS = [
    "https://cases.test/ok",
    "https://cases.test/page-with-requisites",
    "https://cases.test/gzip-chunked",
    "https://cases.test/chunked",
    "https://cases.test/redirect/3",
    "https://cases.test/delay?ms=400",
    "https://cases.test/delay?ms=700",
    "https://cases.test/404",
    "https://cases.test/big?size=3000000",
    "https://www.bbc.com/russian/news-45188838",
    "https://t.me/PlushevChannel/2850",
    *(f"https://faults.test/noise?size={n}&seed={n}" for n in (300_000, 900_000, 1_500_000)),
    "https://faults.test/ok",
]


def _env() -> dict[str, str]:
    """The subprocess's environment: the archive's config names the fixture proxy and CA."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith("ARCHIVER_") and "PROXY" not in k.upper()
    }


def _archive(tmp_path: Path, web, **capture):
    settings = {"workers": 2, "per_host_delay": "0s", "warc_max_size": 2_000_000, **capture}
    app = make_archive(tmp_path / "a", web, capture=settings)
    article = tmp_path / "article.txt"
    article.write_text("Crash test\n\n" + "\n".join(URLS) + "\n", encoding="utf-8")
    report = add_sources(app, [str(article)], capture=False)
    assert not report.errors
    return app


def _all_due(app) -> None:
    """Every target due again, and no claim left by a killed worker (as if leases ran out)."""
    with app.store.tx() as conn:
        conn.execute(
            update(t.target).values(
                recapture=True, next_capture_at=None, claimed_by=None, claimed_until=None
            )
        )


def _cli(app, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    config = str(app.root / "config.toml")
    return subprocess.run(
        [ARCHIVE, "--config", config, *args],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _after_restart(app) -> tuple[dict, list[str]]:
    """What the next run does first (recover), then what `archive verify` says."""
    recover(app)
    return snapshot_rows(app), [str(p) for p in verify(app).problems]


def _lost(committed: dict, after: dict, app) -> list[str]:
    gone = [f"snapshot {i} deleted" for i in committed if i not in after]
    return gone + unreadable(app, [after[i] for i in committed if i in after])


# ---------------------------------------------------------------- random kills


def _archive_run(app, *args: str) -> subprocess.Popen:
    """`archive ARGS` on the archive, started and not waited for."""
    return subprocess.Popen(
        [ARCHIVE, "--config", str(app.root / "config.toml"), *args],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for_writing(app, proc, limit: float = 30.0) -> None:
    """Until the capture has a WARC file open (or has ended)."""
    end = time.monotonic() + limit
    while proc.poll() is None and time.monotonic() < end:
        if any(app.settings.warcs_path.rglob("*.open")):
            return
        time.sleep(0.02)


@pytest.mark.slow
def test_kill_nine_at_random_moments(web, tmp_path, figures):
    seed = int(os.environ.get("ARCHIVER_CRASH_SEED") or time.time_ns() % 1_000_000)
    print(f"crash loop seed: {seed} (ARCHIVER_CRASH_SEED={seed} replays it)")
    rng = random.Random(seed)
    app = _archive(tmp_path, web)
    kills = finished = checked = written = 0
    lost: list[str] = []
    problems: list[str] = []
    try:
        # the kills fall inside a run as long as this machine makes it: one whole run
        # first, timed from its launch and from its first WARC write (a fixed window
        # let most runs finish before their kill once capture got faster)
        _all_due(app)
        proc = _archive_run(app, "capture")
        launched = time.monotonic()
        _wait_for_writing(app, proc)
        writing = time.monotonic()
        assert proc.wait(300) == 0
        ended = time.monotonic()
        span_writing, span_launch = ended - writing, ended - launched
        print(f"crash loop: a whole run takes {span_launch:.2f}s, {span_writing:.2f}s of it "
              "after the first WARC write")  # fmt: skip
        for i in range(20):
            _all_due(app)
            before = snapshot_rows(app)
            proc = _archive_run(app, "capture")
            # most kills are timed from the first WARC write, so a start-up slowed by a
            # loaded machine does not eat the window; one in four from the launch itself
            if rng.random() < 0.75:
                delay = rng.uniform(0.05, 0.9 * span_writing)
                _wait_for_writing(app, proc)
            else:
                delay = rng.uniform(0.1, 0.9 * span_launch)
            try:
                proc.wait(delay)
                finished += 1
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
            committed = snapshot_rows(app)
            after, found = _after_restart(app)
            written += len(committed) - len(before)
            checked += len(committed)
            when = f"kill {i} after {delay:.2f}s"
            lost += [f"{when}: {what}" for what in _lost(committed, after, app)]
            problems += [f"{when}: {p}" for p in found]
        _all_due(app)
        done = _cli(app, "capture")
        assert done.returncode == 0, done.stderr
        checked_out = _cli(app, "verify")
        assert checked_out.returncode == 0, checked_out.stdout + checked_out.stderr
        final, _ = archive_problems(app)
        print(f"crash loop: {kills} kills, {finished} runs ended before their kill, "
              f"{written} snapshots committed by killed runs, {checked} checked after the "
              f"kills, {len(lost)} lost")  # fmt: skip
        assert kills >= 10, "most runs should have been killed mid-way"
        assert written, "no kill landed after a capture had been committed"
        assert not lost, lost
        assert not problems, problems
        assert not final, final
    finally:
        figures.crash(kills=kills, lost=len(lost), checked=checked)
        app.close()


def _pair_counts(app) -> dict[str, dict[str, int]]:
    return verify(app).as_dict()["ledger_pairs"]


def _wait_for_rows(app, proc, table, limit: float = 30.0) -> None:
    """Until the run has committed its first row of ``table`` (or has ended)."""
    start = _rows(app, table)
    end = time.monotonic() + limit
    while proc.poll() is None and time.monotonic() < end and _rows(app, table) == start:
        time.sleep(0.02)


def _rows(app, table) -> int:
    with app.store.read() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _killed_run(app, rng, *args: str) -> bool:
    """Run `archive ARGS`, SIGKILLed at a random moment; True if it was killed. Most
    kills are timed from the run's first committed row, so a start-up slowed by a loaded
    machine does not eat the window; one in four from the launch itself."""
    proc = _archive_run(app, *args)
    delay = rng.uniform(0.0, 1.5)
    if rng.random() < 0.75:
        _wait_for_rows(app, proc, t.check if args[0] == "check" else t.snapshot)
    else:
        delay += 1.0
    try:
        proc.wait(delay)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True


ROUNDS_MAX = 60  # of the pairs crash loop: ends once 20 rounds ran and 20 runs were killed


@pytest.mark.slow
def test_kill_nine_during_check_and_capture_leaves_every_row_with_its_line(web, tmp_path):
    """Issue #22: `archive check --all` and `archive capture` killed at random moments,
    at least 20 rounds of each and until 20 runs were killed mid-way (a run that ends
    before its moment is not a kill: a faster archiver needs more rounds); after each
    restart verify passes and rows equal lines, per kind."""
    seed = int(os.environ.get("ARCHIVER_CRASH_SEED") or time.time_ns() % 1_000_000)
    print(f"pairs crash loop seed: {seed} (ARCHIVER_CRASH_SEED={seed} replays it)")
    rng = random.Random(seed)
    app = _archive(tmp_path, web)
    problems: list[str] = []
    kills = recovered = 0
    try:
        assert _cli(app, "capture").returncode == 0
        for i in range(ROUNDS_MAX):
            if i >= 20 and kills >= 20:
                break
            for args in (("check", "--all"), ("capture",)):
                if args == ("capture",):
                    _all_due(app)
                else:  # a killed check's claims are not waited out
                    with app.store.tx() as conn:
                        conn.execute(update(t.target).values(claimed_by=None, claimed_until=None))
                lines_before = sum(1 for _ in ledger_module.Ledger(_ledger_path(app)).lines())
                kills += _killed_run(app, rng, *args)
                unpaired = _unpaired(app)
                recover(app)  # what the next start does first
                after = sum(1 for _ in ledger_module.Ledger(_ledger_path(app)).lines())
                recovered += unpaired
                assert after >= lines_before
                when = f"kill {i} of {' '.join(args)}"
                problems += [f"{when}: {p}" for p in verify(app).problems]
                counts = _pair_counts(app)
                problems += [
                    f"{when}: {kind}: {c['rows']} rows, {c['lines']} lines"
                    for kind, c in counts.items()
                    if c["rows"] != c["lines"] and kind not in ("review", "warc-closed")
                ]
        print(f"pairs crash loop: {kills} kills, {recovered} rows recovered, {counts}")
        assert kills >= 20, "most runs should have been killed mid-way"
        assert counts["check"]["rows"] > 0 and counts["snapshot"]["rows"] > 0
        assert not problems, problems
        assert _cli(app, "verify").returncode == 0
    finally:
        app.close()


def _ledger_path(app) -> Path:
    return app.settings.manifests_path / "ledger.jsonl"


def _unpaired(app) -> int:
    """Committed rows whose seq is past the ledger's last line (their line not written)."""
    head = sum(1 for _ in ledger_module.Ledger(_ledger_path(app)).lines())
    with app.store.read() as conn:
        return sum(
            conn.execute(
                select(func.count()).select_from(table).where(table.c.ledger_seq > head)
            ).scalar_one()
            for table in (t.snapshot, t.check, t.review, t.warc_file)
        )


# ---------------------------------------------------------------- kills at chosen points

CRASH_AT = r"""
import os, sys
point, config = sys.argv[1], sys.argv[2]


def die():
    os._exit(137)


if point.startswith("ledger-"):
    from archiver.ledger import chain as ledger

    # a line is added after its row was committed and written when the batch ends:
    # dying here leaves the committed row without its line (issue #22)
    real_add = ledger.LedgerBatch.add
    wanted = point.removeprefix("ledger-")

    def add(self, event, **fields):
        if event == wanted:
            die()
        return real_add(self, event, **fields)

    ledger.LedgerBatch.add = add
elif point == "half-a-record":
    from archiver.warcfiles import writer as warc

    real = warc.WarcSink._append
    calls = [0]

    def _append(self, members):
        calls[0] += 1
        if calls[0] == 3:  # warcinfo, one capture's records, then this one: cut in half
            data = members[0].read()
            self._f.seek(0, os.SEEK_END)
            self._f.write(data[: len(data) // 2])
            self._f.flush()
            os.fsync(self._f.fileno())
            die()
        return real(self, members)

    warc.WarcSink._append = _append
elif point in ("before-commit", "after-commit"):
    from archiver.store.captures import CapturesMixin

    real_record = CapturesMixin.record_captures

    def record_captures(self, *args, **kwargs):
        if point == "before-commit":
            die()
        ids = real_record(self, *args, **kwargs)
        die()
        return ids

    CapturesMixin.record_captures = record_captures
from archiver.cli import main

command = ["check", "--all"] if point == "ledger-check" else ["capture"]
sys.argv = ["archive", "--config", config, *command]
main()
"""

POINTS = ["half-a-record", "before-commit", "after-commit", "ledger-snapshot",
          "ledger-warc-closed", "ledger-check"]  # fmt: skip


@pytest.mark.parametrize("point", POINTS)
def test_kill_at_a_chosen_point(point, web, tmp_path, figures):
    app = _archive(tmp_path, web, warc_max_size=150_000, workers=1)
    lost: list[str] = []
    try:
        first = app.store.target_ids_for_articles(app.store.article_ids())[:4]
        capture_pending(app, target_ids=first)
        _all_due(app)
        before = snapshot_rows(app)
        crashed = subprocess.run(
            [sys.executable, "-c", CRASH_AT, point, str(app.root / "config.toml")],
            env=_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert crashed.returncode == 137, f"never reached {point}: {crashed.stderr[-2000:]}"
        committed = snapshot_rows(app)
        assert set(before) <= set(committed)
        unpaired = _unpaired(app)
        if point.startswith("ledger-"):  # killed between a commit and its lines
            assert unpaired, "the kill left every row with its line"
        after, problems = _after_restart(app)
        lost = _lost(committed, after, app)
        assert not lost, lost
        assert not problems, problems
        pairs = _pair_counts(app)
        assert pairs["snapshot"]["rows"] == pairs["snapshot"]["lines"], pairs
        assert pairs["check"]["rows"] == pairs["check"]["lines"], pairs
        assert pairs["check"]["rows"] or point != "ledger-check"
        _all_due(app)
        assert _cli(app, "capture").returncode == 0
        result = _cli(app, "verify")
        assert result.returncode == 0, result.stdout + result.stderr
        assert not unreadable(app, snapshot_rows(app).values())
    finally:
        figures.crash(kills=1, lost=len(lost), checked=len(snapshot_rows(app)))
        app.close()


# ---------------------------------------------------------------- a full disk


class _FillingFile:
    """A WARC file object on a disk with ``room`` bytes left: a write past it stores what
    fits and raises ENOSPC, as write(2) does."""

    def __init__(self, f, room: list[int]) -> None:
        self._f = f
        self._room = room

    def write(self, data) -> int:
        fits = min(len(data), self._room[0])
        self._room[0] -= fits
        if fits:
            self._f.write(bytes(data[:fits]))
        if fits < len(data):
            self._f.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return fits

    def __getattr__(self, name):
        return getattr(self._f, name)


def _fill_disk_after(monkeypatch, room: int) -> list[int]:
    left = [room]
    real_open = warc_module.WarcSink._open

    def _open(self):
        real_open(self)
        self._f = _FillingFile(self._f, left)

    monkeypatch.setattr(warc_module.WarcSink, "_open", _open)
    return left


def _one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.output
    return errors[0]


def _whole_files(app) -> list[str]:
    """Every WARC on disk, `.open` or closed, holds whole records and nothing else."""
    bad = []
    for path in app.settings.warcs_path.rglob("*.warc.gz*"):
        if path.name.endswith((".warc.gz", ".warc.gz" + OPEN_SUFFIX)):
            kept, _ = complete_prefix(path)
            if kept != path.stat().st_size:
                bad.append(f"{path.name}: {path.stat().st_size - kept} bytes past the last record")
    return bad


def _past_the_end(app) -> list[str]:
    bad = []
    for row in snapshot_rows(app).values():
        path = app.root / row.warc
        if not path.exists():
            path = Path(str(path) + OPEN_SUFFIX)
        if not path.exists() or row.offset + row.length > path.stat().st_size:
            bad.append(f"snapshot {row.id} points past the end of {row.warc}")
    return bad


@pytest.mark.parametrize("room", [40_000, 700_000, 2_500_000])
def test_disk_full_while_writing_a_warc(room, web, tmp_path, monkeypatch, figures):
    app = _archive(tmp_path, web)
    lost = 1
    try:
        _fill_disk_after(monkeypatch, room)
        result = CliRunner().invoke(cli, ["--config", str(app.root / "config.toml"), "capture"])
        assert result.exit_code == 7, result.output
        line = _one_error_line(result)
        assert line.startswith("Error: cannot write warcs/") and line.endswith(": disk full")
        assert not _whole_files(app)
        assert not _past_the_end(app)
        committed = snapshot_rows(app)
        monkeypatch.undo()  # space is freed
        _all_due(app)
        summary = capture_pending(app)
        assert summary.attempted
        assert {url for url, _ in summary.failures} <= {"https://cases.test/404"}
        lost = len(_lost(committed, snapshot_rows(app), app))
        problems, _ = archive_problems(app)
        assert not problems, problems
        assert lost == 0
    finally:
        figures.disk_full(lost=lost)
        app.close()


class _FullDiskOs:
    """``os`` for the ledger module on a disk that fills up once ``left[0]`` hits 0: the
    next write stores half its bytes, the one after raises ENOSPC."""

    def __init__(self, left: list[int]) -> None:
        self.left = left
        self.short = False

    def write(self, fd, data) -> int:
        if self.left[0] > 0:
            return os.write(fd, data)
        if not self.short:
            self.short = True
            return os.write(fd, bytes(data[: max(1, len(data) // 2)]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(os, name)


def test_ledger_never_keeps_half_a_line(tmp_path, monkeypatch):
    ledger = ledger_module.Ledger(tmp_path / "ledger.jsonl")
    ledger.append("snapshot", record_id="<urn:uuid:1>")
    before = ledger.path.read_bytes()
    monkeypatch.setattr(ledger_module, "os", _FullDiskOs([0]))
    with pytest.raises(ArchiveWriteError, match=r"^cannot append to ledger.jsonl: disk full$"):
        ledger.append("snapshot", record_id="<urn:uuid:2>")
    assert ledger.path.read_bytes() == before  # the half line was cut off again
    monkeypatch.undo()
    ledger.append("snapshot", record_id="<urn:uuid:3>")
    assert not ledger.breaks()


def test_disk_full_for_the_ledger_too_leaves_the_warc_open_for_recovery(
    web, tmp_path, monkeypatch, figures
):
    """The WARC writer fails, then closing the file cannot record it either (the ledger is
    on the same full disk): the file stays `.open`, whole, and the next run recovers it."""
    app = _archive(tmp_path, web)
    lost = 1
    try:
        left = _fill_disk_after(monkeypatch, 600_000)
        monkeypatch.setattr(ledger_module, "os", _FullDiskOs(left))
        result = CliRunner().invoke(cli, ["--config", str(app.root / "config.toml"), "capture"])
        assert result.exit_code == 7, result.output
        assert _one_error_line(result).endswith(": disk full")
        assert list(app.settings.warcs_path.rglob("*" + OPEN_SUFFIX)), "left for recovery"
        assert not _whole_files(app)
        assert not _past_the_end(app)
        assert not ledger_module.Ledger(app.settings.manifests_path / "ledger.jsonl").breaks()
        committed = snapshot_rows(app)
        monkeypatch.undo()  # space is freed
        _all_due(app)
        capture_pending(app)  # recovers the .open file first
        assert not list(app.settings.warcs_path.rglob("*" + OPEN_SUFFIX))
        lost = len(_lost(committed, snapshot_rows(app), app))
        problems, _ = archive_problems(app)
        assert not problems, problems
        assert lost == 0
    finally:
        figures.disk_full(lost=lost)
        app.close()


# ---------------------------------------------------------------- a real full disk


def _mount_tmpfs(where: Path, size: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot mount a small tmpfs here: {exc}")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")


def _umount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)


@pytest.mark.parametrize("what", ["warcs", "archive"])
def test_a_real_full_disk(what, web, tmp_path, figures):
    """A tmpfs of 700 KB holds the WARC folder (or the whole archive: store, ledger,
    manifests too); 12 pages of incompressible 100 KB fill it."""
    root = tmp_path / "a"
    mount = root / "warcs" if what == "warcs" else root
    _mount_tmpfs(mount, "700k")
    lost = 1
    try:
        settings = {"workers": 1, "requisites": False, "per_host_delay": "0s", "gzip_level": 1}
        app = make_archive(root, web, capture=settings)
        urls = [f"https://faults.test/noise?size=100000&seed={i}" for i in range(12)]
        article = tmp_path / "noise.txt"
        article.write_text("Noise\n\n" + "\n".join(urls) + "\n", encoding="utf-8")
        assert not add_sources(app, [str(article)], capture=False).errors
        app.close()
        result = _cli(app, "capture")
        assert result.returncode != 0, result.stdout
        line = [x for x in result.stderr.splitlines() if x.startswith("Error: ")]
        assert len(line) == 1 and "Traceback" not in result.stderr, result.stderr
        if what == "warcs":
            assert result.returncode == 7 and line[0].endswith(": disk full"), line
        assert not _whole_files(app)
        assert not _past_the_end(app)
        committed = snapshot_rows(app)
        subprocess.run(["mount", "-o", "remount,size=16m", str(mount)], check=True)
        _all_due(app)
        assert _cli(app, "capture").returncode == 0
        result = _cli(app, "verify")
        assert result.returncode == 0, result.stdout + result.stderr
        lost = len(_lost(committed, snapshot_rows(app), app))
        assert lost == 0
        assert not unreadable(app, snapshot_rows(app).values())
        app.close()
    finally:
        figures.disk_full(lost=lost)
        _umount(mount)


def _dead_pid() -> int:
    """A pid no process has (a child that ended)."""
    proc = subprocess.Popen([sys.executable, "-c", ""])
    proc.wait()
    return proc.pid


def test_an_empty_open_file_of_a_dead_writer_is_cleared_at_once(archive):
    """A run killed between creating a WARC file and writing its first record leaves it
    empty; recovery used to pass over every empty file under a minute old (a live writer
    may be between O_CREAT and flock), so the next runs left it open. A file named with
    this host's tag and a pid no process has is a dead writer's: cleared now."""
    from archiver.runs.capture import file_tag
    from archiver.workers import worker_id

    host = file_tag(worker_id().rsplit(":", 1)[0])
    folder = archive.settings.warcs_path / "2026" / "12"
    folder.mkdir(parents=True, exist_ok=True)
    dead = folder / f"archive-20261206091606-{host}_{_dead_pid()}-00000.warc.gz{OPEN_SUFFIX}"
    mine = folder / f"archive-20261206091606-{host}_{os.getpid()}-00001.warc.gz{OPEN_SUFFIX}"
    named = folder / f"archive-20261206091606-scraper-2-00002.warc.gz{OPEN_SUFFIX}"
    for path in (dead, mine, named):
        path.touch()
    recover(archive)
    assert not dead.exists()  # empty: unlinked, nothing to keep
    assert mine.exists() and named.exists()  # a live writer's, or one we cannot tell
