"""Trusted timestamps, as the archive holds them: a WARC file's stamp for its manifest,
and the check of every stored token against the store and the ledger (`archive verify`).
The token itself (`evidence.tsa`) and its cryptographic check (`evidence.tokens_check`)
are evidence's.

A token stamps its subject's sha256 (a closed WARC file's bytes; for the ledger, the
line's bytes without its newline: the digest the next line's ``prev`` repeats). The
stamping pass that asks the TSAs and writes tokens is a run: `archiver.runs.stamps`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archiver.evidence.summary import stamp_summary
from archiver.evidence.tokens_check import TokenCheck, check_token, load_trust
from archiver.ledger import ledger_for
from archiver.ledger.chain import LEDGER_NAME, line_hash
from archiver.times import iso

EVENT = "timestamp"  # the ledger event a token is recorded by


# ---------------------------------------------------------------- for the manifest


def stamp_for_warc(store, warc_name: str) -> dict | None:
    """{"tsa", "time", "status"} of a WARC file's token (status "stamped"/"queued"), or
    None when the file was never queued (no TSA configured, or not closed yet)."""
    row = store.stamp_of("warc", warc_name)
    if row is None:
        return None
    return stamp_summary(row.tsa, row.token is not None, row.gen_time)


# ---------------------------------------------------------------- verify


@dataclass(frozen=True)
class TokenResult:
    kind: str
    name: str
    check: TokenCheck | None  # None: still queued

    def as_dict(self) -> dict[str, Any]:
        c = self.check
        return {
            "kind": self.kind,
            "subject": self.name,
            "status": "queued" if c is None else ("holds" if c.ok else "fails"),
            "what": None if c is None else c.what,
            "trusted": bool(c and c.trusted),
            "time": iso(c.gen_time) if c else None,
        }


def _subject_sha(row: Any, closed: dict[str, str], heads: dict[str, str]) -> str | None:
    """The subject's sha256 as the archive holds it now: a WARC file's is its
    `warc_file` row's, which `archive verify` proves equal to the file's own bytes and
    to its `warc-closed` ledger line (so no file is hashed twice); a ledger line's is
    the line re-hashed."""
    if row.kind == "warc":
        return closed.get(row.name)
    return heads.get(row.name)


@dataclass
class _LedgerView:
    """What token checks need of the ledger, in one read: each line's digest by its
    name ("ledger.jsonl#SEQ"), and the token sha256 each subject's timestamp lines name."""

    heads: dict[str, str] = field(default_factory=dict)
    stamped: dict[str, set[str]] = field(default_factory=dict)


def _ledger_view(app) -> _LedgerView:
    view = _LedgerView()
    for _, line in ledger_for(app.settings).lines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue  # `archive verify` reports the broken line itself
        if not isinstance(obj, dict):
            continue
        view.heads[f"{LEDGER_NAME}#{obj.get('seq')}"] = line_hash(line)
        if obj.get("event") == EVENT:
            view.stamped.setdefault(str(obj.get("subject")), set()).add(
                str(obj.get("token_sha256"))
            )
    return view


def check_stored_tokens(app) -> tuple[list[TokenResult], list[tuple[str, str]]]:
    """(every token's result, problems as (file, what)): each stored token against its
    subject as it is now, the .tsr file against the stored token, a ``timestamp`` ledger
    line naming the token's sha256, and the TSA's certificate against [evidence] tsa_trust."""
    rows = app.store.stamp_rows()
    if not rows:
        return [], []
    roots = load_trust(_trust_path(app))
    ledger = _ledger_view(app)
    closed = app.store.closed_warc_shas()
    results, problems = [], []
    for row in rows:
        if row.token is None:
            results.append(TokenResult(row.kind, row.name, None))
            continue
        reply = base64.b64decode(row.token)
        now_sha = _subject_sha(row, closed, ledger.heads)
        if now_sha is None:
            problems.append((row.name, "timestamped subject is not in the store or the ledger"))
            results.append(TokenResult(row.kind, row.name, TokenCheck(False, "subject missing")))
            continue
        check = check_token(reply, bytes.fromhex(now_sha), roots)
        if row.sha256 != now_sha:
            problems.append((row.name, "the sha256 queued for stamping is not the subject's"))
        results.append(TokenResult(row.kind, row.name, check))
        if not check.ok:
            problems.append((row.name, f"timestamp token: {check.what}"))
        problems += _file_problems(app, row, reply)
        if hashlib.sha256(reply).hexdigest() not in ledger.stamped.get(row.name, set()):
            problems.append((row.name, "no timestamp ledger line names this token"))
    return results, problems


def _file_problems(app, row: Any, reply: bytes) -> list[tuple[str, str]]:
    path = app.root / row.file if row.file else None
    if path is None or not path.is_file():
        return [(row.file or row.name, "timestamp token file missing")]
    if path.read_bytes() != reply:
        return [(row.file, "timestamp token file differs from the stored token")]
    return []


def _trust_path(app) -> Path | None:
    trust = app.settings.evidence.tsa_trust
    return (app.root / trust) if trust else None
