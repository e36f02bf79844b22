"""What a route answers: a `Reply` (framed by the origin) or a `Raw` (bytes written by hand).

A `Reply` is plain data, so most routes are tables of values. Framing is explicit
because the archiver records and replays the wire bytes: ``chunks`` are sent as exactly
those chunks, and compressed bodies are produced with a fixed gzip mtime, so the same
request always gets the same bytes (except the Date header).
"""

from __future__ import annotations

import gzip
import socket
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html import escape
from typing import Protocol

Headers = tuple[tuple[str, str], ...]

HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True, kw_only=True)
class Reply:
    status: int = 200
    headers: Headers = ()
    body: bytes = b""
    # Sent with Transfer-Encoding: chunked, one chunk per item, in this order.
    chunks: tuple[bytes, ...] | None = None
    # Generated on the fly; framed by a Content-Length in ``headers`` if there is one,
    # otherwise chunked, one chunk per item.
    stream: Callable[[], Iterable[bytes]] | None = None
    close: bool = False  # announce Connection: close and close after the body


class RawIO(Protocol):
    """The connection as a `Raw` handler sees it."""

    sock: socket.socket

    def send(self, data: bytes) -> None: ...

    def wait_for_close(self, seconds: float) -> None: ...

    def reset(self) -> None: ...


@dataclass(frozen=True)
class Raw:
    """The handler writes every byte itself; the origin closes the connection after."""

    run: Callable[[RawIO], None]


def html(body: str | bytes, *, status: int = 200, headers: Headers = ()) -> Reply:
    data = body.encode() if isinstance(body, str) else body
    return Reply(status=status, headers=(("Content-Type", HTML), *headers), body=data)


def text(body: str, *, status: int = 200, headers: Headers = ()) -> Reply:
    return Reply(status=status, headers=(("Content-Type", TEXT), *headers), body=body.encode())


def redirect(location: str, *, status: int = 302, headers: Headers = ()) -> Reply:
    # Real servers send a tiny HTML body with a redirect; some clients display it.
    body = f'<html><body>Moved: <a href="{escape(location)}">here</a></body></html>\n'
    return html(body, status=status, headers=(("Location", location), *headers))


def gzip_bytes(data: bytes) -> bytes:
    # mtime=0 keeps the gzip header (and so the wire bytes) identical between runs.
    return gzip.compress(data, compresslevel=6, mtime=0)


def deflate_bytes(data: bytes) -> bytes:
    # RFC 9110 §8.4.1.2: "deflate" is the zlib format (RFC 1950), not raw deflate.
    return zlib.compress(data, 6)


def split(data: bytes, pieces: int) -> tuple[bytes, ...]:
    """``data`` cut into ``pieces`` nearly equal, non-empty parts (fewer if it is short)."""
    size = max(1, -(-len(data) // pieces))
    return tuple(data[i : i + size] for i in range(0, len(data), size))


def gzip_chunked(reply: Reply, pieces: int = 4) -> Reply:
    """The same reply, gzip-compressed and sent in ``pieces`` chunks."""
    return Reply(
        status=reply.status,
        headers=(*reply.headers, ("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")),
        chunks=split(gzip_bytes(reply.body), pieces),
    )
