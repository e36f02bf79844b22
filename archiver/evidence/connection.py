"""The WARC record of one connection's evidence (the facts `net.observe` took from the
socket: certificate, TLS, address, DNS answers).

The rule for WARC records (`evidence_body`, written by `capture.connections`): one
``metadata`` record per connection per capture, Content-Type `CONTENT_TYPE`. Its
WARC-Target-URI is the URI of the first response that came over the connection in
that capture, and it carries one ``WARC-Concurrent-To`` per response record of that
capture served over the connection (WARC 1.1 §5.7 lets the field repeat): a kept-alive
connection that served five requisites gets one record naming all five. A connection
reused by a later capture gets a record in that capture too, so every capture's
records stay self-contained (a one-article WACZ carries its own evidence).

Behind a proxy the origin's address is not observable (`NOT_OBSERVABLE`, see
`net.observe` for what is).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from archiver.net.observe import ConnectionFacts
from archiver.net.resolve import Lookup
from archiver.times import iso_micro

CONTENT_TYPE = "application/vnd.archiver.connection+json"
KIND = "connection-evidence"
FORMAT = 1
NOT_OBSERVABLE = "not observable: the connection was to the proxy, which connected to the origin"


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
        "opened_at": iso_micro(facts.opened_at),
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
