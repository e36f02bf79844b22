"""`archive verify`'s checks of the connection evidence records (issue 21).

Rules, in the order applied:
1. A record with Content-Type `connection.CONTENT_TYPE` is well-formed: a JSON object
   of this kind and format whose ``responses`` are its WARC-Concurrent-To fields, and
   whose every certificate decodes from base64 to bytes whose sha256 is the one the
   record states (a changed certificate byte shows here).
2. Every WARC-Concurrent-To names a record found in some WARC file (checked after all
   files are read, as a revisit's WARC-Refers-To is).
3. Every snapshot with an evidence summary: its evidence record exists, names the
   snapshot's record, and its leaf certificate's sha256 (worked out from the DER, not
   read from the record) equals the fingerprint stored for the snapshot.

Pure functions: the WARC reading is `manifest.warcscan`'s, the rows are verify's.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from archiver.evidence.connection import CONTENT_TYPE, FORMAT, KIND, fingerprint
from archiver.net import recorded

BODY_LIMIT = 4 << 20  # an evidence record is a few KiB; more is not ours to parse


@dataclass(frozen=True)
class EvidenceFacts:
    """What verify keeps of one evidence record (small: it crosses process pools)."""

    record_id: str | None
    concurrent_to: tuple[str, ...]
    leaf_sha256: str | None  # worked out from the leaf's DER bytes
    problems: tuple[str, ...] = ()


def is_evidence(content_type: str | None, record_type: str | None) -> bool:
    return record_type == "metadata" and (content_type or "").split(";")[0].strip() == CONTENT_TYPE


def _certificates(tls: Any) -> tuple[str | None, list[str]]:
    """(sha256 of the leaf's DER, problems) of the record's ``tls`` part."""
    if tls is None:
        return None, []
    if not isinstance(tls, dict) or not isinstance(tls.get("certificates"), list):
        return None, ["tls is not an object with a certificates list"]
    problems, leaf = [], None
    for n, cert in enumerate(tls["certificates"]):
        try:
            der = base64.b64decode(cert["der_base64"], validate=True)
        except (TypeError, KeyError, binascii.Error, ValueError):
            problems.append(f"certificate {n} is not base64 DER")
            continue
        found = fingerprint(der)
        if found != cert.get("sha256"):
            problems.append(
                f"certificate {n} hashes to {found}, the record states {cert.get('sha256')}"
            )
        if n == 0:
            leaf = found
    return leaf, problems


def parse(record_id: str | None, concurrent_to: Iterable[str], body: bytes) -> EvidenceFacts:
    """Check one evidence record's block (rule 1)."""
    concurrent = tuple(concurrent_to)
    problems: list[str] = []
    if not concurrent:
        problems.append("evidence record has no WARC-Concurrent-To")
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, dict) or doc.get("kind") != KIND or doc.get("format") != FORMAT:
        problems.append(f"evidence record is not a {KIND} object of format {FORMAT}")
        return EvidenceFacts(record_id, concurrent, None, tuple(problems))
    if doc.get("responses") != list(concurrent):
        problems.append("evidence record's responses differ from its WARC-Concurrent-To fields")
    if doc.get("from") not in ("direct", "proxy") or (doc["from"] == "proxy") != bool(
        doc.get("via_proxy")
    ):
        problems.append("evidence record's from and via_proxy disagree")
    leaf, cert_problems = _certificates(doc.get("tls"))
    return EvidenceFacts(record_id, concurrent, leaf, tuple(problems + cert_problems))


def read_record(record) -> EvidenceFacts:
    """`parse` a warcio record (its block read up to BODY_LIMIT)."""
    h = record.rec_headers
    concurrent = [v for k, v in h.headers if k.lower() == "warc-concurrent-to"]
    body = recorded.document_stream(record, BODY_LIMIT + 1).read(BODY_LIMIT + 1)
    if len(body) > BODY_LIMIT:
        return EvidenceFacts(
            h.get_header("WARC-Record-ID"),
            tuple(concurrent),
            None,
            (f"evidence record is over {BODY_LIMIT} bytes",),
        )
    return parse(h.get_header("WARC-Record-ID"), concurrent, body)


@dataclass
class EvidenceReport:
    """`verify --json`'s ``evidence`` key: how many records and snapshots were checked."""

    records: int = 0
    snapshots: int = 0
    problems: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"records": self.records, "snapshots": self.snapshots, "problems": self.problems}


Found = tuple[str, int | None, str]  # (file, offset or None, what)


def record_problems(
    records: list[tuple[str, int, EvidenceFacts]], known_ids: set[str]
) -> list[Found]:
    """Rules 1 and 2 over every evidence record read."""
    found: list[Found] = []
    for file, offset, facts in records:
        found += [(file, offset, what) for what in facts.problems]
        found += [
            (file, offset, f"evidence record is concurrent to {rid}, found in no WARC file")
            for rid in facts.concurrent_to
            if rid not in known_ids
        ]
    return found


def snapshot_problems(
    snaps: Iterable[Any], records: list[tuple[str, int, EvidenceFacts]]
) -> tuple[list[Found], int]:
    """Rule 3; also how many snapshots had an evidence summary to check."""
    by_id = {facts.record_id: (file, off, facts) for file, off, facts in records}
    found: list[Found] = []
    checked = 0
    for snap in snaps:
        stored = getattr(snap, "evidence", None)
        if not stored:
            continue
        checked += 1
        rid = stored.get("record_id")
        cert = (stored.get("served_by") or {}).get("certificate") or {}
        if rid not in by_id:
            found.append(
                (
                    snap.warc,
                    snap.offset,
                    f"evidence record {rid} of snapshot {snap.record_id} found in no WARC file",
                )
            )
            continue
        file, off, facts = by_id[rid]
        if snap.record_id not in facts.concurrent_to:
            found.append(
                (file, off, f"evidence record {rid} does not name snapshot {snap.record_id}")
            )
        if cert.get("sha256") != facts.leaf_sha256:
            found.append(
                (
                    file,
                    off,
                    f"leaf certificate hashes to {facts.leaf_sha256}, "
                    f"snapshot {snap.record_id} stores {cert.get('sha256')}",
                )
            )
    return found, checked


def check(
    records: list[tuple[str, int, EvidenceFacts]], known_ids: set[str], snaps: Iterable[Any]
) -> tuple[list[Found], EvidenceReport]:
    """Every rule; what `archive verify` reports and counts."""
    found = record_problems(records, known_ids)
    by_snapshot, checked = snapshot_problems(snaps, records)
    found += by_snapshot
    return found, EvidenceReport(records=len(records), snapshots=checked, problems=len(found))
