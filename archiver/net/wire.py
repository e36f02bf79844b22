"""Record the bytes that actually crossed the socket, and guard the address connected.

urllib3 connection classes are subclassed (no global patching): a thread-local
`Exchange` set by the fetch code receives the request bytes as sent and the response
bytes as read by http.client — status line, headers, chunk framing and content coding
exactly as received. Reading is tee'd *behind* http.client's own buffered reader, so
read-ahead that http.client never consumed is not recorded.

The same connection classes refuse a connection whose peer address is not public
(unless allowed) right after the TCP handshake and before a single byte — TLS
ClientHello included — is sent. Checking the connected socket, not a DNS answer,
closes the DNS-rebinding gap; the name's lookup is checked before connecting too, so a
private port is never touched. Behind a proxy the client never learns the origin's
address: the fetch code resolves the name itself and refuses a private answer
(`fetch._proxy_refusal`); the proxy's own lookup is the proxy's to filter.

Each connection's evidence (issue 21: certificate, TLS parameters, peer address, the
lookup's DNS answers) is observed once, in `connect`, from the socket just connected
and handshaken, and handed to every exchange the connection carries
(`Exchange.connection`); `capture.connections` writes it as a WARC record.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import re
import threading
import time
from dataclasses import dataclass, field
from tempfile import SpooledTemporaryFile

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from archiver import urls
from archiver.errors import FetchTimeout, RefusedAddress
from archiver.net import observe as observing
from archiver.net import resolve

_SPOOL = 1 << 20  # keep up to 1 MiB of a message in memory, spill the rest to disk
CHUNK = 64 * 1024
_local = threading.local()


@dataclass
class Exchange:
    """What one request/response crossing recorded, plus the policy for its connection."""

    allow_private: bool = False
    record: bool = True
    request: SpooledTemporaryFile = field(default_factory=lambda: SpooledTemporaryFile(_SPOOL))
    response: SpooledTemporaryFile = field(default_factory=lambda: SpooledTemporaryFile(_SPOOL))
    response_bytes: int = 0
    peer_ip: str | None = None
    via_proxy: bool = False
    sock: object | None = None
    deadline: float | None = None  # time.monotonic() by which the page must be done
    # issue 21: the lookup of the origin's name (direct: at connect; proxy: by fetch)
    # and the facts of the connection that carried this exchange
    dns: resolve.Lookup | None = None
    connection: observing.ConnectionFacts | None = None

    def close(self) -> None:
        self.request.close()
        self.response.close()


def current() -> Exchange | None:
    return getattr(_local, "exchange", None)


class exchange_scope:
    """Make ``ex`` the thread's current exchange for the duration of one request."""

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex

    def __enter__(self) -> Exchange:
        _local.exchange = self.ex
        return self.ex

    def __exit__(self, *exc) -> None:
        _local.exchange = None


class _Tee:
    """A reader under http.client: counts (and, when recording, keeps) what it reads.

    Every piece read also checks the page time limit, so a peer dripping a byte at a
    time cannot hold the read past it (the watchdog's socket shutdown is the other
    half, for a read that blocks).
    """

    def __init__(self, fp, ex: Exchange) -> None:
        self._fp = fp
        self._ex = ex

    def _keep(self, data) -> None:
        if data:
            if self._ex.record:
                self._ex.response.write(data)
            self._ex.response_bytes += len(data)
        deadline = self._ex.deadline
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError("page time limit reached")

    # read/readinto go one system call at a time (read1/readinto1), keeping each piece as
    # it arrives: a buffered read that fails midway (a read timeout after a stall, a
    # reset) drops what it had gathered, and those bytes did cross the wire.

    def read(self, amt=None):
        if amt is None or amt < 0:
            return b"".join(iter(lambda: self.read1(CHUNK), b""))
        parts, got = [], 0
        while got < amt:
            data = self.read1(amt - got)
            if not data:
                break
            parts.append(data)
            got += len(data)
        return b"".join(parts)

    def read1(self, n=-1):
        data = self._fp.read1(n)
        self._keep(data)
        return data

    def readinto(self, b):
        view = memoryview(b).cast("B")
        got = 0
        while got < len(view):
            n = self._fp.readinto1(view[got:])
            if not n:
                break
            self._keep(view[got : got + n])
            got += n
        return got

    def readline(self, limit=-1):
        line = self._fp.readline(limit)
        self._keep(line)
        return line

    def peek(self, n=0):
        return self._fp.peek(n)

    def close(self):
        return self._fp.close()

    def flush(self):
        return self._fp.flush()

    @property
    def closed(self):
        return self._fp.closed

    def __getattr__(self, name):
        return getattr(self._fp, name)


