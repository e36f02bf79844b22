"""ledger.jsonl: append-only, hash-chained, fsync'd — one line per snapshot, check,
review and closed WARC file.

Each line is a JSON object ``{"seq", "at", "event", …, "prev"}`` where ``prev`` is the
hex SHA-256 of the previous line's bytes (without its newline); the first line's
``prev`` is 64 zeros. Appends from several processes are serialised with flock.

`Ledger.batch` holds that lock for a block: the store commit of the rows the lines
describe happens inside it and the lines are written after, in one write and one fsync
(`archiver.ledger.pairs` says why). A line a kill cut short is dropped by the next
holder of the lock before it reads the last line.

A line's ``at`` is the time its event happened, given by the caller, or else read from
the clock the ledger was made with (`ledger_for`: the App's, which tests inject), written
with microseconds (`times.iso_micro`).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from archiver.errors import ArchiveWriteError
from archiver.ledger.events import Paired
from archiver.times import Clock, iso_micro, now

logger = logging.getLogger(__name__)

GENESIS = "0" * 64
LEDGER_NAME = "ledger.jsonl"


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


class LedgerBatch:
    """Lines appended under one hold of the ledger's lock: built by `add`, written whole
    (one write, one fsync) when the hold ends without an error; a line without its own
    time is stamped by ``clock``."""

    def __init__(self, last: bytes | None, clock: Clock = now) -> None:
        self.clock = clock
        if last is None:
            self.next_seq, self.prev = 1, GENESIS
        else:
            self.next_seq, self.prev = int(json.loads(last)["seq"]) + 1, line_hash(last)
        self.head = self.next_seq - 1  # the seq of the last line on disk (0: none)
        self.data: list[bytes] = []

    def seqs(self, n: int) -> list[int]:
        """The seqs the next ``n`` added lines will carry (rows record them first)."""
        return list(range(self.next_seq, self.next_seq + n))

    def add(self, event: Paired | str, *, at: datetime | None = None, **fields: Any) -> dict:
        """Add the line of one event (a kind of row, or `events.DROPPED`); returns it."""
        if isinstance(event, Paired):
            event = event.value
        stamp = iso_micro(at or self.clock())
        obj = {"seq": self.next_seq, "at": stamp, "event": event, **fields, "prev": self.prev}
        line = json.dumps(
            obj, ensure_ascii=False, sort_keys=False, separators=(",", ":"), default=str
        ).encode("utf-8")
        self.data.append(line + b"\n")
        self.prev = line_hash(line)
        self.next_seq += 1
        return obj


def _cut_torn_tail(f, path: Path) -> None:
    """A last line without its newline is the start of an append a kill cut short (every
    append writes whole lines): it was never a line of the chain, so it goes."""
    end = f.seek(0, os.SEEK_END)
    if end == 0:
        return
    f.seek(end - 1)
    if f.read(1) == b"\n":
        return
    keep = end
    while keep > 0:
        step = min(4096, keep)
        f.seek(keep - step)
        idx = f.read(step).rfind(b"\n")
        if idx >= 0:
            keep = keep - step + idx + 1
            break
        keep -= step
    logger.warning(
        "%s: cut %d bytes of a line a killed append left unfinished", path.name, end - keep
    )
    os.ftruncate(f.fileno(), keep)
    os.fsync(f.fileno())


class Ledger:
    """The ledger file at ``path``; lines without their own time are stamped by ``clock``."""

    def __init__(self, path: Path, *, clock: Clock = now) -> None:
        self.path = path
        self.clock = clock

    @contextmanager
    def batch(self) -> Iterator[LedgerBatch]:
        """Hold the ledger's lock (every process, every thread); the lines added are
        appended when the block ends without an error, none otherwise."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                _cut_torn_tail(f, self.path)
                batch = LedgerBatch(_last_line(f), self.clock)
                yield batch
                if batch.data:
                    _append_whole(f, b"".join(batch.data), self.path)
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def append(self, event: Paired | str, *, at: datetime | None = None, **fields: Any) -> dict:
        """Append one event line; returns the object written."""
        with self.batch() as batch:
            return batch.add(event, at=at, **fields)

    def head(self) -> bytes | None:
        """The last line (read from the end of the file), or None: no line yet, or the
        file ends in a line a killed append left unfinished (the next append cuts it)."""
        try:
            with open(self.path, "rb") as f:
                end = f.seek(0, os.SEEK_END)
                if end == 0:
                    return None
                f.seek(end - 1)
                if f.read(1) != b"\n":
                    return None
                return _last_line(f)
        except FileNotFoundError:
            return None

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
