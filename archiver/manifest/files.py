"""Writing manifest files atomically, and one lock so concurrent refreshes queue."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from archiver.errors import ArchiveWriteError
from archiver.tempfiles import create_beside


def atomic_write(path: Path, data: str | bytes) -> Path:
    """Write via a temp file in the same folder + os.replace: readers see old or new, never half.

    The temp file has a unique name, so two writers of the same path never share one.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        tmp = _durable_temp(path, payload)
        try:
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise _write_error(path, exc) from exc
    return path


def _durable_temp(path: Path, payload: bytes) -> str:
    """A temp file beside ``path`` holding ``payload``, fsync'd; its name (removed again
    if anything fails)."""
    fd, tmp = create_beside(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return tmp


def _write_error(path: Path, exc: OSError) -> ArchiveWriteError:
    what = "disk full" if exc.errno == errno.ENOSPC else exc.strerror
    return ArchiveWriteError(f"cannot write {path.name}: {what}")


class StagedFiles:
    """Many files put in place like `atomic_write`, their writes and fsyncs overlapped.

    `add` hands the bytes to a few threads that each create a temp file beside the
    destination (unique name, the umask's permissions), write and fsync it, while the caller goes on
    rendering; several fsyncs in flight also let the file system fold them into fewer
    journal commits. Nothing is visible until `commit`: it waits for every temp file to
    be durable, then renames each over its destination in the order added (readers see
    the old file or the whole new one, never half) and fsyncs the folders. Leaving the
    ``with`` block without `commit` (an error) removes the temp files.
    """

    THREADS = 8
    IN_FLIGHT = 64  # temp files open at once, at most: `add` waits when the disk lags

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Future]] = []
        self._pool: ThreadPoolExecutor | None = None
        self._slots = threading.BoundedSemaphore(self.IN_FLIGHT)

    def __enter__(self) -> StagedFiles:
        return self

    def __exit__(self, *exc_info) -> None:
        self.discard()

    def add(self, path: Path, data: str | bytes) -> Path:
        payload = data.encode("utf-8") if isinstance(data, str) else data
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.THREADS, thread_name_prefix="manifest-io")
        self._slots.acquire()
        self._staged.append((path, self._pool.submit(_write_temp, path, payload, self._slots)))
        return path

    def commit(self) -> list[Path]:
        """Wait until every staged file is durable, then rename each into place."""
        self._wait()
        staged, done = self._staged, []
        for path, future in staged:
            try:
                os.replace(future.result(), path)
            except OSError as exc:
                raise _write_error(path, exc) from exc
            done.append(path)
        self._staged = []
        for folder in {path.parent for path, _ in staged}:
            _fsync_dir(folder)
        return done

    def discard(self) -> None:
        with contextlib.suppress(ArchiveWriteError):
            self._wait()
        for _, future in self._staged:
            if future.exception() is None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(future.result())
        self._staged = []

    def _wait(self) -> None:
        """Every write finished; the first that failed raised as ArchiveWriteError."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for path, future in self._staged:
            exc = future.exception()
            if isinstance(exc, OSError):
                raise _write_error(path, exc) from exc
            if exc is not None:
                raise exc


def _write_temp(path: Path, payload: bytes, slots: threading.BoundedSemaphore) -> str:
    """A durable temp file beside ``path`` holding ``payload``; its name."""
    try:
        return _durable_temp(path, payload)
    finally:
        slots.release()


def _fsync_dir(folder: Path) -> None:
    """Make the renames durable too (best effort: not every file system can)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Serialise refreshes across threads and processes: the last to start writes last.

    Without it a slow refresh that read the store earlier could replace a newer page.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".refresh.lock", "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
