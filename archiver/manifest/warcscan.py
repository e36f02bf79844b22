"""Scan a record-gzipped WARC file strictly, member by member, for `archive verify`.

Each member is read by the core's strict reader (`warcfiles.reader.read_member`: every
member must inflate cleanly to its end and hold exactly one record). While a record is
open, verify reads what it checks: the document digest of the snapshots' responses
(warcio decodes the HTTP body: chunking, gzip/deflate) and a connection evidence
record's facts (`evidence.check`).

A file can be scanned in parts (``start``/``stop``, each part in its own process) and
the parts joined (`join_parts`) into exactly what one scan of the whole file finds:
reading from an offset depends on nothing but that offset, so where a part's reading
passes through the offset its predecessor stopped at, the rest of it is what a single
scan would have read; where it does not (damage across the boundary), the gap is read
again here.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from warcio.recordloader import ArcWarcRecord

from archiver import codings
from archiver.evidence import check as evidence_check
from archiver.net import recorded
from archiver.warcfiles.reader import (
    CHUNK,
    GZIP_MAGIC,
    DocumentDigest,
    MemberError,
    RecordFacts,
    Source,
    read_member,
)

# a snapshot captured before codings stopped calling a failed brotli decoder again (it
# decoded on from a corrupt state, or crashed) may hold a digest of what that gave
BROKEN_BROTLI = (
    "its brotli stream breaks mid-body, and what a decoder makes of the rest differs "
    "(archiver before 2026-12-06 decoded on past the break); the WARC's own digests "
    "still hold"
)
NO_BROTLI = (
    "its body is brotli-coded and this install has no brotlipy to decode it (Google's "
    "Brotli cannot be used); the WARC's own digests still hold "
    "(pip install 'archiver[replay]' checks it too)"
)


@dataclass
class WarcScan:
    size: int = 0
    records: dict[int, RecordFacts] = field(default_factory=dict)
    problems: list[tuple[int, str]] = field(default_factory=list)
    start: int = 0  # the offset reading began at
    end: int = 0  # the offset reading stopped at (``size`` once nothing more is read)

    def read_at(self) -> set[int]:
        """Every offset reading was tried at (a record or a problem starts there)."""
        return set(self.records) | {off for off, _ in self.problems}


def _digest_of(stream) -> str:
    sha = hashlib.sha256()
    # warcio prints a broken content coding to stderr and ends the body there; the
    # digest then differs from the snapshot's, which is how verify reports it. Bounded
    # as at capture (`recorded.DOCUMENT_LIMIT`): a decompression bomb costs no more here
    with contextlib.redirect_stderr(io.StringIO()):
        recorded.read_document(stream, sha.update)
    return "sha256:" + sha.hexdigest()


def _document_digest(record) -> DocumentDigest:
    """sha256 of the body with chunking and content coding removed (warcio decodes).

    A brotli body is decoded only where a brotli binding is installed (warcio's rule, and
    so capture's): an archive captured on one install must verify on the other, so its
    document is read both ways, from a copy of the body (spooled to disk past
    `codings.SPOOL`); where it cannot be decoded here, ``unread`` says why."""
    coding = record.http_headers.get_header("content-encoding") or ""
    if coding.strip().lower() != codings.BR:
        return DocumentDigest(_digest_of(recorded.document_stream(record)))
    with tempfile.SpooledTemporaryFile(max_size=codings.SPOOL) as body:
        shutil.copyfileobj(record.raw_stream, body, CHUNK)
        size = body.tell()

        def read(raw_br: bool) -> tuple[str, bool]:
            body.seek(0)
            copy = ArcWarcRecord("warc", "response", None, body, record.http_headers, "", size)
            stream = recorded.document_stream(copy, raw_br=raw_br)
            return _digest_of(stream), getattr(stream, "broken", False)

        as_sent, _ = read(raw_br=True)
        if not codings.available():
            return DocumentDigest(as_sent, unread=NO_BROTLI)
        decoded, broken = read(raw_br=False)
        return DocumentDigest(decoded, also=(as_sent,), unread=BROKEN_BROTLI if broken else None)


def _look(
    record, *, want_document: bool
) -> tuple[DocumentDigest | None, evidence_check.EvidenceFacts | None]:
    """What verify reads from an open record: its document digest (a response, where
    wanted) and a connection evidence record's facts."""
    digest = evidence = None
    if want_document and record.rec_type == "response" and record.http_headers:
        digest = _document_digest(record)
    if evidence_check.is_evidence(record.content_type, record.rec_type):
        evidence = evidence_check.read_record(record)
    return digest, evidence


def _resync(src: Source, start: int, size: int) -> int | None:
    """The next offset after damage where an intact member starts, if any."""
    pos = start
    while pos < size:
        block = src.view(pos, CHUNK + len(GZIP_MAGIC))
        if not block:
            return None
        hit = bytes(block).find(GZIP_MAGIC)
        if hit < 0:
            pos += CHUNK
            continue
        candidate = pos + hit
        try:
            read_member(src, candidate)
        except MemberError:
            pos = candidate + 1
            continue
        return candidate
    return None


def scan_warc(
    path: Path,
    *,
    wanted: set[int] | frozenset[int] = frozenset(),
    growing: bool = False,
    start: int = 0,
    stop: int | None = None,
    size: int | None = None,
    join: set[int] | frozenset[int] = frozenset(),
) -> WarcScan:
    """Every record of the file, in order; damage is noted and reading resumes after it.

    ``wanted``: offsets whose document digest to compute (the snapshots). ``growing``:
    a `.open` file still being written, whose last member may be incomplete.

    A part of the file: reading begins at ``start`` (a member's offset) and ends at the
    first offset at or past ``stop`` or, after ``start``, in ``join``; ``size``: the
    file's size when its scan began (the same for every part). Damage is skipped up to
    the next intact member anywhere in the file, as a scan of the whole file would.
    """
    scan = WarcScan(size=os.path.getsize(path) if size is None else size, start=start)
    stop = scan.size if stop is None else min(stop, scan.size)
    with open(path, "rb", buffering=0) as f:
        src = Source(f)
        offset = start
        while offset < stop and (offset == start or offset not in join):
            try:
                look = functools.partial(_look, want_document=offset in wanted)
                facts = read_member(src, offset, look=look)
            except MemberError as exc:
                if growing and exc.truncated:
                    offset = scan.size
                    break
                scan.problems.append((offset, str(exc)))
                nxt = _resync(src, offset + 1, scan.size)
                if nxt is None:
                    offset = scan.size
                    break
                offset = nxt
                continue
            scan.records[offset] = facts
            scan.problems += [(offset, what) for what in facts.problems]
            offset += facts.length
    scan.end = offset
    return scan


def join_parts(
    path: Path,
    parts: list[WarcScan],
    *,
    wanted: set[int] | frozenset[int] = frozenset(),
    growing: bool = False,
) -> WarcScan:
    """One file's consecutive part scans (`scan_warc` with start/stop) as one scan.

    The result is what `scan_warc` of the whole file finds: a part's findings count from
    the offset its predecessor stopped at, if its own reading passed through that offset;
    otherwise (damage across the boundary) the file is read again from there until it
    joins the part's reading or passes its end.
    """
    size = parts[0].size
    whole = WarcScan(size=size)

    def take(part: WarcScan, since: int) -> None:
        whole.records.update((off, f) for off, f in part.records.items() if off >= since)
        whole.problems += [(off, what) for off, what in part.problems if off >= since]

    pos = 0
    for part in parts:
        if pos >= part.end:
            continue  # reading before this part already went past it
        read_at = part.read_at()
        if pos not in read_at:
            gap = scan_warc(
                path,
                wanted=wanted,
                growing=growing,
                start=pos,
                stop=part.end,
                size=size,
                join=read_at,
            )
            take(gap, pos)
            pos = gap.end
            if pos not in read_at:
                continue
        take(part, pos)
        pos = part.end
    whole.end = pos
    return whole


def odd_headers(scan: WarcScan) -> list[int]:
    """Offsets of members whose gzip header differs from the file's usual one.

    zlib writes the same 10-byte header (mtime 0) for every member, and no digest covers
    it; when a closed file's sha256 no longer matches, this points at the changed member.
    """
    headers = [facts.gzip_header for facts in scan.records.values()]
    if len(headers) < 2:
        return []
    usual = max(set(headers), key=headers.count)
    return [off for off, facts in scan.records.items() if facts.gzip_header != usual]
