"""Certificates for the HTTPS origin: one trustme CA, and an SNI switch for the bad hosts.

Every fixture host shares one leaf certificate. The ``*.badssl.test`` hosts get the
certificate their name promises, picked by SNI before the handshake goes on, so a client
sees the same failure it would on the real web: an expired leaf from the trusted CA, a
leaf for another name, a leaf from a CA nobody trusts.
"""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import trustme

EXPIRED_HOST = "expired.badssl.test"
WRONG_HOST = "wrong-host.badssl.test"
UNTRUSTED_HOST = "untrusted.badssl.test"
# The name the wrong-host certificate is valid for; no fixture host has it.
WRONG_HOST_CERT_NAME = "some-other-host.test"


@dataclass(frozen=True)
class Certs:
    ca: trustme.CA
    default: ssl.SSLContext
    special: Mapping[str, ssl.SSLContext]

    def write_ca(self, path: Path) -> Path:
        path.write_bytes(self.ca.cert_pem.bytes())
        return path

    def server_context(self) -> ssl.SSLContext:
        """The context to serve with: the shared leaf, switched by SNI for special hosts."""
        self.default.sni_callback = self._pick
        return self.default

    def _pick(self, sslobj: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        special = self.special.get((name or "").lower())
        if special is not None:
            sslobj.context = special


def make_certs(hosts: Iterable[str]) -> Certs:
    ca = trustme.CA(organization_name="fixture web test CA")
    names = sorted({*hosts, "localhost", "127.0.0.1"} - {EXPIRED_HOST, WRONG_HOST, UNTRUSTED_HOST})
    now = dt.datetime.now(dt.UTC)
    special = {
        EXPIRED_HOST: _context(
            ca.issue_cert(
                EXPIRED_HOST,
                not_before=now - dt.timedelta(days=400),
                not_after=now - dt.timedelta(days=35),
            )
        ),
        WRONG_HOST: _context(ca.issue_cert(WRONG_HOST_CERT_NAME)),
        UNTRUSTED_HOST: _context(
            trustme.CA(organization_name="nobody trusts this CA").issue_cert(UNTRUSTED_HOST)
        ),
    }
    return Certs(ca=ca, default=_context(ca.issue_cert(*names)), special=special)


def _context(leaf: trustme.LeafCert) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.set_alpn_protocols(["http/1.1"])  # the origin speaks HTTP/1.1 only
    leaf.configure_cert(ctx)
    return ctx
