"""Which workers are alive: each process that claims work holds an flock on its own file.

The daemon holds it for its whole run; `archive add`, `capture`, `check` and `intake`
(through `live_worker`, around every claiming service call) hold it while they work.
The kernel drops an flock when its process dies, even on `kill -9`, so a lock file that
exists and that nobody holds names a dead worker whose claims can be released at once
instead of waiting out the lease (the same test recovery applies to `.open` WARC files).
A worker without a lock file here (a worker on another machine with its own folder,
an older archiver) is never declared dead: its claims expire with the lease.

Within one process the lock of a worker id is taken once: nested and concurrent
`live_worker` blocks (the daemon's jobs, a check that recaptures drifted pages) share
it, and the last one out releases it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from archiver.errors import UsageError

logger = logging.getLogger(__name__)

FOLDER = ".workers"

# the locks this process holds, by lock file: a second holder in the process joins
_held: dict[Path, WorkerLock] = {}
_held_guard = threading.Lock()
_taking = threading.Lock()  # one `alive` block at a time decides whether to take a lock


def worker_id() -> str:
    """HOST:PID, the host name cut so the id fits the store's 128 characters."""
    pid = str(os.getpid())
    return f"{socket.gethostname()[: 127 - len(pid)]}:{pid}"


def lock_path(root: Path, worker: str) -> Path:
    # worker ids are free text (--worker-id): hash them into a safe file name
    # resolved: `alive` finds this process's own lock by its path
    return root.resolve() / FOLDER / (hashlib.sha256(worker.encode()).hexdigest()[:24] + ".lock")


class WorkerLock:
    """This process's claim to run as ``worker`` on the archive at ``root``."""

    def __init__(self, root: Path, worker: str) -> None:
        self.path = lock_path(root, worker)
        self.worker = worker
        self._fd: int | None = None
        self.holders = 0  # blocks of this process relying on the lock (see `alive`)

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
        self.holders = 1
        with _held_guard:
            _held[self.path] = self

    def release(self) -> None:
        with _held_guard:
            self.holders = max(0, self.holders - 1)
            if self.holders or self._fd is None:
                return
            if _held.get(self.path) is self:
                del _held[self.path]
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            os.close(self._fd)
            self._fd = None


@contextlib.contextmanager
def alive(root: Path, worker: str) -> Iterator[bool]:
    """Hold ``worker``'s lock for the block; yields True when this block took it (no other
    block of this process held it), False when it joined a holder in this process."""
    path = lock_path(root, worker)
    with _taking:
        with _held_guard:
            lock = _held.get(path)
            if lock is not None:
                lock.holders += 1
        first = lock is None
        if first:
            lock = WorkerLock(root, worker)
            lock.acquire()
    try:
        yield first
    finally:
        lock.release()


def release_dead(store, root: Path, me: str) -> int:
    """Release the claims of workers that died (kill -9, a crash): no waiting out the lease."""
    dead = [w for w in store.claim_holders() if w != me and is_dead(root, w)]
    for w in dead:
        logger.warning("worker %s is gone: its claims are released", w, extra={"worker": w})
    return sum(store.release_claims(w) for w in dead)


@contextlib.contextmanager
def live_worker(store, root: Path, worker: str) -> Iterator[int]:
    """Work as ``worker`` under its liveness lock; yields how many claims were released.

    Taking the lock first proves that claims already under our own id are a dead
    process's (a reused pid): they are released with those of every dead worker.
    """
    with alive(root, worker) as first:
        released = store.release_claims(worker) if first else 0
        yield released + release_dead(store, root, worker)


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
