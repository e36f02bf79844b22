"""Writing manifest files atomically, and one lock so concurrent refreshes queue."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from archiver.errors import ArchiveWriteError


def atomic_write(path: Path, data: str | bytes) -> Path:
    """Write via a temp file in the same folder + os.replace: readers see old or new, never half.

    The temp file has a unique name, so two writers of the same path never share one.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; manifests are for editors to read
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            what = "disk full" if exc.errno == errno.ENOSPC else exc.strerror
            raise ArchiveWriteError(f"cannot write {path.name}: {what}") from exc
        raise
    return path


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
