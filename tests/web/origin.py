"""The origin: one HTTP and one HTTPS server on loopback, routing every request on Host.

The standard library's `ThreadingHTTPServer` parses requests and keeps connections alive;
responses are written here by hand so framing (chunks, lengths, lies) is exactly what the
route asked for. TLS is wrapped in the connection's own thread, so a client that stalls
its handshake cannot block ``accept``.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import ssl
import time
from collections.abc import Iterable
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from tests.web.relay import reset, wait_readable
from tests.web.replies import Raw, Reply
from tests.web.routing import Ports, Request, Router, split_host
from tests.web.serving import Tracking, no_delay
from tests.web.world import Hit, World

logger = logging.getLogger(__name__)

CONTROL_HOST = "fixture.control"  # not part of the web under test: never counted as a hit
IDLE_TIMEOUT = 600.0  # a connection idle this long (or a stalled route) is dropped
HANDSHAKE_TIMEOUT = 10.0
SERVER = "fixture-web/1.0"


class OriginServer(Tracking, ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # listen() backlog; the default 5 drops bursts of connects

    def __init__(self, *, router: Router, world: World, tls: ssl.SSLContext | None) -> None:
        self.router = router
        self.world = world
        self.tls = tls
        self.ports = Ports(http=0, https=0)  # set by the owner once both servers are bound
        Tracking.__init__(self)
        ThreadingHTTPServer.__init__(self, ("127.0.0.1", 0), OriginHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a reverse DNS lookup: skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class OriginHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: OriginServer
    timeout = IDLE_TIMEOUT

    def setup(self) -> None:
        no_delay(self.request)
        if self.server.tls is not None:
            self.request.settimeout(HANDSHAKE_TIMEOUT)
            self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        super().setup()
        self.server.track(self.request, alive=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.request, alive=False)
            if self.server.tls is not None:
                self.request.close()  # the server only closes the (detached) plain socket

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("origin: " + format, *args)

    def serve(self) -> None:
        request = self._request()
        if request.host != CONTROL_HOST:
            self.server.world.hits.add(Hit(request.method, request.host, request.target))
        answer = self.server.router.answer(request)
        if isinstance(answer, Raw):
            self.close_connection = True
            answer.run(RawConnection(self.request))
        else:
            self._write(answer)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = serve

    def _request(self) -> Request:
        _drain_body(self)
        target, host = self.path, self.headers.get("Host", "")
        if "://" in target:  # absolute-form: RFC 9112 §3.2.2, its authority beats Host
            parts = urlsplit(target)
            host, target = parts.netloc, parts.path or "/"
            target += f"?{parts.query}" if parts.query else ""
        return Request(
            method=self.command,
            scheme="https" if self.server.tls is not None else "http",
            host=split_host(host),
            target=target,
            headers={k.lower(): v for k, v in self.headers.items()},
            world=self.server.world,
            ports=self.server.ports,
        )

    def _write(self, reply: Reply) -> None:
        head, chunked = _head(reply)
        if reply.close:
            self.close_connection = True
        if self.command == "HEAD" or reply.status in (204, 304) or reply.status < 200:
            self.wfile.write(head)
            return
        if not chunked and reply.stream is None:
            self.wfile.write(head + reply.body)  # one write: one segment for small replies
            return
        self.wfile.write(head)
        pieces = reply.chunks if reply.chunks is not None else _stream_or_body(reply)
        for piece in pieces:
            if chunked and piece:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            elif not chunked:
                self.wfile.write(piece)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")


def _stream_or_body(reply: Reply) -> Iterable[bytes]:
    return reply.stream() if reply.stream is not None else (reply.body,)


def _head(reply: Reply) -> tuple[bytes, bool]:
    """The status line and headers, and whether the body goes out chunked."""
    has_length = any(name.lower() == "content-length" for name, _ in reply.headers)
    chunked = reply.chunks is not None or (reply.stream is not None and not has_length)
    lines = [
        f"HTTP/1.1 {reply.status} {_reason(reply.status)}",
        f"Date: {formatdate(usegmt=True)}",
        f"Server: {SERVER}",
        *(f"{name}: {value}" for name, value in reply.headers),
    ]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    elif not has_length:
        lines.append(f"Content-Length: {len(reply.body)}")
    if reply.close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), chunked


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _drain_body(handler: BaseHTTPRequestHandler) -> None:
    """Read (and drop) a request body, so the next request on the connection parses."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        while size := int(handler.rfile.readline().split(b";")[0] or b"0", 16):
            handler.rfile.read(size + 2)
        while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailer fields
        return
    length = int(handler.headers.get("Content-Length") or 0)
    if length:
        handler.rfile.read(length)


class RawConnection:
    """The socket of a `Raw` route, with the few moves the misbehaving routes need."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def wait_for_close(self, seconds: float) -> None:
        """Block until the peer closes the connection, or ``seconds`` pass."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            readable = wait_readable([self.sock], min(left, 1.0))
            if not readable:
                continue
            try:
                if not self.sock.recv(65536):
                    return
            except (OSError, ValueError):
                return

    def reset(self) -> None:
        reset(self.sock)
