"""What the origin and the proxy servers share: connection tracking and a serving thread.

Handler threads are daemons, but a clean stop should still not leave a thread blocked on a
keep-alive connection for minutes: the server remembers its open connections and shuts
them down on stop, which wakes every thread waiting on one.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import sys
import threading

logger = logging.getLogger(__name__)


class Tracking:
    """Mixin for a `socketserver` server: remembers open connections, quiet on hang-ups."""

    server_address: tuple[str, int]

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def track(self, sock: socket.socket, alive: bool) -> None:
        with self._lock:
            (self._open.add if alive else self._open.discard)(sock)

    def close_connections(self) -> None:
        """Wake every handler thread blocked on a connection (idle keep-alive, stalls)."""
        with self._lock:
            socks = list(self._open)
        for sock in socks:
            # The base method, so an SSLSocket's TLS state is left alone.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients hanging up, failing TLS on purpose, timing out: expected, not errors.
        if isinstance(sys.exc_info()[1], OSError):
            logger.debug("connection from %s ended", client_address, exc_info=True)
            return
        super().handle_error(request, client_address)  # type: ignore[misc]


def no_delay(sock: socket.socket) -> None:
    # Heads and bodies go out in separate writes; with Nagle's algorithm the second one
    # waits for the peer's delayed ACK, 40 ms per response on Linux loopback.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def serve_in_thread(server: socketserver.BaseServer, name: str) -> threading.Thread:
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
    )
    thread.start()
    return thread


def stop_server(server: socketserver.BaseServer, thread: threading.Thread) -> None:
    server.shutdown()
    server.server_close()
    if isinstance(server, Tracking):
        server.close_connections()
    thread.join(timeout=5)
