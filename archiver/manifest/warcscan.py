"""Read a record-gzipped WARC file strictly, member by member, for `archive verify`.

warcio parses each record and re-checks its WARC-Block-Digest / WARC-Payload-Digest,
and decodes the HTTP body (chunking, gzip/deflate) for our document digest. The gzip
members themselves are read here with zlib, because warcio's DecompressingBufferedReader
forgives damage an auditor must see: a data error after the first block is written to
stderr and read as end of data, and a truncated member just ends the record early
(warcio #138). Here every member must inflate cleanly to its end (zlib checks its CRC32
and length), hold exactly one record and nothing but the record's trailing CRLFs.

Everything is streamed: nothing holds a whole record in memory.
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

CHUNK = 1 << 16
GZIP_MAGIC = b"\x1f\x8b\x08"
RECORD_END = b"\r\n\r\n"


class MemberError(Exception):
    """One gzip member or the record in it is damaged."""

    def __init__(self, what: str, *, truncated: bool = False) -> None:
        super().__init__(what)
        self.truncated = truncated


class _Member(io.RawIOBase):
    """The inflated bytes of the gzip member starting at the file's current position."""

    def __init__(self, f) -> None:
        self._f = f
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._pending = b""
        self.consumed = 0  # compressed bytes of this member read so far

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._z.eof:
            if not self._pending:
                self._pending = self._f.read(CHUNK)
                if not self._pending:
                    raise MemberError("gzip member cut short (truncated file?)", truncated=True)
            fed = len(self._pending)
            try:
                out = self._z.decompress(self._pending, len(b))
            except zlib.error as exc:
                raise MemberError(f"gzip data damaged: {exc}") from exc
            self._pending = self._z.unconsumed_tail
            # at the member's end CPython's zlib may report the input left over both as
            # unused_data and (when this call was fed an unconsumed_tail) again as
            # unconsumed_tail: count it once, or a large member measures short
            left = len(self._z.unused_data) if self._z.eof else len(self._pending)
            self.consumed += fed - left
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


@dataclass
class WarcScan:
    size: int = 0
    records: dict[int, RecordFacts] = field(default_factory=dict)
    problems: list[tuple[int, str]] = field(default_factory=list)


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
    # digest then differs from the snapshot's, which is how verify reports it
    with contextlib.redirect_stderr(io.StringIO()):
        while chunk := stream.read(CHUNK):
            sha.update(chunk)
    return "sha256:" + sha.hexdigest()


def _parse(reader, want_document: bool):
    try:
        record = ArcWarcRecordLoader(verify_http=False, arc2warc=False).parse_record_stream(
            reader, known_format="warc", check_digests=True
        )
    except (ArchiveLoadFailed, StatusAndHeadersParserException, EOFError, ValueError) as exc:
        raise MemberError(f"no readable WARC record: {str(exc).strip()[:200]}") from exc
    digest = None
    if want_document and record.rec_type == "response" and record.http_headers:
        digest = _document_digest(record)
    _drain(record.raw_stream)
    return record, digest


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
    """Read and check the record in the gzip member at ``offset``; MemberError if damaged."""
    f.seek(offset)
    header = f.read(10)
    if not header.startswith(GZIP_MAGIC):
        raise MemberError("no gzip member starts here")
    f.seek(offset)
    member = _Member(f)
    reader = io.BufferedReader(member, CHUNK)
    record, digest = _parse(reader, want_document)
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
    )


def _resync(f, start: int, size: int) -> int | None:
    """The next offset after damage where an intact member starts, if any."""
    pos = start
    while pos < size:
        f.seek(pos)
        block = f.read(CHUNK + len(GZIP_MAGIC))
        if not block:
            return None
        hit = block.find(GZIP_MAGIC)
        if hit < 0:
            pos += CHUNK
            continue
        candidate = pos + hit
        try:
            read_member(f, candidate)
        except MemberError:
            pos = candidate + 1
            continue
        return candidate
    return None


def scan_warc(
    path: Path, *, wanted: set[int] | frozenset[int] = frozenset(), growing: bool = False
) -> WarcScan:
    """Every record of the file, in order; damage is noted and reading resumes after it.

    ``wanted``: offsets whose document digest to compute (the snapshots). ``growing``:
    a `.open` file still being written, whose last member may be incomplete.
    """
    scan = WarcScan(size=os.path.getsize(path))
    with open(path, "rb") as f:
        offset = 0
        while offset < scan.size:
            try:
                facts = read_member(f, offset, want_document=offset in wanted)
            except MemberError as exc:
                if growing and exc.truncated:
                    break
                scan.problems.append((offset, str(exc)))
                nxt = _resync(f, offset + 1, scan.size)
                if nxt is None:
                    break
                offset = nxt
                continue
            scan.records[offset] = facts
            scan.problems += [(offset, what) for what in facts.problems]
            offset += facts.length
    return scan


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
