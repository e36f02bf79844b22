"""The document inside a recorded HTTP response, decoded exactly as `archive verify` does.

For a response that arrived whole and well-formed, the digest `fetch` computes while
streaming is the document digest. When it did not — cut by a reset, a stall, the page
time limit or the size cap, or with a broken content coding — what urllib3 handed over
and what warcio decodes from the recorded bytes differ: urllib3 drops the piece of a
read that failed, warcio falls back to the raw bytes when gzip fails on the first block
and skips a block that fails later. `archive verify`, pywb and cdxj-indexer all read
with warcio, so the snapshot's digest of such a hop is recomputed here from the
recording, with warcio's reader rules (`document_stream`: `ArcWarcRecord.content_stream`, brotli
decoded in bounded steps by `archiver.codings`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import threading
from typing import IO

from warcio.limitreader import LimitReader
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeadersParser

from archiver import codings

CHUNK = 64 * 1024
# A document is at most this long decoded, at capture and at `archive verify` alike: a
# body that inflates further (a decompression bomb) is cut here, and its digest covers
# these bytes. A size, not a time: the digest must not depend on the machine's speed.
DOCUMENT_LIMIT = 1 << 30
# warcio writes a mid-stream decoding error to sys.stderr; the redirect that hides it
# swaps a process-wide object, so two threads must never do it at once
_QUIET = threading.Lock()


def decodes(content_encoding: str | None) -> bool:
    """Whether the document is decoded from a body with this Content-Encoding.

    warcio's rule (`ArcWarcRecord.content_stream`), which verify, pywb and cdxj-indexer
    share: exactly one coding it knows (gzip, deflate, br; br only with brotlipy:
    `codings.decodable`). Stacked codings ("gzip, gzip") and unknown ones are not
    decoded: the document is the body as received.
    """
    if not content_encoding:
        return False
    return codings.decodable(content_encoding.strip().lower())


def document_stream(
    record: ArcWarcRecord, limit: int | None = None, *, raw_br: bool = False
) -> IO[bytes]:
    """The record's document as warcio's ``record.content_stream()`` reads it, up to
    ``limit`` (DOCUMENT_LIMIT): every reader of a recorded body in archiver goes through
    here, so a brotli bomb is decoded in bounded steps (`codings`), never all at once.
    ``raw_br``: a brotli body as sent, as an install without a brotli binding reads it."""
    limit = DOCUMENT_LIMIT if limit is None else limit
    return codings.content_stream(record, limit, raw_br=raw_br)


def read_document(content: IO[bytes], sink) -> None:
    """Feed ``sink`` the decoded document in pieces, stopping at DOCUMENT_LIMIT."""
    left = DOCUMENT_LIMIT
    while left > 0 and (chunk := content.read(min(CHUNK, left))):
        sink(chunk)
        left -= len(chunk)


def document_of(
    stream: IO[bytes], head_limit: int, broken: list[bool] | None = None
) -> tuple[str, int, bytes]:
    """(``sha256:`` digest, size, first ``head_limit`` bytes) of the recorded document.

    ``stream`` holds the HTTP response as received (status line, headers, body); it is
    left positioned at its end. ``broken`` gets True appended if a brotli coding broke
    (what urllib3 would have raised had it decoded the body).
    """
    sha, size, head = hashlib.sha256(), 0, bytearray()
    try:
        stream.seek(0, io.SEEK_END)
        total = stream.tell()
        stream.seek(0)
        try:
            parser = StatusAndHeadersParser(["HTTP/1.0", "HTTP/1.1"], verify=False)
            headers = parser.parse(stream)
        except (EOFError, ValueError):
            return "sha256:" + sha.hexdigest(), 0, b""
        body = LimitReader(stream, total - stream.tell())
        record = ArcWarcRecord("warc", "response", None, body, headers, "", total)

        def keep(chunk: bytes) -> None:
            nonlocal size
            sha.update(chunk)
            size += len(chunk)
            if len(head) < head_limit:
                head.extend(chunk[: head_limit - len(head)])

        content = document_stream(record)
        if getattr(content, "bounded_brotli", False):  # writes nothing to stderr
            read_document(content, keep)  # a bomb's GB do not hold other threads back
        else:
            with _QUIET, contextlib.redirect_stderr(io.StringIO()):
                read_document(content, keep)
        if broken is not None and getattr(content, "broken", False):
            broken.append(True)
    finally:
        stream.seek(0, io.SEEK_END)
    return "sha256:" + sha.hexdigest(), size, bytes(head)
