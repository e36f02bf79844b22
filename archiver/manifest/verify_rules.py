"""The rules of `archive verify`, each a pure function of plain values: a row, the
facts of the WARC record or ledger line it names, and the file to blame → problems.

`archiver.manifest.verify` gathers the rows, scans the files and reads the ledger,
then applies these (the steps are listed in its docstring).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archiver.ledger.chain import Ledger
from archiver.ledger.matching import PairedLines
from archiver.manifest.verify_report import Problem
from archiver.manifest.warcscan import WarcScan, odd_headers
from archiver.states import ReviewState
from archiver.warcfiles.reader import RecordFacts, file_sha256

# ------------------------------------------------------------------ the ledger


@dataclass
class LedgerFacts:
    """What verify needs from the ledger, gathered in one pass: the last line of each kind."""

    lines: int = 0
    snapshots: dict[str, tuple[int, dict]] = field(default_factory=dict)
    closed: dict[str, tuple[int, dict]] = field(default_factory=dict)
    reviews: dict[tuple[str, int], tuple[int, dict]] = field(default_factory=dict)
    paired: PairedLines = field(default_factory=PairedLines)


def read_ledger(ledger: Ledger) -> LedgerFacts:
    facts = LedgerFacts(lines=sum(1 for _ in ledger.lines()))
    for n, obj in ledger.events():
        facts.paired.take(n, obj)
        event = obj.get("event")
        if event == "snapshot":
            facts.snapshots[str(obj.get("record_id"))] = (n, obj)
        elif event == "warc-closed":
            facts.closed[str(obj.get("warc"))] = (n, obj)
        elif event == "review":
            facts.reviews[(str(obj.get("article")), obj.get("citation"))] = (n, obj)
    return facts


def snapshot_line_problems(snap: Any, entry: tuple[int, dict] | None, file: str) -> list[Problem]:
    if entry is None:
        return [Problem(file, f"no snapshot line for {snap.record_id} ({snap.warc}@{snap.offset})")]
    n, obj = entry
    fields = ("warc", "offset", "length", "payload_digest")
    differ = [k for k in fields if obj.get(k) != getattr(snap, k)]
    if not differ:
        return []
    return [
        Problem(
            file,
            f"snapshot line for {snap.record_id} disagrees with the store on {', '.join(differ)}",
            line=n,
        )
    ]


def review_line_problems(row: Any, entry: tuple[int, dict] | None, file: str) -> list[Problem]:
    ref = f"{row.article_id}:{row.n}"
    if entry is None:
        if row.state == ReviewState.PENDING:
            return []
        return [Problem(file, f"review of {ref} ({row.state}) has no ledger line")]
    n, obj = entry
    differ = [k for k in ("state", "note", "by") if obj.get(k) != getattr(row, k)]
    if not differ:
        return []
    return [
        Problem(
            file,
            f"last review line for {ref} disagrees with the store on {', '.join(differ)}",
            line=n,
        )
    ]


# ------------------------------------------------------------------ WARC files


def closed_file_problems(
    file: str,
    path: Path,
    scan: WarcScan,
    recorded: dict[str, tuple[int, str]],
    sha: str | None = None,
) -> list[Problem]:
    """Size and sha256 now against those recorded when the file was closed.

    ``sha``: the file's sha256 if it was already worked out.
    """
    if not recorded:
        return [
            Problem(
                file,
                "closed WARC file with no recorded size and sha256 "
                "(no warc_file row, no warc-closed ledger line)",
            )
        ]
    size, sha = scan.size, sha if sha is not None else file_sha256(path)
    if len(set(recorded.values())) > 1:
        return [Problem(file, "the store and the ledger record different size/sha256")]
    rec_size, rec_sha = next(iter(recorded.values()))
    where = " and ".join(recorded)
    found = []
    if size != rec_size:
        found.append(Problem(file, f"size {size} but {where} recorded {rec_size}"))
    if sha != rec_sha:
        found.append(
            Problem(
                file,
                f"sha256 {sha} but {where} recorded {rec_sha}: "
                "the file changed after it was closed",
            )
        )
        found += [
            Problem(
                file,
                "gzip header differs from the file's other members "
                "(bytes no record digest covers were changed)",
                offset=off,
            )
            for off in odd_headers(scan)
        ]
    return found


def snapshot_problems(snap: Any, facts: RecordFacts | None, file: str) -> list[Problem]:
    """Does the record at the snapshot's offset hold what the snapshot row says?"""
    off = snap.offset
    if facts is None:
        return [
            Problem(file, f"no intact WARC record here for snapshot {snap.record_id}", offset=off)
        ]
    checks = [
        (
            facts.record_id == snap.record_id,
            f"record is {facts.record_id}, the snapshot says {snap.record_id}",
        ),
        (
            facts.length == snap.length,
            f"gzip member is {facts.length} bytes, the snapshot says {snap.length}",
        ),
        (
            facts.record_type == snap.record_type,
            f"record is a {facts.record_type}, the snapshot says {snap.record_type}",
        ),
        (
            not snap.warc_payload_digest
            or snap.record_type != "response"
            or facts.warc_payload_digest == snap.warc_payload_digest,
            f"WARC-Payload-Digest {facts.warc_payload_digest} differs from the snapshot's "
            f"{snap.warc_payload_digest}",
        ),
        (
            not _document_to_check(snap) or _document_holds(snap, facts) or facts.document_unread,
            f"document digest {facts.document_digest} differs from the snapshot's "
            f"{snap.payload_digest}",
        ),
    ]
    return [Problem(file, what, offset=off) for ok, what in checks if not ok]


