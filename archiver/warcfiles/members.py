"""One gzip member per WARC record: compressed, or stored where compressing is wasted.

A record's member is made outside the writer's lock (`WarcSink.compress`), so capture
threads compress in parallel and the lock only covers appending finished members.
"""

from __future__ import annotations

import functools
import struct
import zlib
from tempfile import SpooledTemporaryFile

from warcio.recordloader import ArcWarcRecord
from warcio.warcwriter import WARCWriter


class _GzipMember:
    """A file-like that compresses everything written into one gzip member."""

    def __init__(self, out, level: int) -> None:
        self._z = zlib.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        self._out = out

    def write(self, data) -> None:
        self._out.write(self._z.compress(data))

    def flush(self) -> None:  # warcio flushes at the end of a record; finish() ends it
        pass

    def finish(self) -> None:
        self._out.write(self._z.flush())


@functools.cache
def _gzip_header(level: int) -> bytes:
    """The 10 header bytes zlib writes for a gzip member at ``level`` (XFL depends on it)."""
    z = zlib.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    return (z.compress(b"") + z.flush())[:10]


class _StoredMember(_GzipMember):
    """One gzip member of stored (uncompressed) deflate blocks.

    zlib would mark a level-0 member's header (XFL) differently; the header written here
    is the one of the file's other members, so every member of a file keeps the same
    10 header bytes (`archive verify` points at a member whose header differs).
    """

    def __init__(self, out, level: int) -> None:
        self._z = zlib.compressobj(0, zlib.DEFLATED, -zlib.MAX_WBITS)
        self._out = out
        self._crc = 0
        self._size = 0
        out.write(_gzip_header(level))

    def write(self, data) -> None:
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        self._out.write(self._z.compress(data))

    def finish(self) -> None:
        trailer = struct.pack("<II", self._crc & 0xFFFFFFFF, self._size & 0xFFFFFFFF)
        self._out.write(self._z.flush() + trailer)


# Bodies that are compressed already (JPEG, PNG, video, fonts, archives, a gzip or br
# content coding): deflating them again costs ~20 ms of CPU per MB and saves under 1 %,
# so their records are stored in their gzip member, not compressed. A large body of any
# other type is stored when a sample of it does not compress.
_PACKED_TYPES = frozenset(
    {
        "image/jpeg",
        "image/pjpeg",
        "image/png",
        "image/apng",
        "image/gif",
        "image/webp",
        "image/avif",
        "image/heic",
        "image/heif",
        "image/jxl",
        "font/woff",
        "font/woff2",
        "application/font-woff",
        "application/font-woff2",
        "application/zip",
        "application/gzip",
        "application/x-gzip",
        "application/x-bzip2",
        "application/x-xz",
        "application/x-7z-compressed",
        "application/vnd.rar",
        "application/x-rar-compressed",
        "application/zstd",
        "application/epub+zip",
        "audio/mpeg",
        "audio/mp4",
        "audio/aac",
        "audio/ogg",
        "audio/opus",
        "audio/webm",
        "audio/flac",
    }
)
_PACKED_CODINGS = frozenset({"gzip", "x-gzip", "br", "zstd", "deflate", "compress"})
_HEAD_PEEK = 16 * 1024
_SAMPLE_FROM = 1 << 20  # bodies at least this long, of a type not listed, are sampled
_SAMPLE = 256 * 1024


def _packed_by_headers(head: bytes) -> bool:
    """Does this HTTP response head announce a compressed body?"""
    end = head.find(b"\r\n\r\n")
    if end < 0:
        return False
    for line in head[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-type":
            ctype = value.split(b";")[0].strip().lower().decode("latin-1")
            if ctype in _PACKED_TYPES or ctype.startswith("video/"):
                return True
        elif name == b"content-encoding":
            codings = {c.strip().lower().decode("latin-1") for c in value.split(b",")}
            if codings & _PACKED_CODINGS:
                return True
    return False


def stored(record: ArcWarcRecord) -> bool:
    """Write this record's gzip member without compressing (its body is compressed)?"""
    stream = record.raw_stream
    if record.rec_type != "response" or not stream.seekable():
        return False
    start = stream.tell()
    try:
        if _packed_by_headers(stream.read(_HEAD_PEEK)):
            return True
        if (record.length or 0) < _SAMPLE_FROM:
            return False
        stream.seek(start)
        sample = stream.read(_SAMPLE)
        return len(zlib.compress(sample, 1)) > 0.97 * len(sample)
    finally:
        stream.seek(start)


def compress_record(record: ArcWarcRecord, level: int) -> SpooledTemporaryFile:
    """One record → one gzip member, in a spooled temp file positioned at 0."""
    buf = SpooledTemporaryFile(max_size=1 << 20)  # noqa: SIM115 - returned to the caller
    member = (_StoredMember if stored(record) else _GzipMember)(buf, level)
    WARCWriter(member, gzip=False, warc_version="1.1").write_record(record)
    member.finish()
    buf.seek(0)
    return buf
