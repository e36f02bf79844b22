"""Read one gzip member of a record-gzipped WARC file strictly, and hash a whole file.

warcio parses each record and re-checks its WARC-Block-Digest / WARC-Payload-Digest.
The gzip members themselves are read here with zlib, because warcio's
DecompressingBufferedReader forgives damage an auditor must see: a data error after the
first block is written to stderr and read as end of data, and a truncated member just
ends the record early (warcio #138). Here every member must inflate cleanly to its end
(zlib checks its CRC32 and length), hold exactly one record and nothing but the
record's trailing CRLFs.

Everything is streamed: nothing holds a whole record in memory. A `Source` reads the
compressed bytes forward in large blocks and members are inflated from views of the
block, so each byte is read from the file once however small its member is. What a
caller wants from a record's content (a document digest, an evidence record's facts) it
reads with ``look``, while the record is open (`manifest.warcscan` does for verify).
"""

from __future__ import annotations

import hashlib
import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord, ArcWarcRecordLoader
from warcio.statusandheaders import StatusAndHeadersParserException

CHUNK = 1 << 16
BLOCK = 1 << 20  # compressed bytes read from the file at a time
GZIP_MAGIC = b"\x1f\x8b\x08"
RECORD_END = b"\r\n\r\n"
# holds no state between records: one serves every parse
_LOADER = ArcWarcRecordLoader(verify_http=False, arc2warc=False)
# what a caller reads from an open record: (document digest, anything else) or Nones
Look = Callable[[ArcWarcRecord], tuple["DocumentDigest | None", Any]]


class MemberError(Exception):
    """One gzip member or the record in it is damaged."""

    def __init__(self, what: str, *, truncated: bool = False) -> None:
        super().__init__(what)
        self.truncated = truncated


class Source:
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

    def __init__(self, src: Source, offset: int) -> None:
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
class DocumentDigest:
    """What a look at a response found of its document (``warcscan``)."""

    digest: str  # sha256:<hex> of the document as this install reads it
    # the same document's digest as an install with the other brotli rule reads it (a
    # brotli body is decoded only where a brotli binding is installed): either is its own
    also: tuple[str, ...] = ()
    unread: str | None = None  # why the document may be read otherwise elsewhere


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
    evidence: Any = None  # what ``look`` found besides the digest (verify: evidence facts)
    document_also: tuple[str, ...] = ()  # `DocumentDigest.also`
    document_unread: str | None = None  # `DocumentDigest.unread`


def _drain(stream) -> int:
    n = 0
    while chunk := stream.read(CHUNK):
        n += len(chunk)
    return n


def _parse(reader, look: Look | None):
    try:
        record = _LOADER.parse_record_stream(reader, known_format="warc", check_digests=True)
    except (ArchiveLoadFailed, StatusAndHeadersParserException, EOFError, ValueError) as exc:
        raise MemberError(f"no readable WARC record: {str(exc).strip()[:200]}") from exc
    digest, seen = look(record) if look is not None else (None, None)
    _drain(record.raw_stream)
    return record, digest, seen


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


def read_member(f, offset: int, *, look: Look | None = None) -> RecordFacts:
    """Read and check the record in the gzip member at ``offset``; MemberError if damaged.

    ``f``: an open binary file (read from ``offset`` in small blocks) or a `Source`;
    ``look``: what to read from the record's content while it is open.
    """
    src = f if isinstance(f, Source) else Source(f, CHUNK)
    header = bytes(src.view(offset, 10))
    if not header.startswith(GZIP_MAGIC):
        raise MemberError("no gzip member starts here")
    member = _Member(src, offset)
    reader = io.BufferedReader(member, CHUNK)
    record, document, evidence = _parse(reader, look)
    problems = _record_problems(record, reader)
    h = record.rec_headers
    return RecordFacts(
        offset=offset,
        length=member.consumed,
        record_id=h.get_header("WARC-Record-ID"),
        record_type=record.rec_type,
        refers_to=h.get_header("WARC-Refers-To"),
        warc_payload_digest=h.get_header("WARC-Payload-Digest"),
        document_digest=document.digest if document else None,
        gzip_header=header,
        problems=problems,
        evidence=evidence,
        document_also=document.also if document else (),
        document_unread=document.unread if document else None,
    )


def file_sha256(path: Path) -> str:
    """The hex sha256 of a whole file."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
