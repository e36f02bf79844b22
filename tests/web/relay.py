"""Moving HTTP/1.1 messages between two sockets without changing a byte.

The proxy parses only what it needs to find where a message ends (RFC 9112 §6.3) and
copies everything else as received: chunk framing, content codings, a body that lies about
its length. `Peer` is a socket with its own read buffer, so bytes read past a message head
are never lost.
"""

from __future__ import annotations

import select
import socket
import struct
from dataclasses import dataclass

IDLE = 600.0  # seconds without a byte in either direction before a relay gives up
MAX_HEAD = 64 * 1024
CRLF2 = b"\r\n\r\n"


class BadMessage(Exception):
    """A message head that cannot be parsed."""


class ClientGone(Exception):
    """The client closed its connection while the proxy waited on the origin."""


@dataclass(frozen=True, kw_only=True)
class Head:
    start: str  # request line or status line
    fields: tuple[tuple[str, str], ...]

    def get(self, name: str) -> str | None:
        values = [v for k, v in self.fields if k.lower() == name.lower()]
        return ", ".join(values) if values else None

    def tokens(self, name: str) -> set[str]:
        """A comma-separated field's tokens, lower-case (Connection, Transfer-Encoding)."""
        return {t.strip().lower() for t in (self.get(name) or "").split(",") if t.strip()}


def parse_head(raw: bytes) -> Head:
    lines = raw.decode("latin-1").split("\r\n")
    fields = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or name != name.strip():
            raise BadMessage(f"bad header line {line!r}")
        fields.append((name, value.strip()))
    return Head(start=lines[0], fields=tuple(fields))


class Peer:
    """One side of a relay: a socket plus the bytes received but not yet consumed."""

    def __init__(self, sock: socket.socket, *, watch: socket.socket | None = None) -> None:
        self.sock = sock
        self.buf = b""
        self._watch = watch  # the other side; its hang-up aborts a wait on this one

    def recv(self) -> bytes:
        """Buffered bytes if any, else what arrives next; b"" at EOF."""
        if self.buf:
            data, self.buf = self.buf, b""
            return data
        self._wait_readable()
        return self.sock.recv(65536)

    def read_head(self) -> bytes | None:
        """Bytes up to and including the blank line; None on EOF before any byte."""
        while CRLF2 not in self.buf:
            if len(self.buf) > MAX_HEAD:
                raise BadMessage("message head too long")
            self._wait_readable()
            data = self.sock.recv(65536)
            if not data:
                if self.buf:
                    raise BadMessage("connection closed inside a message head")
                return None
            self.buf += data
        head, self.buf = self.buf.split(CRLF2, 1)
        return head + CRLF2

    def read_line(self) -> bytes:
        while b"\r\n" not in self.buf:
            data = self.recv()
            if not data:
                raise EOFError("connection closed inside chunk framing")
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line + b"\r\n"

    def has_pending(self) -> bool:
        """Bytes or EOF waiting that no request asked for (the connection is not clean)."""
        return bool(self.buf or wait_readable([self.sock], 0))

    def _wait_readable(self) -> None:
        while True:
            watched = [self.sock] if self._watch is None else [self.sock, self._watch]
            readable = wait_readable(watched, IDLE)
            if not readable:
                raise TimeoutError("relay idle too long")
            if self.sock in readable:
                return
            if _closed(self._watch):
                raise ClientGone
            self._watch = None  # pipelined bytes: stop watching rather than spin


def wait_readable(socks: list[socket.socket], timeout: float) -> list[socket.socket]:
    """The sockets with bytes, EOF or an error waiting, within ``timeout`` seconds.

    select.select() without its limit on descriptor numbers (1024): a proxy relaying
    hundreds of kept-alive tunnels holds more descriptors than that.
    """
    poller = select.poll()
    by_fd = {}
    for sock in socks:
        by_fd[sock.fileno()] = sock
        poller.register(sock, select.POLLIN | select.POLLPRI)
    return [by_fd[fd] for fd, _ in poller.poll(timeout * 1000)]


def _closed(sock: socket.socket | None) -> bool:
    try:
        return sock is not None and sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def relay_length(src: Peer, dst: socket.socket, length: int) -> bool:
    """Copy ``length`` bytes; False if the source closed first."""
    while length > 0:
        data = src.recv()
        if not data:
            return False
        if len(data) > length:
            data, src.buf = data[:length], data[length:] + src.buf
        dst.sendall(data)
        length -= len(data)
    return True


def relay_chunked(src: Peer, dst: socket.socket) -> bool:
    """Copy a chunked body, framing and trailers included; False if the source closed first."""
    try:
        while True:
            line = src.read_line()
            dst.sendall(line)
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            if not relay_length(src, dst, size + 2):
                return False
        while True:  # trailer section, ends with an empty line
            line = src.read_line()
            dst.sendall(line)
            if line == b"\r\n":
                return True
    except (EOFError, ValueError):
        return False


def relay_to_eof(src: Peer, dst: socket.socket) -> None:
    while data := src.recv():
        dst.sendall(data)


def relay_body(src: Peer, dst: socket.socket, framing: str | int | None) -> bool:
    """Copy a body framed as `body_framing` said; True if it ended where it should."""
    if framing is None:
        return True
    if framing == "chunked":
        return relay_chunked(src, dst)
    if framing == "eof":
        relay_to_eof(src, dst)
        return False
    return relay_length(src, dst, int(framing))


def body_framing(head: Head, *, request_method: str | None = None) -> str | int | None:
    """RFC 9112 §6.3: "chunked", a byte count, "eof" (read to close) or None (no body)."""
    if request_method is not None:
        status = int(head.start.split()[1])
        if request_method == "HEAD" or status < 200 or status in (204, 304):
            return None
    if "chunked" in head.tokens("Transfer-Encoding"):
        return "chunked"
    length = head.get("Content-Length")
    if length is not None:
        return int(length.split(",")[0])
    return "eof" if request_method is not None else None


def splice(a: socket.socket, b: socket.socket) -> None:
    """Copy both ways until both sides closed; a reset on one side resets the other."""
    other = {a: b, b: a}
    reading = {a, b}
    while reading:
        readable = wait_readable(list(reading), IDLE)
        if not readable:
            return
        for sock in readable:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                reset(other[sock])
                return
            if data:
                other[sock].sendall(data)
                continue
            reading.discard(sock)
            try:
                other[sock].shutdown(socket.SHUT_WR)
            except OSError:
                return


def reset(sock: socket.socket) -> None:
    # SO_LINGER on with zero timeout: close() sends RST instead of FIN.
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass
