"""`archive index`: warcs/index.cdxj, the sorted CDXJ index that replay tools read.

Lines come from cdxj-indexer (pywb's own indexer): ``<surt> <timestamp> {json}``, with
``filename`` relative to warcs/ so pywb finds the file under its ``archive_paths``.
Only records a replay should serve are indexed — response, revisit and resource.
Request records are never indexed (pywb #501: a request record in the replay index is
served instead of the page), nor metadata records: ours carry the page's own URL as
WARC-Target-URI, and a lookup could land on the JSON instead of the page.

Incremental: ``warcs/.index-state.json`` names every WARC file already indexed with
its size and mtime. `index_closed` indexes only closed files not named there and
merges their lines into the sorted index; a file that changed or vanished makes it
rebuild from scratch. `.open` files are never indexed. Call `index_closed` after WARC
files close (`archive index`, `archive replay`; a `WarcSink.on_close` hook could too).
"""

from __future__ import annotations

import contextlib
import fcntl
import heapq
import io
import json
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from archiver.tempfiles import create_beside
from archiver.warcfiles.listing import closed_warcs


@contextlib.contextmanager
def _no_pkg_resources() -> Iterator[None]:
    """Importing cdxj-indexer imports pyamf (for AMF request bodies), which imports
    pkg_resources only to find its own folder and uses ``__file__`` when that import
    fails. pkg_resources scans every installed distribution first: ~0.1 s CPU of every
    `archive` command's start-up. Its import fails here, and only here: a later
    ``import pkg_resources`` elsewhere loads it as usual."""
    if "pkg_resources" in sys.modules:
        yield
        return
    sys.modules["pkg_resources"] = None  # type: ignore[assignment]  # ImportError
    try:
        yield
    finally:
        if sys.modules.get("pkg_resources", 0) is None:
            del sys.modules["pkg_resources"]


with _no_pkg_resources():
    from cdxj_indexer.main import CDXJIndexer

INDEX_NAME = "index.cdxj"
STATE_NAME = ".index-state.json"
LOCK_NAME = ".index.lock"
REPLAY_RECORDS = "response,revisit,resource"


@dataclass(frozen=True)
class IndexReport:
    index: Path
    added: tuple[str, ...]  # files indexed this run, relative to warcs/
    files: int  # files in the index now
    lines: int  # lines added this run
    rebuilt: bool

    def line(self) -> str:
        how = "rebuilt" if self.rebuilt else "updated"
        if not self.added and not self.rebuilt:
            return f"{self.index}: up to date ({self.files} WARC files)"
        return (
            f"{self.index}: {how}, {len(self.added)} new WARC files, {self.lines} lines added "
            f"({self.files} WARC files indexed)"
        )


def index_warc(path: Path, filename: str) -> list[str]:
    """CDXJ lines (unsorted, newline-terminated) of one WARC, naming it ``filename``."""
    out = io.StringIO()
    CDXJIndexer(out, [str(path)], records=REPLAY_RECORDS, filename=filename).process_all()
    return [line for line in out.getvalue().splitlines(keepends=True) if line.strip()]


def sorted_unique(lines: Iterable[str]) -> Iterator[str]:
    """Drop a line equal to the one before it (inputs already sorted)."""
    last = None
    for line in lines:
        if line != last:
            yield line
        last = line


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _read_state(path: Path) -> dict[str, list[int]]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    return files if isinstance(files, dict) else {}


def _replace(path: Path, lines: Iterable[str]) -> None:
    """Write via a temp file in the same folder + fsync + os.replace."""
    fd, tmp = create_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.writelines(lines)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _locked(warcs: Path) -> Iterator[None]:
    with open(warcs / LOCK_NAME, "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _merge(index: Path, new_lines: list[str], keep: bool) -> None:
    if not keep or not index.exists():
        _replace(index, sorted_unique(new_lines))
        return
    with open(index, encoding="utf-8", newline="") as old:
        _replace(index, sorted_unique(heapq.merge(old, new_lines)))


def update_index(warcs: Path) -> IndexReport:
    """Bring warcs/index.cdxj up to date with the closed WARC files under ``warcs``."""
    warcs.mkdir(parents=True, exist_ok=True)
    index, state_path = warcs / INDEX_NAME, warcs / STATE_NAME
    with _locked(warcs):
        files = closed_warcs(warcs)
        stamps = {rel: _stamp(path) for rel, path in files.items()}
        state = _read_state(state_path)
        rebuilt = not index.exists() or any(stamps.get(rel) != v for rel, v in state.items())
        known = {} if rebuilt else state
        added = sorted(rel for rel in files if rel not in known)
        lines = sorted(line for rel in added for line in index_warc(files[rel], rel))
        _merge(index, lines, keep=not rebuilt)
        done = {rel: stamps[rel] for rel in [*known, *added]}
        _replace(state_path, [json.dumps({"files": done}, indent=1, sort_keys=True) + "\n"])
    return IndexReport(index, tuple(added), len(done), len(lines), rebuilt)


def index_closed(app) -> IndexReport:
    """The hook to call after WARC files close: index those not indexed yet."""
    return update_index(app.settings.warcs_path)