def _peer_refusal(sock) -> str | None:
    try:
        host = sock.getpeername()[0]
    except OSError:
        return None
    return urls.address_refusal(ipaddress.ip_address(host.split("%", 1)[0]))


def refused(host: str, reason: str) -> RefusedAddress:
    """The one refusal message for a name whose address is not public.

    The same before connecting (the lookup's answer) and after (the connected peer),
    so an open and a closed private port read alike: no port probe through manifests.
    """
    return RefusedAddress(f"refused: {host} resolves to a {reason}")


class _RecordingMixin:
    """Shared by the plain, TLS and SOCKS connection classes below."""

    _in_tunnel = False
    _evidence: tuple[object, observing.ConnectionFacts] | None = None  # (socket, its facts)

    def _via_proxy(self) -> bool:
        return getattr(self, "proxy", None) is not None or hasattr(self, "_socks_options")

    def _proxy_url(self) -> str | None:
        """The proxy this connection goes through, without credentials (None: direct)."""
        proxy = getattr(self, "proxy", None)
        if proxy is not None:
            return observing.proxy_without_credentials(str(proxy))
        socks = getattr(self, "_socks_options", None)
        if socks is not None:
            scheme = _SOCKS_SCHEMES.get((socks["socks_version"], bool(socks["rdns"])), "socks")
            return f"{scheme}://{socks['proxy_host']}:{socks['proxy_port']}"
        return None

    def connect(self):
        # the connection's evidence, from the socket just connected (and TLS handshaken)
        super().connect()  # type: ignore[misc]
        ex = current()
        if ex is not None:
            dns = None if self._via_proxy() else ex.dns
            facts = observing.observe(self.sock, via_proxy=self._proxy_url(), dns=dns)  # type: ignore[attr-defined]
            self._evidence = (self.sock, facts)  # type: ignore[attr-defined]

    def _new_conn(self):
        ex = current()
        if ex is not None and ex.deadline is not None:
            # urllib3 retries a failed connect: no attempt may outlast the page time limit
            left = ex.deadline - time.monotonic()
            if left <= 0:
                raise FetchTimeout("timeout: page time limit reached")
            if self.timeout is None or self.timeout > left:  # type: ignore[has-type]
                self.timeout = left
        via_proxy = self._via_proxy()
        host = self.host  # type: ignore[attr-defined]
        if ex is not None and not via_proxy:
            # the lookup's answer first: a private address is refused before a packet
            # (looked up under allow_private too: its answers are the connection's evidence)
            ex.dns = resolve.lookup(host, self.port)  # type: ignore[attr-defined]
            if ex.dns.refusal and not ex.allow_private:
                raise refused(host, ex.dns.refusal)
        sock = super()._new_conn()  # type: ignore[misc]
        if ex is not None:
            # the watchdog's handle on every scheme: a plain-http connection is opened
            # inside `send`, after which a drip-fed read would otherwise never be cut
            ex.sock = sock
            ex.via_proxy = via_proxy
            if not via_proxy:
                try:
                    ex.peer_ip = sock.getpeername()[0]
                except OSError:
                    ex.peer_ip = None
                reason = None if ex.allow_private else _peer_refusal(sock)
                if reason:
                    sock.close()
                    raise refused(host, reason)
        return sock

    def _tunnel(self):
        # the CONNECT exchange with a proxy is transport, not the page: not recorded
        self._in_tunnel = True
        try:
            return super()._tunnel()  # type: ignore[misc]
        finally:
            self._in_tunnel = False

    def send(self, data):
        ex = current()
        if ex is not None:
            ex.sock = self.sock  # type: ignore[attr-defined]
            if not self._in_tunnel and ex.peer_ip is None:
                # a kept-alive connection is reused without `_new_conn`: its peer (checked
                # when it was opened) and its route are this request's too
                ex.via_proxy = self._via_proxy()
                if not ex.via_proxy:
                    with contextlib.suppress(OSError, AttributeError):
                        ex.peer_ip = self.sock.getpeername()[0]  # type: ignore[attr-defined]
            if ex.record and not self._in_tunnel:
                if hasattr(data, "read"):
                    raise TypeError("streamed request bodies are not recorded")
                ex.request.write(_without_proxy_credentials(data) if ex.via_proxy else data)
        sent = super().send(data)  # type: ignore[misc]
        if ex is not None and not self._in_tunnel:
            # after sending: http.client opens a plain-http connection inside `send`
            self._attach_evidence(ex)
        return sent

    def _attach_evidence(self, ex: Exchange) -> None:
        """The exchange was carried by this connection: its evidence is the exchange's."""
        known = self._evidence
        if known is not None and known[0] is self.sock:  # type: ignore[attr-defined]
            ex.connection = known[1]
            if ex.dns is None:  # a kept-alive direct connection: the lookup made for it
                ex.dns = known[1].dns

    def response_class(self, sock, *args, **kwargs):
        resp = http.client.HTTPResponse(sock, *args, **kwargs)
        ex = current()
        if ex is not None and not self._in_tunnel:
            resp.fp = _Tee(resp.fp, ex)
        return resp


