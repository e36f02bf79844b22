"""A forward proxy that lets clients use real host names and reach only the loopback origin.

``CONNECT host:443`` becomes a byte tunnel to the HTTPS origin; an absolute-form request
``GET http://host/path`` goes to the HTTP origin, and its response comes back exactly as
the origin sent it. A host the fixture web does not serve behaves like a failed DNS
lookup: 502 for CONNECT (what real proxies answer), a silent close for plain HTTP.
The proxy never connects anywhere but 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
from collections.abc import Callable
from urllib.parse import SplitResult, urlsplit

from tests.web.relay import (
    BadMessage,
    ClientGone,
    Head,
    Peer,
    body_framing,
    parse_head,
    relay_body,
    reset,
    splice,
)
from tests.web.routing import Ports, split_host
from tests.web.serving import Tracking, no_delay

logger = logging.getLogger(__name__)


def _final(status: str, text: str) -> bytes:
    """A proxy-generated answer, after which the proxy closes the connection."""
    body = text.encode()
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


ESTABLISHED = b"HTTP/1.1 200 Connection established\r\n\r\n"
BAD_GATEWAY = _final("502 Bad Gateway", "unknown host (no DNS)\n")
BAD_REQUEST = _final("400 Bad Request", "this proxy needs absolute-form http:// URLs\n")
HOP_BY_HOP = {"proxy-connection", "proxy-authorization", "keep-alive"}


class ProxyServer(Tracking, socketserver.ThreadingTCPServer):
    daemon_threads = True
    request_queue_size = 128  # listen() backlog; the default 5 drops bursts of connects

    def __init__(self, *, knows: Callable[[str], bool], ports: Ports) -> None:
        self.knows = knows
        self.ports = ports
        Tracking.__init__(self)
        socketserver.ThreadingTCPServer.__init__(self, ("127.0.0.1", 0), ProxyHandler)


class ProxyHandler(socketserver.BaseRequestHandler):
    server: ProxyServer

    def setup(self) -> None:
        no_delay(self.request)
        self.server.track(self.request, alive=True)
        self.upstream: Peer | None = None

    def finish(self) -> None:
        self.server.track(self.request, alive=False)
        if self.upstream is not None:
            self.upstream.sock.close()

    def handle(self) -> None:
        client = Peer(self.request)
        try:
            while self._one_exchange(client):
                pass
        except ConnectionResetError:
            reset(self.request)  # pass the origin's RST on to the client
        except (BadMessage, ValueError):
            self._send(BAD_REQUEST)
        except (ClientGone, TimeoutError, OSError, EOFError):
            logger.debug("proxy connection ended", exc_info=True)

    def _send(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            self.request.sendall(data)

    def _one_exchange(self, client: Peer) -> bool:
        """Serve one request from the client; True if the connection stays open."""
        raw = client.read_head()
        if raw is None:
            return False
        head = parse_head(raw)
        method, target, version = head.start.split(" ")
        if method == "CONNECT":
            self._tunnel(client, target)
            return False
        parts = urlsplit(target)
        if parts.scheme != "http" or not parts.netloc:
            self._send(BAD_REQUEST)
            return False
        if not self.server.knows(split_host(parts.netloc)):
            return False  # as if DNS failed: no answer at all
        upstream = self._upstream(client)
        upstream.sock.sendall(_origin_head(head, parts))
        relay_body(client, upstream.sock, body_framing(head))
        keep = self._relay_response(upstream, method)
        return keep and not _client_closes(head, version)

    def _relay_response(self, upstream: Peer, method: str) -> bool:
        while True:
            raw = upstream.read_head()
            if raw is None:
                return False  # the origin closed without answering
            self.request.sendall(raw)
            head = parse_head(raw)
            status = int(head.start.split(" ")[1])
            if not 100 <= status < 200 or status == 101:
                break  # 1xx interim responses are followed by the real one
        closes = "close" in head.tokens("Connection")
        framing = "eof" if closes else body_framing(head, request_method=method)
        return relay_body(upstream, self.request, framing) and not closes

    def _upstream(self, client: Peer) -> Peer:
        """The origin connection, reopened if it closed or holds bytes nobody asked for."""
        if self.upstream is not None and self.upstream.has_pending():
            self.upstream.sock.close()
            self.upstream = None
        if self.upstream is None:
            sock = socket.create_connection(("127.0.0.1", self.server.ports.http), timeout=10)
            sock.settimeout(None)  # waits are bounded by the relay's select() instead
            no_delay(sock)
            self.upstream = Peer(sock, watch=client.sock)
        return self.upstream

    def _tunnel(self, client: Peer, authority: str) -> None:
        host, _, port = authority.rpartition(":")
        if not self.server.knows(split_host(host or authority)):
            self._send(BAD_GATEWAY)
            return
        origin = self.server.ports.http if port == "80" else self.server.ports.https
        upstream = socket.create_connection(("127.0.0.1", origin), timeout=10)
        upstream.settimeout(None)
        no_delay(upstream)
        try:
            self.request.sendall(ESTABLISHED)
            if client.buf:  # a client that did not wait for the 200
                upstream.sendall(client.buf)
            splice(self.request, upstream)
        finally:
            upstream.close()


def _origin_head(head: Head, parts: SplitResult) -> bytes:
    """The request as the origin should see it: origin-form target, Host from the URL."""
    method, _, version = head.start.split(" ")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {path} {version}", f"Host: {parts.netloc}"]
    # RFC 9112 §3.2.2: the absolute URI's authority replaces any Host the client sent.
    lines += [
        f"{name}: {value}"
        for name, value in head.fields
        if name.lower() not in HOP_BY_HOP and name.lower() != "host"
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _client_closes(head: Head, version: str) -> bool:
    connection = head.tokens("Connection") | head.tokens("Proxy-Connection")
    if version == "HTTP/1.0":
        return "keep-alive" not in connection
    return "close" in connection
