"""ledger.jsonl: append-only, hash-chained, fsync'd — one line per snapshot, check,
review and closed WARC file.

Each line is a JSON object ``{"seq", "at", "event", …, "prev"}`` where ``prev`` is the
hex SHA-256 of the previous line's bytes (without its newline); the first line's
``prev`` is 64 zeros. Appends from several processes are serialised with flock.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archiver.errors import ArchiveWriteError

GENESIS = "0" * 64
LEDGER_NAME = "ledger.jsonl"


def _utc(dt: datetime | None = None) -> str:
    return (dt or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def _last_line(f) -> bytes | None:
    """The last complete line of an open file (reads backwards from the end)."""
    f.seek(0, os.SEEK_END)
    end = f.tell()
    if end == 0:
        return None
    block = 4096
    pos = end
    data = b""
    while pos > 0:
        step = min(block, pos)
        pos -= step
        f.seek(pos)
        data = f.read(step) + data
        stripped = data.rstrip(b"\n")
        idx = stripped.rfind(b"\n")
        if idx >= 0:
            return stripped[idx + 1 :]
    return data.rstrip(b"\n")


def _append_whole(f, data: bytes, path: Path) -> None:
    """Append one line or nothing: a torn last line (a full disk) would break the chain
    for every later append and for `archive verify`."""
    end = f.seek(0, os.SEEK_END)
    fd = f.fileno()
    try:
        view = memoryview(data)
        while view:  # unbuffered: nothing is left in a buffer to be flushed later
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except OSError as exc:
        os.ftruncate(fd, end)
        what = "disk full" if exc.errno == errno.ENOSPC else exc.strerror
        raise ArchiveWriteError(f"cannot append to {path.name}: {what}") from exc


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, event: str, *, at: datetime | None = None, **fields: Any) -> dict:
        """Append one event line; returns the object written."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                last = _last_line(f)
                if last is None:
                    seq, prev = 1, GENESIS
                else:
                    seq, prev = int(json.loads(last)["seq"]) + 1, line_hash(last)
                obj = {"seq": seq, "at": _utc(at), "event": event, **fields, "prev": prev}
                line = json.dumps(
                    obj, ensure_ascii=False, sort_keys=False, separators=(",", ":"), default=str
                )
                _append_whole(f, line.encode("utf-8") + b"\n", self.path)
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
        return obj

    def lines(self) -> Iterator[tuple[int, bytes]]:
        if not self.path.exists():
            return
        with open(self.path, "rb") as f:
            for n, line in enumerate(f, 1):
                yield n, line.rstrip(b"\n")

    def breaks(self) -> list[tuple[int, str]]:
        """Every break in the chain as (line number, what): bad JSON, wrong seq, wrong prev."""
        found: list[tuple[int, str]] = []
        prev = GENESIS
        expected_seq = 1
        for n, line in self.lines():
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
            if not isinstance(obj, dict):
                found.append((n, "not a JSON object"))
            else:
                if obj.get("prev") != prev:
                    found.append((n, f"chain broken (prev does not match line {n - 1})"))
                if obj.get("seq") != expected_seq:
                    found.append((n, f"seq {obj.get('seq')} where {expected_seq} was expected"))
            prev = line_hash(line)
            expected_seq += 1
        return found

    def problems(self) -> list[str]:
        """Every break in the chain, one line each."""
        return [f"{self.path.name}: line {n}: {what}" for n, what in self.breaks()]

    def events(self) -> Iterator[tuple[int, dict]]:
        """(line number, object) for every line that parses; breaks() reports the rest."""
        for n, line in self.lines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                yield n, obj
