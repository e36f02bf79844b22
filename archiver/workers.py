"""Which daemon workers are alive: each holds an flock on its own file while it runs.

The kernel drops an flock when its process dies, even on `kill -9`, so a lock file that
exists and that nobody holds names a dead worker whose claims can be released at once
instead of waiting out the lease (the same test recovery applies to `.open` WARC files).
A worker without a lock file (an `archive capture` run, a worker on another machine)
is never declared dead here: its claims expire with the lease.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
from pathlib import Path

from archiver.errors import UsageError

FOLDER = ".workers"


def lock_path(root: Path, worker: str) -> Path:
    # worker ids are free text (--worker-id): hash them into a safe file name
    return root / FOLDER / (hashlib.sha256(worker.encode()).hexdigest()[:24] + ".lock")


class WorkerLock:
    """This process's claim to run as ``worker`` on the archive at ``root``."""

    def __init__(self, root: Path, worker: str) -> None:
        self.path = lock_path(root, worker)
        self.worker = worker
        self._fd: int | None = None

    def acquire(self, patience: float = 1.0) -> None:
        """Take the lock; UsageError when a live process already runs as this worker."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + patience
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                # a reaper (`is_dead`) holds it for a moment; a live twin holds it for good
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                raise UsageError(
                    f"another daemon is running as worker {self.worker!r} "
                    "(give each daemon its own --worker-id)"
                ) from None
            if _same_file(fd, self.path):
                break
            os.close(fd)  # a reaper unlinked it between our open and flock: try again
        os.ftruncate(fd, 0)
        os.write(fd, f"{self.worker}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None


def is_dead(root: Path, worker: str) -> bool:
    """True only for a worker that ran with a lock file and whose process is gone."""
    path = lock_path(root, worker)
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False  # never a daemon here, or already reaped: the lease decides
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # reaped, under its lock: a restarting worker re-creates it
    os.close(fd)
    return True


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False
