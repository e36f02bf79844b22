"""Read a record-gzipped WARC file strictly, member by member, for `archive verify`.

warcio parses each record and re-checks its WARC-Block-Digest / WARC-Payload-Digest,
and decodes the HTTP body (chunking, gzip/deflate) for our document digest. The gzip
members themselves are read here with zlib, because warcio's DecompressingBufferedReader
forgives damage an auditor must see: a data error after the first block is written to
stderr and read as end of data, and a truncated member just ends the record early
(warcio #138). Here every member must inflate cleanly to its end (zlib checks its CRC32
and length), hold exactly one record and nothing but the record's trailing CRLFs.

Everything is streamed: nothing holds a whole record in memory. The compressed bytes
are read forward in large blocks and members are inflated from views of the block, so
each byte is read from the file once however small its member is.

A file can be scanned in parts (``start``/``stop``, each part in its own process) and
the parts joined (`join_parts`) into exactly what one scan of the whole file finds:
reading from an offset depends on nothing but that offset, so where a part's reading
passes through the offset its predecessor stopped at, the rest of it is what a single
scan would have read; where it does not (damage across the boundary), the gap is read
again here.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecordLoader
from warcio.statusandheaders import StatusAndHeadersParserException

from archiver.evidence import check as evidence_check
from archiver.net import recorded

CHUNK = 1 << 16
BLOCK = 1 << 20  # compressed bytes read from the file at a time
GZIP_MAGIC = b"\x1f\x8b\x08"
RECORD_END = b"\r\n\r\n"
# holds no state between records: one serves every parse
_LOADER = ArcWarcRecordLoader(verify_http=False, arc2warc=False)


class MemberError(Exception):
    """One gzip member or the record in it is damaged."""

    def __init__(self, what: str, *, truncated: bool = False) -> None:
        super().__init__(what)
        self.truncated = truncated


class _Source:
    """The file's bytes from any offset, read forward ``block`` bytes at a time into one
    buffer (a view of it is good until the next call)."""

    def __init__(self, f, block: int = BLOCK) -> None:
        self._f = f
        self._block = block
        self._buf = bytearray(block)
        self._len = 0  # bytes of _buf filled
        self._start = 0  # file offset of _buf[0]
        self._at_eof = False  # the read that filled _buf reached the end of the file

    def view(self, offset: int, n: int = CHUNK) -> memoryview:
        """Up to ``n`` bytes at ``offset`` (fewer only at the end of the file)."""
        i = offset - self._start
        have = self._len - i
        if i < 0 or have <= 0 or (have < n and not self._at_eof):
            want = max(self._block, n)
            if len(self._buf) < want:
                self._buf = bytearray(want)
            self._f.seek(offset)
            with memoryview(self._buf) as into:
                self._len = self._f.readinto(into[:want]) or 0
            self._start, i = offset, 0
            self._at_eof = self._len < want
        return memoryview(self._buf)[i : min(i + n, self._len)]


class _Member(io.RawIOBase):
    """The inflated bytes of the gzip member starting at ``offset``."""

    def __init__(self, src: _Source, offset: int) -> None:
        self._src = src
        self._at = offset
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.consumed = 0  # compressed bytes of this member read so far

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        z = self._z
        while not z.eof and len(b):
            data = self._src.view(self._at, max(len(b), CHUNK))
            if not data:
                raise MemberError("gzip member cut short (truncated file?)", truncated=True)
            try:
                out = z.decompress(data, len(b))
            except zlib.error as exc:
                raise MemberError(f"gzip data damaged: {exc}") from exc
            # each call is fed a fresh view at the member's current offset: what it did
            # not use is left over as unused_data (at the member's end) or unconsumed_tail
            used = len(data) - len(z.unused_data if z.eof else z.unconsumed_tail)
            self._at += used
            self.consumed += used
            if out:
                b[: len(out)] = out
                return len(out)
        return 0


@dataclass(frozen=True)
class RecordFacts:
    offset: int
    length: int  # of the gzip member
    record_id: str | None
    record_type: str | None
    refers_to: str | None
    warc_payload_digest: str | None
    document_digest: str | None  # sha256:<hex> of the decoded body; only where asked
    gzip_header: bytes
    problems: tuple[str, ...] = ()  # digest failures and the like; the record still counts
    evidence: evidence_check.EvidenceFacts | None = None  # a connection evidence record's


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


def _drain(stream) -> int:
    n = 0
    while chunk := stream.read(CHUNK):
        n += len(chunk)
    return n


def _document_digest(record) -> str:
    """sha256 of the body with chunking and content coding removed (warcio decodes)."""
    sha = hashlib.sha256()
    stream = record.content_stream()
    # warcio prints a broken content coding to stderr and ends the body there; the
    # digest then differs from the snapshot's, which is how verify reports it. Bounded
    # as at capture (`recorded.DOCUMENT_LIMIT`): a decompression bomb costs no more here
    with contextlib.redirect_stderr(io.StringIO()):
        recorded.read_document(stream, sha.update)
    return "sha256:" + sha.hexdigest()


def _parse(reader, want_document: bool):
    try:
        record = _LOADER.parse_record_stream(reader, known_format="warc", check_digests=True)
    except (ArchiveLoadFailed, StatusAndHeadersParserException, EOFError, ValueError) as exc:
        raise MemberError(f"no readable WARC record: {str(exc).strip()[:200]}") from exc
    digest = evidence = None
    if want_document and record.rec_type == "response" and record.http_headers:
        digest = _document_digest(record)
    if evidence_check.is_evidence(record.content_type, record.rec_type):
        evidence = evidence_check.read_record(record)
    _drain(record.raw_stream)
    return record, digest, evidence


def _record_problems(record, reader) -> tuple[str, ...]:
    """What is wrong with a record whose member inflated cleanly (its facts still count)."""
    found = [f"{record.rec_type} record: {p}" for p in record.digest_checker.problems]
    left = getattr(record.raw_stream, "limit", 0)
    if left:
        found.append(f"record ends {left} bytes short of its Content-Length")
    tail = reader.read(len(RECORD_END) + 1)
    stray = _drain(reader)  # always: the member must be inflated to its end (CRC check)
    if not left and (tail != RECORD_END or stray):
        found.append("gzip member holds more than one record (or stray bytes after it)")
    return tuple(found)


def read_member(f, offset: int, *, want_document: bool = False) -> RecordFacts:
    """Read and check the record in the gzip member at ``offset``; MemberError if damaged.

    ``f``: an open binary file (read from ``offset`` in small blocks) or a `_Source`.
    """
    src = f if isinstance(f, _Source) else _Source(f, CHUNK)
    header = bytes(src.view(offset, 10))
    if not header.startswith(GZIP_MAGIC):
        raise MemberError("no gzip member starts here")
    member = _Member(src, offset)
    reader = io.BufferedReader(member, CHUNK)
    record, digest, evidence = _parse(reader, want_document)
    problems = _record_problems(record, reader)
    h = record.rec_headers
    return RecordFacts(
        offset=offset,
        length=member.consumed,
        record_id=h.get_header("WARC-Record-ID"),
        record_type=record.rec_type,
        refers_to=h.get_header("WARC-Refers-To"),
        warc_payload_digest=h.get_header("WARC-Payload-Digest"),
        document_digest=digest,
        gzip_header=header,
        problems=problems,
        evidence=evidence,
    )


def _resync(src: _Source, start: int, size: int) -> int | None:
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
        src = _Source(f)
        offset = start
        while offset < stop and (offset == start or offset not in join):
            try:
                facts = read_member(src, offset, want_document=offset in wanted)
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


def file_sha256(path: Path) -> str:
    """The hex sha256 of a whole file."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


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
