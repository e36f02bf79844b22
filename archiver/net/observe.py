"""What one connection to a server showed us: certificate, TLS, address, DNS answers.

Taken from the live socket right after it was connected (and the TLS handshake done),
never from a second connection: `observe` is called by `net.wire` once per socket. The
WARC record these facts become is `evidence.connection`'s.

What is observable and what is not:
- the certificates are those the server presented, DER, leaf first. Python before
  3.13 hands out only the leaf (`SSLSocket.getpeercert(binary_form=True)`); from 3.13
  `SSLSocket.get_unverified_chain()` gives the whole chain as presented. The facts
  say which (``chain``).
- behind an HTTP(S) proxy (CONNECT) the TLS session is still end-to-end, so the
  certificates and TLS parameters are the origin's; the address connected to is the
  proxy's, so the origin's address is not observable. The DNS answers are our own
  local lookup of the origin's name (the SSRF guard's), not the proxy's.
- plain HTTP: no TLS facts; address and DNS only.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from archiver.net.resolve import Lookup

LEAF_ONLY = (
    "leaf only: this Python's ssl module gives only the server's leaf certificate "
    "(SSLSocket.get_unverified_chain needs Python 3.13)"
)
FULL_CHAIN = "as presented: SSLSocket.get_unverified_chain()"


@dataclass(frozen=True, kw_only=True)
class ConnectionFacts:
    """One connection as the client saw it (a socket, from connect to close)."""

    id: str
    opened_at: datetime
    connected_to: str | None  # "ip:port" of the peer: the origin's, or the proxy's
    via_proxy: str | None  # the proxy's URL without credentials
    tls_version: str | None = None
    cipher: str | None = None
    cipher_bits: int | None = None
    certificates: tuple[bytes, ...] = ()  # DER, leaf first
    chain: str | None = None  # LEAF_ONLY or FULL_CHAIN (None: plain HTTP)
    dns: Lookup | None = None  # the lookup made for this connection (direct mode)

    @property
    def leaf(self) -> bytes | None:
        return self.certificates[0] if self.certificates else None


def proxy_without_credentials(proxy: str) -> str:
    """``scheme://host:port`` of a proxy URL: its user and password never leave."""
    parts = urlsplit(proxy)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def _peer(sock) -> str | None:
    """The address the socket is connected to (a PySocks socket's ``getpeername`` names
    the target it asked the proxy for; the proxy is the peer)."""
    try:
        address = getattr(sock, "get_proxy_peername", sock.getpeername)()
    except (OSError, AttributeError):
        return None
    host, port = str(address[0]), address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _certificates(sock) -> tuple[tuple[bytes, ...], str | None]:
    """The presented certificates (DER, leaf first) and which kind of list it is."""
    chain_of = getattr(sock, "get_unverified_chain", None)
    if chain_of is not None:  # Python 3.13+: a list of DER bytes, leaf first
        with contextlib.suppress(ValueError, OSError, TypeError):
            ders = tuple(chain_of() or ())
            if ders and all(isinstance(der, bytes) for der in ders):
                return ders, FULL_CHAIN
    try:
        leaf = sock.getpeercert(binary_form=True)
    except (ValueError, AttributeError, OSError):
        leaf = None
    return ((leaf,) if leaf else ()), LEAF_ONLY


def observe(sock, *, via_proxy: str | None, dns: Lookup | None) -> ConnectionFacts:
    """The facts of a connected (and, for https, handshaken) socket."""
    facts: dict[str, Any] = {}
    if hasattr(sock, "cipher") and hasattr(sock, "version"):  # ssl.SSLSocket, SSLTransport
        cipher = sock.cipher()
        certificates, chain = _certificates(sock)
        facts = dict(
            tls_version=sock.version(),
            cipher=cipher[0] if cipher else None,
            cipher_bits=cipher[2] if cipher else None,
            certificates=certificates,
            chain=chain,
        )
    return ConnectionFacts(
        id=f"urn:uuid:{uuid.uuid4()}",
        opened_at=datetime.now(UTC),
        connected_to=_peer(sock),
        via_proxy=via_proxy,
        dns=dns,
        **facts,
    )
