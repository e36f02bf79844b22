"""New files beside their destination, with the permissions the user's umask gives.

Every writer that puts a file in place atomically (manifests, the CDXJ index, WACZ
exports, imported WARCs) creates its temp file here. `tempfile.mkstemp` makes 0600 and
a later ``chmod 0644`` made every such file world-readable whatever the umask said; a
file opened with mode 0666 and ``O_EXCL`` gets ``0666 & ~umask``, as `open()` and the
WARC writer's files do: 0644 under the usual umask 022, 0600 under umask 077.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_TRIES = 100


def create_beside(path: Path) -> tuple[int, str]:
    """(fd, name) of a new, empty, hidden temp file in ``path``'s folder (umask applies)."""
    for _ in range(_TRIES):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, _FLAGS, 0o666), str(tmp)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temp file name beside {path}")
