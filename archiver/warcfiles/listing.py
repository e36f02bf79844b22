"""The WARC files under an archive's warcs folder: closed ones (indexed, packaged,
verified) and `.open` ones (being written, or left by a killed writer for recovery)."""

from __future__ import annotations

from pathlib import Path

from archiver.warcfiles.writer import OPEN_SUFFIX

WARC_SUFFIXES = (".warc.gz", ".warc")


def closed_warcs(warcs: Path) -> dict[str, Path]:
    """Every closed WARC file under ``warcs``, keyed by its path relative to it."""
    found = {}
    for path in sorted(warcs.rglob("*")):
        if path.is_file() and path.name.endswith(WARC_SUFFIXES):
            found[path.relative_to(warcs).as_posix()] = path
    return found


def find_open_files(warcs_dir: Path) -> list[Path]:
    """Every `.open` WARC file under ``warcs_dir``, in name order."""
    return sorted(warcs_dir.rglob("*.warc.gz" + OPEN_SUFFIX))
