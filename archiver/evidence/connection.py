"""What one connection to a server showed us: certificate, TLS, address, DNS answers.

Taken from the live socket right after it was connected (and the TLS handshake done),
never from a second connection: `observe` is called by `net.wire` once per socket.

The rule for WARC records (`evidence_body`, written by `capture.engine`): one
``metadata`` record per connection per capture, Content-Type `CONTENT_TYPE`. Its
WARC-Target-URI is the URI of the first response that came over the connection in
that capture, and it carries one ``WARC-Concurrent-To`` per response record of that
capture served over the connection (WARC 1.1 §5.7 lets the field repeat): a kept-alive
connection that served five requisites gets one record naming all five. A connection
reused by a later capture gets a record in that capture too, so every capture's
records stay self-contained (a one-article WACZ carries its own evidence).

What is observable and what is not:
- the certificates are those the server presented, DER, leaf first. Python before
  3.13 hands out only the leaf (`SSLSocket.getpeercert(binary_form=True)`); from 3.13
  `SSLSocket.get_unverified_chain()` gives the whole chain as presented. The record
  says which (``chain``).
- behind an HTTP(S) proxy (CONNECT) the TLS session is still end-to-end, so the
  certificates and TLS parameters are the origin's; the address connected to is the
  proxy's, so the origin's address is recorded as not observable. The DNS answers are
  our own local lookup of the origin's name (the SSRF guard's), not the proxy's.
- plain HTTP: no TLS facts; address and DNS only.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from archiver.net.resolve import Lookup

CONTENT_TYPE = "application/vnd.archiver.connection+json"
KIND = "connection-evidence"
FORMAT = 1
LEAF_ONLY = (
    "leaf only: this Python's ssl module gives only the server's leaf certificate "
    "(SSLSocket.get_unverified_chain needs Python 3.13)"
)
FULL_CHAIN = "as presented: SSLSocket.get_unverified_chain()"
NOT_OBSERVABLE = "not observable: the connection was to the proxy, which connected to the origin"


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


def fingerprint(der: bytes) -> str:
    """The sha256 fingerprint of a DER certificate, as `openssl x509 -fingerprint` hashes."""
    return "sha256:" + hashlib.sha256(der).hexdigest()


def evidence_body(
    facts: ConnectionFacts,
    *,
    host: str,
    dns: Lookup | None,
    responses: list[str],
    captured_by: dict[str, str],
) -> dict[str, Any]:
    """The JSON block of a connection's evidence record (see the module docstring)."""
    tls = None
    if facts.tls_version is not None:
        tls = {
            "version": facts.tls_version,
            "cipher": facts.cipher,
            "cipher_bits": facts.cipher_bits,
            "chain": facts.chain,
            "certificates": [
                {"der_base64": base64.b64encode(der).decode("ascii"), "sha256": fingerprint(der)}
                for der in facts.certificates
            ],
        }
    return {
        "kind": KIND,
        "format": FORMAT,
        "connection": facts.id,
        "opened_at": facts.opened_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "host": host,
        "from": "proxy" if facts.via_proxy else "direct",
        "via_proxy": facts.via_proxy,
        "connected_to": facts.connected_to,
        "origin_address": None if facts.via_proxy else facts.connected_to,
        "origin_address_note": NOT_OBSERVABLE if facts.via_proxy else None,
        "dns": dns.as_json() if dns is not None else None,
        "dns_note": (
            "our own lookup of the origin's name (the proxy resolved it on its own)"
            if facts.via_proxy
            else "the lookup checked before connecting"
        )
        if dns is not None
        else "not looked up (allow_private behind a proxy)",
        "tls": tls,
        "responses": list(responses),
        "captured_by": dict(captured_by),
    }
