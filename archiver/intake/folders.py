"""Watched folders: every new or changed article file is found, for the intake run
(`archiver.runs.intake`) to add as `archive add` would.

A poll lists the folder (sub-folders too; names starting with "." are skipped, as
editors and sync tools keep temporary files there), fingerprints each .txt/.md/.html
file by the sha256 of its content, and adds the files whose fingerprint it has not seen
under that name. Only regular files are read (a symbolic link, a pipe or a device is
refused by its lstat, a file over MAX_SOURCE_BYTES by its size), and a file whose size,
mtime, inode and ctime are those of the last pass is not read again. A file that
cannot be added (binary, empty, no links, unreadable) is remembered with its error and
fingerprint: reported once, left in place, and tried again only when its content
changes. A file modified within the last SETTLE seconds may still
be being written: it waits for the next poll.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from archiver.errors import SourceError
from archiver.sources import (
    KINDS,
    MAX_SOURCE_BYTES,
    not_regular,
    open_regular,
    too_large,
)

SETTLE = 1.0  # seconds a file must be left alone before it is read
CHUNK = 2**20


@dataclass(frozen=True, kw_only=True)
class FileState:
    key: str  # path relative to the watched folder, with "/"
    path: Path
    fingerprint: str  # sha256 of the content, or of what made it unreadable
    error: str | None = None  # why it cannot be read at all
    stat: str | None = None  # `stat_key` when it was fingerprinted


# ------------------------------------------------------------------ pure decisions


def folder_path(root: Path, location: str) -> Path:
    """A configured folder: ``~`` expanded, a relative one under the archive root."""
    path = Path(location).expanduser()
    return path if path.is_absolute() else root / path


def is_article_name(name: str) -> bool:
    return not name.startswith((".", "~")) and Path(name).suffix.lower() in KINDS


def files_to_add(found: Iterable[FileState], seen: Mapping[str, Mapping]) -> list[FileState]:
    """New files, and files whose content changed since they were last seen."""
    return [
        f for f in found if f.key not in seen or seen[f.key].get("fingerprint") != f.fingerprint
    ]


def stats_to_note(
    found: Iterable[FileState], seen: Mapping[str, Mapping], todo: set[str]
) -> dict[str, str]:
    """key → stat of files not added again whose stat the store does not have yet (a
    touched but unchanged file, or one first seen by an older archiver): next pass,
    they are not read."""
    return {
        f.key: f.stat
        for f in found
        if f.stat and f.key in seen and f.key not in todo and seen[f.key].get("stat") != f.stat
    }


def standing_error(found: Iterable[FileState], seen: Mapping[str, Mapping]) -> str | None:
    """The folder's last error: files still there that could not be added."""
    errors = [
        seen[f.key]["error"]
        for f in found
        if f.key in seen
        and seen[f.key].get("error")
        and seen[f.key].get("fingerprint") == f.fingerprint
    ]
    if not errors:
        return None
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{_n(len(errors), 'file')} not added: {errors[0]}{more}"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


# ------------------------------------------------------------------ the file system


def _walk(folder: Path) -> Iterator[Path]:
    """Candidate article paths under ``folder``, sorted; hidden folders are not entered."""
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        base = Path(dirpath)
        # a folder named like an article (x.txt) is listed too: it is reported, once
        names = filenames + [d for d in dirnames if is_article_name(d)]
        for name in sorted(names):
            if is_article_name(name):
                yield base / name


def _marker(*parts: object) -> str:
    """A fingerprint for a file that is not read: changes when what made it so does."""
    text = "\0".join(str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def stat_key(st: os.stat_result) -> str:
    """What says a file is unchanged since it was hashed: size, mtime, inode and ctime
    (which a chmod or a rename-over also moves)."""
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}:{st.st_ctime_ns}"


