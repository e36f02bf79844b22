"""A killed writer's `.open` WARC file: cut after its last whole record, recorded, closed.

The strict reader (`warcfiles.reader`) decides what is whole: each gzip member must
inflate to its end with a valid CRC and hold one record. The dropped tail is set aside
beside the file (``.tail``), never destroyed.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from archiver.errors import WarcWriteError
from archiver.warcfiles.reader import MemberError, file_sha256, read_member
from archiver.warcfiles.writer import OPEN_SUFFIX, fsync_dir

logger = logging.getLogger(__name__)


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
    recovered = Recovered(final, kept, size - kept, records, file_sha256(open_path))
    if record is not None:
        record(recovered)
    if kept == 0:
        open_path.unlink()
    else:
        os.replace(open_path, final)
        fsync_dir(final.parent)
    return recovered
