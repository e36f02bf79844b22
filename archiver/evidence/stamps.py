"""Trusted timestamps for closed WARC files and the ledger head: queue, stamp, check.

When: never while capturing. A WARC file's token is asked for after the file closed, by
a *stamping pass*: the daemon runs one as its own job, and `archive add`/`capture` run
one at their end, bounded by ``tsa_timeout`` per request. A pass (1) queues every closed
WARC file without a token row (so a file closed by a killed process, or while no TSA
answered, is found by the next pass from the store alone), (2) queues the ledger's last
line when ``stamp_every`` has passed since the last ledger stamp and the ledger grew,
(3) asks the TSAs for each due row in turn. A failure leaves the row queued with
``next_try`` moved back (``tsa_retry`` doubling up to ``tsa_retry_max``); nothing a
capture does waits on it.

Where the token goes: the store (`timestamp_token`, the whole reply in base64), a
``.tsr`` file (DER, what ``openssl ts -reply -in X.tsr -text`` reads) beside the WARC file
or, for ledger lines, in manifests/timestamps/, and a ``timestamp`` ledger line naming
the subject, its sha256, the TSA, the time and the file with its sha256.

What a token stamps: the subject's sha256 (the closed file's bytes; for the ledger, the
line's bytes without its newline: the digest the next line's ``prev`` repeats).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from archiver.errors import TsaError
from archiver.evidence.summary import stamp_summary
from archiver.evidence.tokens_check import TokenCheck, check_token, load_trust
from archiver.evidence.tsa import Token, first_token
from archiver.ledger import ledger_for
from archiver.ledger.chain import LEDGER_NAME, line_hash
from archiver.ledger.events import Paired
from archiver.ledger.pairs import write_paired
from archiver.tempfiles import create_beside
from archiver.times import iso

logger = logging.getLogger(__name__)

TOKEN_SUFFIX = ".tsr"
LEDGER_TOKENS = "timestamps"  # under manifests/
EVENT = "timestamp"


@dataclass
class StampReport:
    stamped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (name, why)
    queued: int = 0  # left queued after this pass (failed, not yet due, or out of time)

    def line(self) -> str:
        text = f"Timestamps: {len(self.stamped)} stamped, {self.queued} queued"
        if self.failed:
            text += f" (last error: {self.failed[-1][1]})"
        return text


# ---------------------------------------------------------------- for the manifest


def stamp_for_warc(store, warc_name: str) -> dict | None:
    """{"tsa", "time", "status"} of a WARC file's token (status "stamped"/"queued"), or
    None when the file was never queued (no TSA configured, or not closed yet)."""
    row = store.stamp_of("warc", warc_name)
    if row is None:
        return None
    return stamp_summary(row.tsa, row.token is not None, row.gen_time)


# ---------------------------------------------------------------- stamping


def _queue_ledger_head(app, now: datetime) -> None:
    ev = app.settings.evidence
    last = app.store.last_ledger_stamp()
    if last is not None and now - last.queued_at < timedelta(seconds=ev.stamp_every):
        return
    head = ledger_for(app.settings).head()
    if head is None:
        return
    try:
        line = json.loads(head)
    except ValueError:  # a broken line: `archive verify` reports it, nothing to stamp
        return
    if not isinstance(line, dict):
        return
    if line.get("event") == EVENT and line.get("kind") == "ledger":
        return  # nothing new since the last ledger stamp but that stamp's own line
    name = f"{LEDGER_NAME}#{line.get('seq')}"
    if last is not None and last.name == name:
        return
    app.store.queue_stamp(kind="ledger", name=name, sha256=line_hash(head), now=now)


def queue_all(app, now: datetime) -> None:
    """Queue the closed WARC files without a token row, and the ledger head when due."""
    for row in app.store.unqueued_warcs():
        app.store.queue_stamp(kind="warc", name=row.path, sha256=row.sha256, now=now)
    _queue_ledger_head(app, now)


def token_path(app, kind: str, name: str) -> Path:
    if kind == "warc":
        return app.root / (name + TOKEN_SUFFIX)
    seq = name.rpartition("#")[2]
    return app.settings.manifests_path / LEDGER_TOKENS / f"ledger-{seq}{TOKEN_SUFFIX}"


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_beside(path)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _rel(app, path: Path) -> str:
    return path.resolve().relative_to(app.root.resolve()).as_posix()


def _keep(app, row: Any, token: Token) -> bool:
    """File, store row and ledger line for a token just got, under the ledger's lock and
    by the ledger rule (`archiver.ledger.pairs`: row then line; a kill between the two
    is completed by the next writer). False, and nothing written, when another process
    (the daemon beside an `archive capture`) stamped the subject first."""
    path = token_path(app, row.kind, row.name)

    def commit(seqs: list[int]) -> list[Any]:
        now = app.store.stamp_of(row.kind, row.name)
        if now is None or now.token is not None:
            return []
        _write_file(path, token.reply)
        app.store.stamp_done(
            row.id,
            seq=seqs[0],
            tsa=token.tsa,
            token=base64.b64encode(token.reply).decode("ascii"),
            gen_time=token.gen_time,
            file=_rel(app, path),
        )
        return app.store.read_paired(Paired.TIMESTAMP, seqs)

    return bool(
        write_paired(
            ledger_for(app.settings, clock=app.clock), app.store, Paired.TIMESTAMP, 1, commit
        )
    )


def _backoff(app, attempts: int) -> timedelta:
    ev = app.settings.evidence
    return timedelta(seconds=min(ev.tsa_retry * 2 ** max(attempts, 0), ev.tsa_retry_max))


def stamp_pending(app, *, budget: float | None = None) -> StampReport:
    """One stamping pass (see the module docstring); ``budget`` seconds at most (None:
    until the queue is done). Off (an empty report) when no TSA is configured."""
    ev, report = app.settings.evidence, StampReport()
    if not ev.tsa_url:
        return report
    now = app.clock()
    queue_all(app, now)
    due = app.store.due_stamps(now)
    stop = None if budget is None else time.monotonic() + budget
    for i, row in enumerate(due):
        if stop is not None and time.monotonic() > stop:
            report.queued += len(due) - i
            break
        try:
            token = first_token(
                bytes.fromhex(row.sha256),
                list(ev.tsa_url),
                settings=app.settings.capture,
                timeout=ev.tsa_timeout,
            )
        except TsaError as exc:
            app.store.stamp_failed(
                row.id, error=str(exc), next_try=now + _backoff(app, row.attempts)
            )
            report.failed.append((row.name, str(exc)))
            report.queued += 1
            logger.warning("timestamp for %s queued: %s", row.name, exc)
            # every TSA is down: the rest would wait for the same timeouts
            report.queued += len(due) - i - 1
            break
        if _keep(app, row, token):
            report.stamped.append(row.name)
    return report


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
