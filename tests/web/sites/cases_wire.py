"""cases.test routes about the wire: codings, framing, size, timing, and broken messages.

Routes that must misbehave below HTTP (lie about a length, stall, reset) are `Raw`:
they write their own bytes. Everything generated on the fly is deterministic, so a
capture can be compared with what the route sends.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Iterator

from tests.web.replies import (
    HTML,
    Raw,
    RawIO,
    Reply,
    deflate_bytes,
    gzip_bytes,
    gzip_chunked,
    html,
    split,
)
from tests.web.routing import Request

MAX_WAIT = 600.0  # no route holds a connection longer than this
BLOCK = 64 * 1024
PATTERN = b"fixture-web streamed body 0123456789abcdefghijklmnopqrstuvwxyz\n"  # 64 bytes


def _page(title: str, words: int = 400) -> bytes:
    text = " ".join(f"word{i % 50}" for i in range(words))
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>\n'
        f"<body><h1>{title}</h1><p>{text}</p></body></html>\n"
    ).encode()


ENCODED_PAGE = _page("Encoded page")
GZIP_CHUNKED = gzip_chunked(html(ENCODED_PAGE), pieces=5)
CHUNKED = Reply(headers=(("Content-Type", HTML),), chunks=split(ENCODED_PAGE, 5))
GZIP = Reply(
    headers=(("Content-Type", HTML), ("Content-Encoding", "gzip")), body=gzip_bytes(ENCODED_PAGE)
)
DEFLATE = Reply(
    headers=(("Content-Type", HTML), ("Content-Encoding", "deflate")),
    body=deflate_bytes(ENCODED_PAGE),
)
BROKEN_GZIP = Reply(
    headers=(("Content-Type", HTML), ("Content-Encoding", "gzip")),
    body=b"\x1f\x8b\x08\x00this is not deflate data at all" * 4,
)
# Invalid UTF-8 (a lone continuation byte, an overlong form, 0xff) in a UTF-8 page.
BAD_UTF8 = html(
    b'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Bad UTF-8</title></head>\n'
    b"<body><p>Valid text, then invalid bytes: \x80 \xc0\xaf \xff\xfe and valid again: "
    b"\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82.</p></body></html>\n"
)
# Russian text in windows-1251 while both the header and the meta tag say UTF-8.
WRONG_CHARSET = html(
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Кодировка</title></head>\n'
    "<body><p>Эта страница на самом деле в кодировке windows-1251, а не UTF-8.</p>"
    "</body></html>\n".encode("cp1251")
)


def pattern(size: int) -> Iterator[bytes]:
    """``size`` bytes of a repeating pattern, in blocks, never all in memory."""
    block = PATTERN * (BLOCK // len(PATTERN))
    while size > 0:
        yield block[:size]
        size -= len(block)


def _size(request: Request) -> int:
    return max(0, int(request.number("size", 1024 * 1024)))


def big(request: Request) -> Reply:
    size = _size(request)
    return Reply(
        headers=(("Content-Type", "application/octet-stream"), ("Content-Length", str(size))),
        stream=lambda: pattern(size),
    )


def big_chunked(request: Request) -> Reply:
    size = _size(request)
    return Reply(
        headers=(("Content-Type", "application/octet-stream"),), stream=lambda: pattern(size)
    )


def huge_html(request: Request) -> Reply:
    """N MiB of ever-deeper, never-closed tags: a parser's worst day, streamed."""
    size = int(max(0.0, request.number("mb", 1)) * 2**20)

    def body() -> Iterator[bytes]:
        head = b"<!DOCTYPE html><html><head><title>Huge</title></head><body>"
        unit = b"<div class=a><p><span><b>nested <i>text & <table><tr><td>cell "
        block = head + unit * ((BLOCK - len(head)) // len(unit) + 1)
        sent = 0
        while sent < size:
            piece = block[: size - sent]
            block = unit * (BLOCK // len(unit) + 1)
            sent += len(piece)
            yield piece

    return Reply(headers=(("Content-Type", HTML), ("Content-Length", str(size))), stream=body)


def slow_headers(request: Request) -> Reply:
    time.sleep(min(MAX_WAIT, max(0.0, request.number("delay", 5))))
    return html(_page("Slow headers", 50))


def delay(request: Request) -> Reply:
    time.sleep(min(MAX_WAIT, max(0.0, request.number("ms", 100) / 1000)))
    return html(_page("Delayed", 50))


GZIP_TWICE = Reply(
    headers=(("Content-Type", HTML), ("Content-Encoding", "gzip, gzip")),
    body=gzip_bytes(gzip_bytes(ENCODED_PAGE)),
)


@functools.lru_cache(maxsize=8)
def _bomb(mb: int, layers: int) -> bytes:
    body = b"\0" * (mb << 20)
    for _ in range(layers):
        body = gzip_bytes(body)
    return body


def gzip_bomb(request: Request) -> Reply:
    """/gzip-bomb?mb=N&layers=K: N MiB of zeros gzipped K times (a few KiB on the wire)."""
    mb = int(min(256, max(1, request.number("mb", 16))))
    layers = int(min(3, max(1, request.number("layers", 1))))
    coding = ", ".join(["gzip"] * layers)
    return Reply(
        headers=(("Content-Type", "text/plain"), ("Content-Encoding", coding)),
        body=_bomb(mb, layers),
    )


def noise(size: int, seed: bytes = b"noise") -> bytes:
    """``size`` bytes of hex text from a sha256 chain: compresses, but not to nothing."""
    out, state = bytearray(), seed
    while len(out) < size:
        state = hashlib.sha256(state).digest()
        out += state.hex().encode()
    return bytes(out[:size])


@functools.lru_cache(maxsize=8)
def br_body(kind: str, mb: int = 0) -> bytes:
    """A brotli body (the binding is imported only by tests that have one): ``bomb`` (mb
    MiB of zeros, ~16 KB a 320 MiB), ``page`` (200 KB, many 16 KB blocks), ``garbage``
    (broken from the first byte), ``late`` (valid for 20,000 bytes, broken after)."""
    import brotli

    if kind == "bomb":
        return brotli.compress(b"\0" * (mb << 20), quality=5)
    if kind == "garbage":
        return b"<html>" + noise(40000, b"garbage")
    valid = brotli.compress(noise(200000))
    return valid if kind == "page" else valid[:20000] + noise(30000, b"garbage")


def br(request: Request) -> Reply:
    """/br?body=KIND[&mb=N][&chunked=1]: `br_body` under Content-Encoding: br."""
    body = br_body(request.query.get("body", "page"), int(min(2048, request.number("mb", 1))))
    headers = (("Content-Type", "text/plain"), ("Content-Encoding", "br"))
    if request.query.get("chunked"):
        return Reply(headers=headers, chunks=split(body, 7))
    return Reply(headers=headers, body=body)


def coded(request: Request) -> Reply:
    """/coded?ce=VALUE: the gzipped page under any Content-Encoding value at all."""
    value = request.query.get("ce", "gzip")[:200].replace("\r", "").replace("\n", "")
    return Reply(
        headers=(("Content-Type", HTML), ("Content-Encoding", value)),
        body=gzip_bytes(ENCODED_PAGE),
    )


def slow_body(request: Request) -> Reply:
    """Half a page, a pause of ``ms`` milliseconds, then the rest: a download in flight."""
    page = _page("Slow body", 200)
    pause = min(MAX_WAIT, max(0.0, request.number("ms", 1000) / 1000))

    def body() -> Iterator[bytes]:
        yield page[: len(page) // 2]
        time.sleep(pause)
        yield page[len(page) // 2 :]

    return Reply(headers=(("Content-Type", HTML), ("Content-Length", str(len(page)))), stream=body)


def _head(status: str, *fields: str) -> bytes:
    return ("\r\n".join((f"HTTP/1.1 {status}", *fields)) + "\r\n\r\n").encode()


def _stall(io: RawIO) -> None:
    io.send(_head("200 OK", "Content-Type: text/plain", "Content-Length: 1000000"))
    io.send(PATTERN * 16)
    io.wait_for_close(MAX_WAIT)


def _trickle(io: RawIO) -> None:
    # No length: the body runs until the connection closes, which here is never.
    io.send(_head("200 OK", "Content-Type: text/plain", "Connection: close"))
    deadline = time.monotonic() + MAX_WAIT
    while time.monotonic() < deadline:
        io.send(b".")
        time.sleep(0.5)


def _lying_short(io: RawIO) -> None:
    io.send(
        _head("200 OK", "Content-Type: text/plain", "Content-Length: 1000", "Connection: close")
    )
    io.send(PATTERN)


def _lying_long(io: RawIO) -> None:
    io.send(_head("200 OK", "Content-Type: text/plain", "Content-Length: 64", "Connection: close"))
    io.send(PATTERN * 3)


def _reset(io: RawIO) -> None:
    io.send(_head("200 OK", "Content-Type: text/plain", "Content-Length: 100000"))
    io.send(PATTERN * 8)
    time.sleep(0.05)  # let the partial body leave before the RST overtakes it
    io.reset()


ROUTES = {
    "/gzip-chunked": GZIP_CHUNKED,
    "/chunked": CHUNKED,
    "/gzip": GZIP,
    "/gzip-twice": GZIP_TWICE,
    "/gzip-bomb": gzip_bomb,
    "/coded": coded,
    "/br": br,
    "/deflate": DEFLATE,
    "/broken-gzip": BROKEN_GZIP,
    "/bad-utf8": BAD_UTF8,
    "/wrong-charset": WRONG_CHARSET,
    "/big": big,
    "/big-chunked": big_chunked,
    "/huge-html": huge_html,
    "/slow-headers": slow_headers,
    "/delay": delay,
    "/slow-body": slow_body,
    "/stall-body": Raw(_stall),
    "/trickle": Raw(_trickle),
    "/lying-length-short": Raw(_lying_short),
    "/lying-length-long": Raw(_lying_long),
    "/reset": Raw(_reset),
}
