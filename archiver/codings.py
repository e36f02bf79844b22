"""Brotli decoded in bounded steps, and warcio readers that decode it that way.

A brotli body of a few KB can decode to many GB, and brotlipy (the binding pywb pulls
in) returns all the output of one ``decompress`` call at once: warcio's reader hands
it 16 KB blocks and urllib3 whole reads, so one call could take all memory. Here the
same C decoder is driven with brotlipy's own output buffer (5 × the input of a call,
at most STEP bytes), so a step never returns more than that, whatever the input.

warcio's semantics are kept exactly (the document digest at capture must equal what
`archive verify` computed before): a block's output is held in a spooled temp file
(disk past SPOOL bytes) until the whole block decoded; a block that fails is dropped,
or passed through raw when nothing was decoded before it (`BufferedReader._decompress`).
What a reader keeps is cut at its ``limit`` (the caller's DOCUMENT_LIMIT), so neither
memory nor disk grows with the bomb. Other codings go to warcio unchanged.

Importing this module also swaps warcio's brotli factory (`BufferedReader.DECOMPRESSORS`,
where `try_brotli_init` registered it) for one whose ``decompress`` refuses to return
more than CAPPED bytes from one call: a reader in this process that is not ours (pywb,
cdxj-indexer) then sees a broken coding instead of exhausting memory. "br" stays
registered, so `get_supported_decompressors` says the same as before.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import mmap
import tempfile
import zlib
from collections.abc import Iterator

from warcio.bufferedreaders import BufferedReader, ChunkedDataReader


def _binding():
    """(brotli, ffi, lib) of brotlipy, an optional package (pywb's), or Nones: no binding,
    or Google's Brotli, which warcio cannot drive (it sets ``unused_data`` on the
    decompressor and calls ``.decompress``; Google's has neither)."""
    try:
        module = importlib.import_module("brotli")
        cffi = importlib.import_module("brotli._brotli")
        return module, cffi.ffi, cffi.lib
    except (ImportError, AttributeError):
        return None, None, None


brotli, ffi, lib = _binding()
DECODE_ERRORS = (zlib.error, brotli.error) if brotli else (zlib.error,)

STEP = 8 << 20  # most decoded bytes one step returns (brotlipy's 5 × input, capped)
SPOOL = 4 << 20  # decoded bytes of a block kept in memory before spilling to disk
# after a reader's limit, how much more of the block that crosses it is decoded to learn
# whether the block fails (warcio would then drop it whole); past this it is cut
PAST_LIMIT = 1 << 30
CAPPED = 64 << 20  # most bytes warcio's own brotli decompressor returns from one call
BIG_CHUNK = 4 << 20  # an HTTP chunk over this is read in pieces (warcio reads it whole)
PIECE = 1 << 20  # what one read of such a chunk takes
# a zlib block (an HTTP chunk) over this is inflated in STEP-bounded calls, not in
# warcio's one call: deflate's ratio goes to ~1,000:1, so a 4 MiB chunk could make 4 GiB
ZLIB_WHOLE = 64 << 10
BR = "br"


def available() -> bool:
    """Whether brotli is decoded here (brotlipy importable)."""
    return lib is not None


def decodable(encoding: str) -> bool:
    """Whether a body under this (lower-case) Content-Encoding is decoded: one coding
    warcio knows, and brotli only where `available`. warcio registers Google's Brotli
    too, which it cannot drive (its decompressor takes no ``unused_data``), and urllib3's
    br decoder raised past its own error handling on a broken body with it: br is then
    read as sent, as on an install without any binding."""
    known = encoding in BufferedReader.get_supported_decompressors()
    return known and (encoding != BR or available())


class BrotliSteps:
    """One brotli stream, decoded in steps of at most STEP bytes.

    ``steps(data)`` yields what brotlipy's ``Decompressor.decompress(data)`` would return,
    in pieces, and raises ``brotli.error`` where that call would. Input after the end of
    the stream is ignored, as brotlipy ignores it.

    brotlipy offers the C decoder an output buffer of ``5 × len(data)`` bytes, and how
    much the decoder writes before it asks for more input depends on that size (a body
    cut or broken mid-stream ends elsewhere with another): so that buffer is emulated,
    handed to the decoder at most STEP bytes at a time, and where the decoder asks for
    more input while it still holds output the emulated buffer has room for, it is
    asked again, as the one big buffer would have taken it.

    An error sticks: brotlipy's decoder called again after it failed decodes on from a
    corrupt state, and can crash the process (SIGSEGV) on a hostile body, so every later
    call raises the first error without calling it. This is where the bytes differ from
    warcio's, which calls it again (and crashes with it).
    """

    unused_data = None  # warcio's reader asks (a gzip member boundary; brotli has none)

    def __init__(self) -> None:
        self._decoder = brotli.Decompressor()._decoder
        self._error: str | None = None

    def steps(self, data) -> Iterator[bytes]:
        """``data``: bytes, or any buffer (a big chunk's mapped temp file), read in place."""
        if self._error is not None:
            raise brotli.error(self._error)
        if not len(data):
            return  # warcio never asks; brotlipy would spin on a 0-byte buffer
        virtual = 5 * len(data)  # brotlipy's buffer for this call
        size = min(virtual, STEP)
        out = ffi.new("uint8_t[]", size)
        in_buffer = ffi.from_buffer("uint8_t[]", data)
        available_in = ffi.new("size_t *", len(data))
        next_in = ffi.new("uint8_t **", in_buffer)
        available_out = ffi.new("size_t *")
        next_out = ffi.new("uint8_t **")
        left = virtual  # room left in brotlipy's buffer
        try:
            while True:
                offer = min(size, left)
                available_out[0], next_out[0] = offer, out
                rc = lib.BrotliDecoderDecompressStream(
                    self._decoder, available_in, next_in, available_out, next_out, ffi.NULL
                )
                if rc == lib.BROTLI_DECODER_RESULT_ERROR:
                    code = lib.BrotliDecoderGetErrorCode(self._decoder)
                    message = ffi.string(lib.BrotliDecoderErrorString(code))
                    self._error = f"Decompression error: {message}"
                    raise brotli.error(self._error)
                wrote = offer - available_out[0]
                if wrote:
                    yield ffi.buffer(out, wrote)[:]
                left -= wrote
                if rc == lib.BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT:
                    left = left or virtual  # brotlipy's loop: a new buffer once one is full
                    continue
                more = rc == lib.BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT and left and wrote
                if not (more and lib.BrotliDecoderHasMoreOutput(self._decoder)):
                    return
        finally:
            ffi.release(in_buffer)  # the caller may unmap ``data`` next

    def flush(self) -> bytes:
        return b""


class _CappedBrotli(BrotliSteps):
    """warcio's brotli decompressor, but one call returning over CAPPED bytes fails."""

    def decompress(self, data: bytes) -> bytes:
        out, size = [], 0
        for piece in self.steps(data):
            size += len(piece)
            if size > CAPPED:
                raise brotli.error(f"brotli block decodes to over {CAPPED} bytes")
            out.append(piece)
        return b"".join(out)


class _Bounded:
    """What our readers add to warcio's: brotli decoded in steps, a large gzip or deflate
    block inflated in STEP-bounded calls, a big chunk read in pieces; kept up to
    ``limit``."""

    def _setup(self, limit: int) -> None:
        self.limit = limit
        self.broken = False  # a block failed to decode (dropped, or passed through raw)
        self._bounded = False  # a brotli body: cut at the limit, raw or decoded
        self._cut = False  # a big chunk's output was cut at the limit: read no more

    def _init_decomp(self, decomp_type):
        if decomp_type and decomp_type.lower() == BR and available():
            self.num_block_read = 0
            self.decomp_type = decomp_type
            self.decompressor = BrotliSteps()
            self._bounded = True
        else:
            super()._init_decomp(decomp_type)

    @property
    def bounded_brotli(self) -> bool:
        """A brotli body this reader decodes itself (it never writes to stderr)."""
        return self._bounded

    def _fillbuff(self, block_size=None):
        if (self._bounded or self._cut) and self.num_read >= self.limit and self.empty():
            self._drop_buff()  # the document ends at the limit: read no more input
            return
        super()._fillbuff(block_size)

    def _drop_buff(self) -> None:
        """Let the block read go (a spooled temp file: its disk too)."""
        if self.buff is not None:
            self.buff.close()
            self.buff = None

    def _process_read(self, data):
        self._drop_buff()  # called once the block before is read
        zlib_block = len(data) > ZLIB_WHOLE and hasattr(self.decompressor, "unconsumed_tail")
        if data and (self._bounded or zlib_block):
            self._process_block(_Block(data))
            return
        # warcio's own: a block of up to ZLIB_WHOLE inflates to at most ~1,000 times that
        super()._process_read(data)

    def close(self) -> None:
        self._drop_buff()
        super().close()

    def _process_block(self, block: _Block) -> None:
        """`BufferedReader._process_read` of one block, in bounded memory: its output
        (cut at the limit) is a spooled temp file."""
        room = max(self.limit - self.num_read, 0)
        self._drop_buff()  # the block before, read
        self.buff, size = self._decoded(block, room)
        self.buff_size = min(size, room)
        self._cut = self._cut or size > room
        self.num_read += self.buff_size
        self.num_block_read += self.buff_size

    def _decoded(self, block: _Block, room: int):
        """(readable, size) of one block decoded as `BufferedReader._decompress` does,
        cut at ``room`` bytes: a block that fails is dropped, or passed through raw when
        nothing was decoded before it (a deflate block is first tried as raw deflate)."""
        if self.decompressor is None:
            return _spooled(block.pieces(), room)
        try:
            return _spooled(self._decode(block), room, past=PAST_LIMIT)
        except DECODE_ERRORS:  # the decoder's (a full disk under the spool is not)
            # said of brotli only: gzip's readers are warcio's, which say nothing
            self.broken = self.broken or isinstance(self.decompressor, BrotliSteps)
            if self.num_block_read:
                # warcio writes the error to stderr here; ``broken`` says it instead, so
                # a reader of ours needs no process-wide stderr redirect (`recorded._QUIET`)
                return io.BytesIO(b""), 0
            if self.decomp_type == "deflate":
                self._init_decomp("deflate_alt")
                return self._decoded(block, room)
            self.decompressor = None  # nothing decoded before: the body was never coded
            return _spooled(block.pieces(), room)

    def _decode(self, block: _Block) -> Iterator[bytes]:
        decoder = self.decompressor
        if isinstance(decoder, BrotliSteps):
            # one call on the whole block, as warcio makes it: what brotli gives for a
            # stream cut short depends on where its input ran out
            with block.whole() as data:
                yield from decoder.steps(data)
            return
        for piece in block.pieces():
            if not hasattr(decoder, "unconsumed_tail"):
                yield decoder.decompress(piece)
            elif not decoder.eof:  # past its end, warcio's one call only adds unused_data
                yield from _zlib_steps(decoder, piece)


class _Block:
    """One block of input, as warcio's one ``_process_read`` call gets it: ``data``, or
    bytes ``start:end`` of a spooled temp file (a big chunk), read a PIECE at a time
    (zlib decodes the same whatever the split) or mapped whole (brotli). Re-readable: a
    deflate block is read again as raw deflate when its first try fails."""

    def __init__(self, data: bytes = b"", spool=None, start: int = 0, end: int = 0) -> None:
        self.data, self.spool, self.start, self.end = data, spool, start, end

    def pieces(self) -> Iterator[bytes]:
        if self.spool is None:
            yield self.data
            return
        self.spool.seek(self.start)
        left = self.end - self.start
        while left > 0 and (piece := self.spool.read(min(PIECE, left))):
            left -= len(piece)
            yield piece

    @contextlib.contextmanager
    def whole(self) -> Iterator[memoryview]:
        if self.spool is None:
            with memoryview(self.data) as view:
                yield view
            return
        self.spool.rollover()  # on disk: mapped, not read into memory
        self.spool.flush()
        with (
            mmap.mmap(self.spool.fileno(), self.end, access=mmap.ACCESS_READ) as mapped,
            memoryview(mapped) as view,
            view[self.start : self.end] as span,
        ):
            yield span


def _zlib_steps(decoder, piece: bytes) -> Iterator[bytes]:
    """``decoder.decompress(piece)`` in calls of at most STEP bytes out. A call that
    filled STEP may leave decoded bytes inside zlib with no input left, so the loop goes
    on until one returns less; a call that reaches the end of the stream leaves what
    follows in ``unconsumed_tail`` as well as ``unused_data`` (CPython), so it stops."""
    out = decoder.decompress(piece, STEP)
    yield out
    while not decoder.eof and (decoder.unconsumed_tail or len(out) == STEP):
        out = decoder.decompress(decoder.unconsumed_tail, STEP)
        yield out


def _spooled(pieces, room: int, past: int = 0):
    """(spooled temp file holding the first ``room`` bytes of ``pieces``, their size);
    reading stops ``past`` bytes after ``room``."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL)  # noqa: SIM115 (the buffer)
    size = 0
    try:
        for piece in pieces:
            if size < room:
                spool.write(piece[: room - size])
            size += len(piece)
            if size > room + past:
                break
    except BaseException:
        spool.close()
        raise
    finally:
        if hasattr(pieces, "close"):
            pieces.close()  # a decoding generator: its mapped input is let go now
    spool.seek(0)
    return spool, size


def _chunk_size(length_line: bytes) -> int | None:
    """The size a chunk's length line gives, as warcio parses it; None where warcio
    refuses it (its own code then says so)."""
    if length_line[-2:] != b"\r\n":
        return None
    try:
        size = int(length_line[:-2].split(b";")[0], 16)
    except ValueError:
        return None
    return size if 0 <= size <= 2**31 else None


class BoundedReader(_Bounded, BufferedReader):
    """warcio's `BufferedReader`, brotli decoded in bounded steps and cut at ``limit``."""

    def __init__(self, stream, *, limit: int, **kwargs) -> None:
        self._setup(limit)
        super().__init__(stream, **kwargs)


class BoundedChunkedReader(_Bounded, ChunkedDataReader):
    """warcio's `ChunkedDataReader`, brotli decoded in bounded steps and cut at ``limit``;
    a chunk over BIG_CHUNK bytes is read in pieces into a spooled temp file, where
    warcio reads a chunk (up to 2 GiB, a few MB in a .warc.gz) into memory whole."""

    def __init__(self, stream, *, limit: int, **kwargs) -> None:
        self._setup(limit)
        super().__init__(stream, **kwargs)

    def _try_decode(self, length_header):
        size = _chunk_size(length_header)
        if size is None or size <= BIG_CHUNK or self.raise_chunked_data_exceptions:
            super()._try_decode(length_header)
            return
        with tempfile.SpooledTemporaryFile(max_size=SPOOL) as raw:
            raw.write(length_header)  # warcio reads it with the chunk when no CRLF follows
            got = _copy(self.stream, raw, size)
            end = len(length_header) + got
            if got < size:
                self.all_chunks_read = True  # cut off: what there is counts (warcio's)
            elif self.stream.read(2) != b"\r\n":
                # as warcio's _fillbuff: the length line and the chunk are read as not
                # chunked, and so is the rest
                self._process_block(_Block(spool=raw, start=0, end=end))
                self.not_chunked = True
                super(ChunkedDataReader, self)._fillbuff()
                return
            if got:
                self._process_block(_Block(spool=raw, start=len(length_header), end=end))
            else:
                self._process_read(b"")


def _copy(stream, spool, size: int) -> int:
    """Copy up to ``size`` bytes of ``stream`` to ``spool``, a PIECE at a time; how many."""
    got = 0
    while got < size and (piece := stream.read(min(PIECE, size - got))):
        spool.write(piece)
        got += len(piece)
    return got


def content_stream(record, limit: int, *, raw_br: bool = False):
    """`ArcWarcRecord.content_stream` with our readers: the same bytes up to ``limit``.

    ``raw_br``: a brotli body is read as sent (dechunked only), as warcio reads it where
    no brotli binding is installed."""
    if not getattr(record, "http_headers", None):
        return record.content_stream()  # nothing to decode: warcio's raw stream
    encoding = record.http_headers.get_header("content-encoding")
    if encoding:
        encoding = encoding.lower()
        if not decodable(encoding) or (raw_br and encoding == BR):
            encoding = None
    if record.http_headers.get_header("transfer-encoding") == "chunked":
        return BoundedChunkedReader(record.raw_stream, decomp_type=encoding, limit=limit)
    if encoding:
        return BoundedReader(record.raw_stream, decomp_type=encoding, limit=limit)
    return record.raw_stream


class BodyDecoder:
    """A brotli body decoded as it streams, for a fetch that keeps no recording to
    decode later: steps of at most STEP bytes; once the coding breaks, ``broken`` is set
    and the rest passes through as sent."""

    def __init__(self) -> None:
        self._steps = BrotliSteps()
        self.broken = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self.broken:
            yield data
            return
        try:
            yield from self._steps.steps(data)
        except brotli.error:
            self.broken = True


if available() and BR in BufferedReader.DECOMPRESSORS:
    BufferedReader.DECOMPRESSORS[BR] = _CappedBrotli  # the class is the factory
