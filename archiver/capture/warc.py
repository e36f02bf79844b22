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
import functools
import hashlib
import logging
import os
import shutil
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from tempfile import SpooledTemporaryFile

from warcio.recordloader import ArcWarcRecord
from warcio.warcwriter import WARCWriter

from archiver.capture.records import make_record_id, warcinfo_record
from archiver.errors import WarcWriteError

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


class _GzipMember:
    """A file-like that compresses everything written into one gzip member."""

    def __init__(self, out, level: int) -> None:
        self._z = zlib.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        self._out = out

    def write(self, data) -> None:
        self._out.write(self._z.compress(data))

    def flush(self) -> None:  # warcio flushes at the end of a record; finish() ends it
        pass

    def finish(self) -> None:
        self._out.write(self._z.flush())


@functools.cache
def _gzip_header(level: int) -> bytes:
    """The 10 header bytes zlib writes for a gzip member at ``level`` (XFL depends on it)."""
    z = zlib.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    return (z.compress(b"") + z.flush())[:10]


class _StoredMember(_GzipMember):
    """One gzip member of stored (uncompressed) deflate blocks.

    zlib would mark a level-0 member's header (XFL) differently; the header written here
    is the one of the file's other members, so every member of a file keeps the same
    10 header bytes (`archive verify` points at a member whose header differs).
    """

    def __init__(self, out, level: int) -> None:
        self._z = zlib.compressobj(0, zlib.DEFLATED, -zlib.MAX_WBITS)
        self._out = out
        self._crc = 0
        self._size = 0
        out.write(_gzip_header(level))

    def write(self, data) -> None:
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        self._out.write(self._z.compress(data))

    def finish(self) -> None:
        trailer = struct.pack("<II", self._crc & 0xFFFFFFFF, self._size & 0xFFFFFFFF)
        self._out.write(self._z.flush() + trailer)


# Bodies that are compressed already (JPEG, PNG, video, fonts, archives, a gzip or br
# content coding): deflating them again costs ~20 ms of CPU per MB and saves under 1 %,
# so their records are stored in their gzip member, not compressed. A large body of any
# other type is stored when a sample of it does not compress.
_PACKED_TYPES = frozenset(
    {
        "image/jpeg",
        "image/pjpeg",
        "image/png",
        "image/apng",
        "image/gif",
        "image/webp",
        "image/avif",
        "image/heic",
        "image/heif",
        "image/jxl",
        "font/woff",
        "font/woff2",
        "application/font-woff",
        "application/font-woff2",
        "application/zip",
        "application/gzip",
        "application/x-gzip",
        "application/x-bzip2",
        "application/x-xz",
        "application/x-7z-compressed",
        "application/vnd.rar",
        "application/x-rar-compressed",
        "application/zstd",
        "application/epub+zip",
        "audio/mpeg",
        "audio/mp4",
        "audio/aac",
        "audio/ogg",
        "audio/opus",
        "audio/webm",
        "audio/flac",
    }
)
_PACKED_CODINGS = frozenset({"gzip", "x-gzip", "br", "zstd", "deflate", "compress"})
_HEAD_PEEK = 16 * 1024
_SAMPLE_FROM = 1 << 20  # bodies at least this long, of a type not listed, are sampled
_SAMPLE = 256 * 1024


def _packed_by_headers(head: bytes) -> bool:
    """Does this HTTP response head announce a compressed body?"""
    end = head.find(b"\r\n\r\n")
    if end < 0:
        return False
    for line in head[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-type":
            ctype = value.split(b";")[0].strip().lower().decode("latin-1")
            if ctype in _PACKED_TYPES or ctype.startswith("video/"):
                return True
        elif name == b"content-encoding":
            codings = {c.strip().lower().decode("latin-1") for c in value.split(b",")}
            if codings & _PACKED_CODINGS:
                return True
    return False


def stored(record: ArcWarcRecord) -> bool:
    """Write this record's gzip member without compressing (its body is compressed)?"""
    stream = record.raw_stream
    if record.rec_type != "response" or not stream.seekable():
        return False
    start = stream.tell()
    try:
        if _packed_by_headers(stream.read(_HEAD_PEEK)):
            return True
        if (record.length or 0) < _SAMPLE_FROM:
            return False
        stream.seek(start)
        sample = stream.read(_SAMPLE)
        return len(zlib.compress(sample, 1)) > 0.97 * len(sample)
    finally:
        stream.seek(start)


def compress_record(record: ArcWarcRecord, level: int) -> SpooledTemporaryFile:
    """One record → one gzip member, in a spooled temp file positioned at 0."""
    buf = SpooledTemporaryFile(max_size=1 << 20)  # noqa: SIM115 - returned to the caller
    member = (_StoredMember if stored(record) else _GzipMember)(buf, level)
    WARCWriter(member, gzip=False, warc_version="1.1").write_record(record)
    member.finish()
    buf.seek(0)
    return buf


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
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
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
        stamp = now.strftime("%Y%m%d%H%M%S")
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
        _fsync_dir(path.parent)
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


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- recovery


@dataclass(frozen=True)
class Recovered:
    warc: Path  # the closed name (the file is renamed to it after ``record`` ran)
    kept: int
    dropped: int
    records: int
    sha256: str = ""  # of the kept bytes


def complete_prefix(path: Path) -> tuple[int, int]:
    """(bytes, records) of the longest run of whole, readable records from the start.

    Each gzip member must inflate to its end with a valid CRC and hold one record:
    warcio alone reads a truncated member as a short record (warcio #138).
    """
    from archiver.manifest.warcscan import MemberError, read_member

    size = path.stat().st_size
    good_end, records = 0, 0
    with open(path, "rb") as f:
        while good_end < size:
            try:
                facts = read_member(f, good_end)
            except MemberError as exc:
                logger.warning("%s: unreadable after %d bytes: %s", path, good_end, exc)
                break
            if facts.problems:
                logger.warning("%s: damaged record at %d: %s", path, good_end, facts.problems)
                break
            good_end += facts.length
            records += 1
    return good_end, records


def recover_open_file(
    open_path: Path, record: Callable[[Recovered], None] | None = None
) -> Recovered:
    """Cut a `.open` file after its last complete record, record it, rename it closed.

    ``record`` runs before the rename, for the reason `WarcSink` records before renaming:
    if it fails, the file is still `.open` and the next run recovers it again.
    """
    final = Path(str(open_path)[: -len(OPEN_SUFFIX)])
    size = open_path.stat().st_size
    kept, records = complete_prefix(open_path)
    try:
        if kept < size:
            backup = open_path.with_name(open_path.name + ".tail")
            with open(open_path, "rb") as src, open(backup, "wb") as dst:
                src.seek(kept)
                shutil.copyfileobj(src, dst)  # the dropped tail is set aside, never destroyed
            with open(open_path, "r+b") as f:
                f.truncate(kept)
                os.fsync(f.fileno())
    except OSError as exc:
        what = "disk full" if exc.errno == errno.ENOSPC else exc.strerror
        raise WarcWriteError(f"cannot recover {open_path.name}: {what}") from exc
    from archiver.manifest.warcscan import file_sha256

    recovered = Recovered(final, kept, size - kept, records, file_sha256(open_path))
    if record is not None:
        record(recovered)
    if kept == 0:
        open_path.unlink()
    else:
        os.replace(open_path, final)
        _fsync_dir(final.parent)
    return recovered


def find_open_files(warcs_dir: Path) -> list[Path]:
    return sorted(warcs_dir.rglob("*.warc.gz" + OPEN_SUFFIX))