def _unreadable(path: Path, exc: OSError) -> tuple[str, str]:
    """(fingerprint, reason) for a path that cannot be read: changes when the path does."""
    try:
        st = path.lstat()
        marker = _marker("unreadable", exc.errno, st.st_mtime_ns, st.st_size, st.st_ino)
    except OSError:
        marker = _marker("unreadable", exc.errno)
    if isinstance(exc, IsADirectoryError) or path.is_dir():
        reason = "is a folder, not an article"
    elif exc.errno == errno.ENOENT:
        reason = "broken link: the file it points to does not exist"
    elif isinstance(exc, PermissionError):
        reason = "permission denied"
    else:
        reason = f"cannot read: {exc.strerror or exc}"
    return marker, reason


def refusal(st: os.stat_result) -> str | None:
    """Why a folder entry is not read at all: not a regular file (a symbolic link can
    point out of the folder, at /dev/zero or at a pipe), or too large."""
    return not_regular(st.st_mode) or too_large(st.st_size)


def fingerprint(path: Path) -> tuple[str, str | None]:
    """(sha256 of the content, None), or (a marker, why) when the file cannot be read.

    Only a regular file is opened (O_NOFOLLOW, O_NONBLOCK) and at most
    MAX_SOURCE_BYTES + 1 bytes of it are read.
    """
    digest = hashlib.sha256()
    try:
        fd, st = open_regular(path, follow_symlinks=False)
        with os.fdopen(fd, "rb") as f:
            left = MAX_SOURCE_BYTES + 1
            while left > 0 and (chunk := f.read(min(CHUNK, left))):
                digest.update(chunk)
                left -= len(chunk)
    except ValueError as exc:  # replaced by a pipe or a device since it was listed
        return _marker("refused", exc), str(exc)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # replaced by a symbolic link since it was listed
            return _marker("link", path), not_regular(stat.S_IFLNK) or ""
        return _unreadable(path, exc)
    if left <= 0:
        return _marker("large", stat_key(st)), too_large(MAX_SOURCE_BYTES + 1) or ""
    return digest.hexdigest(), None


@dataclass(frozen=True, kw_only=True)
class FolderScan:
    """What one look at a folder found: the files to consider, and those left for later."""

    found: list[FileState]
    settling: int = 0  # files changed within the settle time: read on the next pass


def scan(
    folder: Path,
    *,
    settle: float = SETTLE,
    now: float | None = None,
    known: Mapping[str, tuple[str | None, str | None]] | None = None,
) -> FolderScan:
    """Every article file in ``folder`` now; those still being written are only counted.

    ``known``: key → (stat_key, fingerprint) from the last pass; a file whose size,
    mtime, inode and ctime are unchanged keeps its fingerprint and is not read again.
    """
    now = time.time() if now is None else now
    known = known or {}
    found: list[FileState] = []
    settling = 0
    for path in _walk(folder):
        try:
            st = path.lstat()
        except FileNotFoundError:
            continue  # moved away while we listed
        if now - st.st_mtime < settle:
            settling += 1
            continue
        key = path.relative_to(folder).as_posix()
        found.append(_state(path, key, st, known.get(key)))
    return FolderScan(found=found, settling=settling)


def poll_note(seen: FolderScan, new: int) -> str:
    """The folder's line: "3 files, 1 new or changed; 1 file still being written, …"."""
    parts = []
    if seen.found or not seen.settling:
        parts.append(f"{_n(len(seen.found), 'file')}, {new} new or changed")
    if seen.settling:
        parts.append(f"{_n(seen.settling, 'file')} still being written, read on the next pass")
    return "; ".join(parts)


def _state(path: Path, key: str, st: os.stat_result, last: tuple | None) -> FileState:
    """One listed entry: refused by its lstat, its last fingerprint, or hashed now."""
    stamp = stat_key(st)
    why = refusal(st)
    if why:
        digest, error = _marker("refused", why, stamp), why
    elif last is not None and last[0] == stamp and last[1]:
        digest, error = last[1], None
    else:
        digest, error = fingerprint(path)
    return FileState(key=key, path=path, fingerprint=digest, error=error, stat=stamp)


def reason_of(exc: SourceError, path: Path) -> str:
    """The error without the path `read_source` put in front (the key names the file)."""
    text = str(exc)
    prefix = f"{path}: "
    return text[len(prefix) :] if text.startswith(prefix) else text
