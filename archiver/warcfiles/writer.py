"""WARC files on disk: one gzip member per record, `.open` while written, rotated by size.

Several capture threads share one `WarcSink`. Each record is compressed into its own
gzip member outside the lock; the lock only covers appending the finished members of
one capture contiguously, so a capture's records sit together and workers never
interleave bytes. The file is flushed and fsync'd before the caller commits the
snapshot rows that point into it, and renamed from `.open` when closed.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from tempfile import SpooledTemporaryFile

from warcio.recordloader import ArcWarcRecord

from archiver.errors import WarcWriteError
from archiver.times import Clock, digits, now
from archiver.warcfiles.members import compress_record
from archiver.warcfiles.records import make_record_id, warcinfo_record

logger = logging.getLogger(__name__)

OPEN_SUFFIX = ".open"


@dataclass(frozen=True)
class RecordLoc:
    warc: str  # final file name, relative to the archive root
    offset: int
    length: int


@dataclass(frozen=True)
class ClosedWarc:
    warc: str
    size: int
    sha256: str
    records: int
    closed_at: datetime


class WarcSink:
    """The archive's current WARC file, shared by the capture threads of one process."""

    def __init__(
        self,
        *,
        root: Path,
        warcs_dir: Path,
        max_size: int,
        gzip_level: int = 6,
        on_close: Callable[[ClosedWarc], None] | None = None,
        clock: Clock = now,
        ids: Callable[[], str] = make_record_id,
        name_tag: str = "",
    ) -> None:
        self.root = root
        self.warcs_dir = warcs_dir
        self.max_size = max_size
        self.gzip_level = gzip_level
        self.on_close = on_close
        self.clock = clock
        self.ids = ids
        self.name_tag = name_tag
        self._lock = threading.Lock()
        self._f = None
        self._path: Path | None = None
        self._rel = ""  # self._path relative to the root, worked out once per file
        self._sha = hashlib.sha256()
        self._records = 0

    # ------------------------------------------------------------ files

    def _new_file(self) -> tuple[Path, int]:
        now = self.clock()
        folder = self.warcs_dir / now.strftime("%Y") / now.strftime("%m")
        folder.mkdir(parents=True, exist_ok=True)
        stamp = digits(now)
        tag = f"-{self.name_tag}" if self.name_tag else ""
        for serial in range(100000):
            path = folder / f"archive-{stamp}{tag}-{serial:05d}.warc.gz"
            if path.exists():
                continue
            try:  # O_EXCL: two processes never pick the same name
                fd = os.open(str(path) + OPEN_SUFFIX, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
            except FileExistsError:
                continue
            # locked at once: recovery skips files a live writer holds (and, for the
            # instant between create and flock, empty files that are seconds old)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return path, fd
        raise WarcWriteError(f"no free WARC file name in {folder}")

    def _open(self) -> None:
        self._path, fd = self._new_file()
        self._rel = self.rel(self._path)
        self._f = os.fdopen(fd, "r+b")  # the flock taken at creation stays with it
        self._sha = hashlib.sha256()
        self._records = 0
        info = warcinfo_record(
            self._path.name,
            date=self.clock(),
            record_id=self.ids(),
            info={"isPartOf": "archiver", "operator": os.environ.get("USER", "")},
        )
        self._append([compress_record(info, self.gzip_level)])
        self._sync(0, 0)
        logger.info("opened %s", self.rel(self._path))

    def rel(self, path: Path) -> str:
        return path.resolve().relative_to(self.root.resolve()).as_posix()

    def _append(self, members: list[SpooledTemporaryFile]) -> list[tuple[int, int]]:
        """Append finished gzip members, flushed to the OS (the caller fsyncs: `_sync`);
        on any OS error cut the file back, raise."""
        assert self._f is not None
        start = self._f.seek(0, os.SEEK_END)
        spans = []
        try:
            for m in members:
                offset = self._f.tell()
                while chunk := m.read(1 << 16):
                    self._f.write(chunk)
                    self._sha.update(chunk)
                spans.append((offset, self._f.tell() - offset))
            self._f.flush()
        except OSError as exc:
            self._cut(start, self._records, exc)
        self._records += len(members)
        return spans

    def _sync(self, start: int, records: int) -> None:
        """fsync the current file; on an OS error cut it back to ``start`` (where the
        unsynced records began, ``records`` before them) and raise."""
        assert self._f is not None
        try:
            os.fsync(self._f.fileno())
        except OSError as exc:
            self._cut(start, records, exc)

    def _cut(self, start: int, records: int, exc: OSError):
        assert self._f is not None
        self._f.truncate(start)
        self._f.flush()
        self._sha = _rehash(self._f, start)
        self._records = records
        what = "disk full" if exc.errno == errno.ENOSPC else exc.strerror
        raise WarcWriteError(f"cannot write {self.rel(self._path)}.open: {what}") from exc

    # ------------------------------------------------------------ public

    def write(self, records: list[ArcWarcRecord]) -> list[RecordLoc]:
        """Write records contiguously, fsync'd when this returns; where each one landed."""
        return self.append([self.compress(records)])

    def compress(self, records: list[ArcWarcRecord]) -> list[SpooledTemporaryFile]:
        """Each record as its finished gzip member (no lock; for `append`)."""
        return [compress_record(r, self.gzip_level) for r in records]

    def append(self, groups: list[list[SpooledTemporaryFile]]) -> list[RecordLoc]:
        """Append groups of finished members (`compress`), in order, each group contiguous;
        where each member landed. The file rotates between groups as it would between
        `write` calls; everything is fsync'd when this returns (one fsync per file, not one
        per group). The members are closed after."""
        locs: list[RecordLoc] = []
        try:
            with self._lock:
                start = records = None  # where this call's unsynced records begin
                for group in groups:
                    if self._f is None:
                        self._open()
                    if start is None:
                        start = self._f.seek(0, os.SEEK_END)
                        records = self._records
                    spans = self._append(group)
                    locs += [RecordLoc(self._rel, off, length) for off, length in spans]
                    if self._f.tell() >= self.max_size:
                        self._close_locked()  # fsyncs the file it closes
                        start = None
                if start is not None:
                    self._sync(start, records)
            return locs
        finally:
            for group in groups:
                for m in group:
                    m.close()

    def _close_locked(self) -> None:
        if self._f is None:
            return
        f, path = self._f, self._path
        self._f = None
        try:
            size = f.seek(0, os.SEEK_END)
            f.flush()
            os.fsync(f.fileno())
            closed = ClosedWarc(
                self.rel(path), size, self._sha.hexdigest(), self._records, self.clock()
            )
            # recorded first, renamed after (still under our lock): a file renamed but
            # never recorded (the store or the ledger failed, e.g. on a full disk) would
            # fail `archive verify` for good, while a `.open` file is recovered and
            # recorded by the next run
            if self.on_close:
                self.on_close(closed)
        finally:
            f.close()
        os.replace(str(path) + OPEN_SUFFIX, path)
        fsync_dir(path.parent)
        logger.info("closed %s (%d bytes, %d records)", closed.warc, size, closed.records)

    def close(self) -> None:
        with self._lock:
            self._close_locked()


def _rehash(f, upto: int):
    sha = hashlib.sha256()
    f.seek(0)
    remaining = upto
    while remaining > 0:
        chunk = f.read(min(1 << 16, remaining))
        if not chunk:
            break
        sha.update(chunk)
        remaining -= len(chunk)
    f.seek(0, os.SEEK_END)
    return sha


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
