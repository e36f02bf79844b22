"""The document inside a recorded HTTP response, decoded exactly as `archive verify` does.

For a response that arrived whole and well-formed, the digest `fetch` computes while
streaming is the document digest. When it did not — cut by a reset, a stall, the page
time limit or the size cap, or with a broken content coding — what urllib3 handed over
and what warcio decodes from the recorded bytes differ: urllib3 drops the piece of a
read that failed, warcio falls back to the raw bytes when gzip fails on the first block
and skips a block that fails later. `archive verify`, pywb and cdxj-indexer all read
with warcio, so the snapshot's digest of such a hop is recomputed here from the
recording, with warcio's own reader (`ArcWarcRecord.content_stream`).
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

CHUNK = 64 * 1024
# warcio writes a mid-stream decoding error to sys.stderr; the redirect that hides it
# swaps a process-wide object, so two threads must never do it at once
_QUIET = threading.Lock()


def document_of(stream: IO[bytes], head_limit: int) -> tuple[str, int, bytes]:
    """(``sha256:`` digest, size, first ``head_limit`` bytes) of the recorded document.

    ``stream`` holds the HTTP response as received (status line, headers, body); it is
    left positioned at its end.
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
        with _QUIET, contextlib.redirect_stderr(io.StringIO()):
            content = record.content_stream()
            while chunk := content.read(CHUNK):
                sha.update(chunk)
                size += len(chunk)
                if len(head) < head_limit:
                    head += chunk[: head_limit - len(head)]
    finally:
        stream.seek(0, io.SEEK_END)
    return "sha256:" + sha.hexdigest(), size, bytes(head)