def _document_to_check(snap: Any) -> bool:
    return snap.record_type == "response" and bool(snap.payload_digest)


def _document_holds(snap: Any, facts: RecordFacts) -> bool:
    """The snapshot's digest is its document's, as this install or the other reads it."""
    return snap.payload_digest in (facts.document_digest, *facts.document_also)


def snapshot_unchecked(snap: Any, facts: RecordFacts | None, file: str) -> list[Problem]:
    """The snapshot's document digest this install could not check, and why (a brotli
    body where no brotli binding is installed and its digest is of the decoded body):
    not a problem, the record's WARC digests hold it, but said."""
    if facts is None or not facts.document_unread or not _document_to_check(snap):
        return []
    if _document_holds(snap, facts):
        return []
    what = f"document digest of snapshot {snap.record_id}: {facts.document_unread}"
    return [Problem(file, what, offset=snap.offset)]


def reuse_problems(ref: Any, facts: RecordFacts | None, file: str) -> list[Problem]:
    """Is the requisite copy a snapshot relies on (snapshot_reuse) where the store says?"""
    whose = f"reused {ref.url} of snapshot {ref.snapshot_record_id}"
    if facts is None:
        return [Problem(file, f"no intact WARC record here for the {whose}", offset=ref.offset)]
    if facts.record_id != ref.record_id:
        return [
            Problem(
                file,
                f"record is {facts.record_id}, the {whose} says {ref.record_id}",
                offset=ref.offset,
            )
        ]
    if facts.record_type not in ("response", "revisit"):
        return [Problem(file, f"the {whose} is a {facts.record_type} record", offset=ref.offset)]
    return []


def screenshot_problems(shot: Any, facts: RecordFacts | None, file: str) -> list[Problem]:
    """Is a screenshot (issue 20) the resource record its row says, where it says?"""
    off = shot.offset
    if facts is None:
        return [Problem(file, f"no intact WARC record here for screenshot {shot.record_id}", off)]
    checks = [
        (
            facts.record_id == shot.record_id,
            f"record is {facts.record_id}, the screenshot says {shot.record_id}",
        ),
        (
            facts.length == shot.length,
            f"gzip member is {facts.length} bytes, the screenshot says {shot.length}",
        ),
        (facts.record_type == "resource", f"the screenshot is a {facts.record_type} record"),
        (
            hex_digest(facts.warc_payload_digest) == shot.digest,
            f"the record's payload is {hex_digest(facts.warc_payload_digest)}, "
            f"the screenshot says {shot.digest}",
        ),
    ]
    return [Problem(file, what, offset=off) for ok, what in checks if not ok]


def hex_digest(warc_digest: str | None) -> str | None:
    """A WARC-Payload-Digest as the store writes digests: 'sha256:' + hex, not base32
    (warcio checks the header against the bytes; this ties the row to the header)."""
    algorithm, _, value = (warc_digest or "").partition(":")
    try:
        return f"{algorithm}:{base64.b32decode(value).hex()}"
    except (ValueError, binascii.Error):
        return None


def revisit_problems(facts: RecordFacts, known_ids: set[str], file: str) -> list[Problem]:
    if facts.refers_to is None:
        return [Problem(file, "revisit record has no WARC-Refers-To", offset=facts.offset)]
    if facts.refers_to not in known_ids:
        return [
            Problem(
                file,
                f"revisit refers to {facts.refers_to}, found in no WARC file",
                offset=facts.offset,
            )
        ]
    return []
