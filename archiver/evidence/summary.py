"""The evidence summary of a snapshot: who captured it, from where, who served it.

An editor reads it in one glance (the manifest's HTML); a court expert re-derives every
line of it from the WARC: ``captured_by``, ``from`` and ``served_by`` are the
connection's evidence record (``record_id``; see `evidence.connection`) — the address
and DNS answers as written there, the certificate fields parsed from the DER leaf it
holds, the fingerprint the sha256 of those DER bytes. The summary is stored with the
snapshot (``snapshot.evidence``, schema v11) so that writing manifests never re-reads
a WARC; `archive verify` checks the stored fingerprint against the record.
"""

from __future__ import annotations

import getpass
import os
from datetime import datetime
from typing import Any

from cryptography import x509

from archiver import SOFTWARE, __version__
from archiver.evidence.connection import NOT_OBSERVABLE, fingerprint
from archiver.net.observe import ConnectionFacts
from archiver.net.resolve import Lookup
from archiver.times import iso


def operator(configured: str = "") -> str:
    """Who ran the capture: ``capture.operator`` if set, else the OS user of the process
    (its uid where it has no name)."""
    if configured:
        return configured
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return f"uid {os.getuid()}"


def captured_by(worker: str, configured_operator: str = "") -> dict[str, str]:
    return {
        "software": SOFTWARE,
        "version": __version__,
        "worker": worker,
        "operator": operator(configured_operator),
    }


def certificate(der: bytes) -> dict[str, Any]:
    """Subject, issuer, validity and sha256 fingerprint of a DER certificate.

    A certificate that does not parse keeps its fingerprint and says so: the bytes
    are what the server presented, whatever they are.
    """
    found: dict[str, Any] = {
        "subject": None,
        "issuer": None,
        "not_before": None,
        "not_after": None,
        "sha256": fingerprint(der),
    }
    try:
        cert = x509.load_der_x509_certificate(der)
        found.update(
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            not_before=iso(cert.not_valid_before_utc),
            not_after=iso(cert.not_valid_after_utc),
        )
    except ValueError as exc:
        found["error"] = f"certificate does not parse: {exc}"[:200]
    return found


def served_by(facts: ConnectionFacts, dns: Lookup | None) -> dict[str, Any]:
    """The server side of the connection: address, DNS answers, TLS and leaf certificate."""
    leaf = facts.leaf
    return {
        "address": None if facts.via_proxy else facts.connected_to,
        "address_note": NOT_OBSERVABLE if facts.via_proxy else None,
        "dns": list(dns.answers) if dns is not None else None,
        "tls_version": facts.tls_version,
        "cipher": facts.cipher,
        "chain": facts.chain,
        "certificate": certificate(leaf) if leaf else None,
    }


def snapshot_evidence(
    facts: ConnectionFacts, dns: Lookup | None, record_id: str, by: dict[str, str]
) -> dict[str, Any]:
    """What the store keeps with a snapshot (``snapshot.evidence``); ``by``: `captured_by`."""
    return {
        "record_id": record_id,
        "captured_by": dict(by),
        "from": "proxy" if facts.via_proxy else "direct",
        "via_proxy": facts.via_proxy,
        "served_by": served_by(facts, dns),
    }


def stamp_summary(tsa: str | None, stamped: bool, when: datetime | None) -> dict[str, Any]:
    """``timestamped_by``: the RFC 3161 token over the snapshot's WARC file (`archive
    verify` checks it against the file's sha256), or that it is still queued."""
    if not stamped:
        return {"tsa": None, "time": None, "status": "queued"}
    return {"tsa": tsa, "time": iso(when), "status": "stamped"}


def manifest_evidence(
    stored: dict[str, Any] | None,
    *,
    stamp: dict[str, Any] | None = None,
    key_fingerprint: str | None = None,
) -> dict[str, Any] | None:
    """The manifest's ``evidence`` key of a snapshot (None: captured before v11).

    ``stamp``: `stamp_summary` of its WARC file's token (None: no TSA asked, or the file
    is still open). ``key_fingerprint``: the archive's signing key, which signs the WACZ
    packages this snapshot is exported in (None: the archive has no key).
    """
    if not stored:
        return None
    signed = None
    if key_fingerprint:
        signed = {"key_fingerprint": key_fingerprint, "covers": "exported WACZ packages"}
    return {**stored, "timestamped_by": stamp, "signed": signed}
