"""Checks the fault and crash suites share: is the archive on disk whole, is a row readable?"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from archiver.manifest.verify import verify
from archiver.store import schema as t

from .warc_tools import warc_files, warcio_check


def read_back(root: Path, warc: str, offset: int) -> tuple[str, str]:
    """(record id, sha256 of the decoded document) of the record at (warc, offset), streamed."""
    path = root / warc
    if not path.exists():
        path = Path(str(path) + ".open")
    with open(path, "rb") as f:
        f.seek(offset)
        record = next(iter(ArchiveIterator(f)))
        sha = hashlib.sha256()
        stream = record.content_stream()
        while chunk := stream.read(1 << 16):
            sha.update(chunk)
        return record.rec_headers.get_header("WARC-Record-ID"), "sha256:" + sha.hexdigest()


def snapshot_rows(app) -> dict[int, object]:
    with app.store.read() as conn:
        return {row.id: row for row in conn.execute(select(t.snapshot))}


def unreadable(app, rows) -> list[str]:
    """Snapshot rows whose record is gone, another record, or holds another document."""
    bad = []
    for row in rows:
        try:
            record_id, digest = read_back(app.root, row.warc, row.offset)
            assert record_id == row.record_id, f"record {record_id}"
            if row.record_type == "response":
                assert digest == row.payload_digest, f"document {digest}"
        except (AssertionError, OSError, StopIteration, ValueError) as exc:
            bad.append(f"snapshot {row.id} ({row.warc}@{row.offset}): {exc!r}")
    return bad


def archive_problems(app, *, warcio: bool = True) -> tuple[list[str], int]:
    """(everything wrong with the archive on disk, snapshot rows whose record is lost).

    Every WARC passes ``warcio check`` and ``archive verify``; no ``.open`` file is left;
    every snapshot row reads back with its record id and document digest.
    """
    problems: list[str] = [f"left open: {p}" for p in app.settings.warcs_path.rglob("*.open")]
    if warcio:
        for path in warc_files(app.root):
            try:
                warcio_check(path)
            except AssertionError as exc:
                problems.append(f"warcio check {path.name}: {exc}")
    problems += [f"verify: {p}" for p in verify(app).problems]
    lost = unreadable(app, snapshot_rows(app).values())
    return problems + lost, len(lost)