# PySocks' proxy types (SOCKS4 = 1, SOCKS5 = 2) and remote DNS → the URL scheme given
_SOCKS_SCHEMES = {
    (1, False): "socks4",
    (1, True): "socks4a",
    (2, False): "socks5",
    (2, True): "socks5h",
}

_PROXY_AUTH = re.compile(rb"^proxy-authorization:[^\r\n]*\r\n", re.I | re.M)


def _without_proxy_credentials(data: bytes) -> bytes:
    """The request as the origin gets it: the proxy's password is for the proxy only.

    A plain-http request through an HTTP proxy carries ``Proxy-Authorization`` (over
    https it goes in the unrecorded CONNECT); the proxy consumes that header (RFC 9110
    §11.7.2), so the WARC's request record, which leaves in WACZ exports, never holds it.
    """
    return _PROXY_AUTH.sub(b"", bytes(data))


class RecordingHTTPConnection(_RecordingMixin, HTTPConnection):
    pass


class RecordingHTTPSConnection(_RecordingMixin, HTTPSConnection):
    pass


class RecordingHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = RecordingHTTPConnection


class RecordingHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = RecordingHTTPSConnection


POOL_CLASSES = {"http": RecordingHTTPConnectionPool, "https": RecordingHTTPSConnectionPool}


def socks_pool_classes() -> dict:
    """Recording pool classes for SOCKS proxies (PySocks is an optional extra)."""
    from urllib3.contrib.socks import (
        SOCKSConnection,
        SOCKSHTTPConnectionPool,
        SOCKSHTTPSConnection,
        SOCKSHTTPSConnectionPool,
    )

    class RecSOCKS(_RecordingMixin, SOCKSConnection):
        pass

    class RecSOCKSS(_RecordingMixin, SOCKSHTTPSConnection):
        pass

    class Pool(SOCKSHTTPConnectionPool):
        ConnectionCls = RecSOCKS

    class PoolS(SOCKSHTTPSConnectionPool):
        ConnectionCls = RecSOCKSS

    return {"http": Pool, "https": PoolS}
