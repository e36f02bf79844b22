"""The stamping pass: trusted timestamps for closed WARC files and the ledger head.

When: never while capturing. A WARC file's token is asked for after the file closed, by
a *stamping pass*: the daemon runs one as its own job, and `archive add`/`capture` run
one at their end, bounded by ``tsa_timeout`` per request. A pass (1) queues every closed
WARC file without a token row (so a file closed by a killed process, or while no TSA
answered, is found by the next pass from the store alone), (2) queues the ledger's last
line when ``stamp_every`` has passed since the last ledger stamp and the ledger grew,
(3) asks the TSAs for each due row in turn (`evidence.tsa`). A failure leaves the row
queued with ``next_try`` moved back (``tsa_retry`` doubling up to ``tsa_retry_max``);
nothing a capture does waits on it.

Where the token goes: the store (`timestamp_token`, the whole reply in base64), a
``.tsr`` file (DER, what ``openssl ts -reply -in X.tsr -text`` reads) beside the WARC file
or, for ledger lines, in manifests/timestamps/, and a ``timestamp`` ledger line naming
the subject, its sha256, the TSA, the time and the file with its sha256.

What a token stamps: the subject's sha256 (the closed file's bytes; for the ledger, the
line's bytes without its newline: the digest the next line's ``prev`` repeats). Checking
stored tokens is `manifest.tokens` (`archive verify`).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from archiver.errors import TsaError
from archiver.evidence.tsa import Token, first_token
from archiver.ledger import ledger_for
from archiver.ledger.chain import LEDGER_NAME, line_hash
from archiver.ledger.events import Paired
from archiver.ledger.pairs import write_paired
from archiver.manifest.tokens import EVENT
from archiver.tempfiles import create_beside

logger = logging.getLogger(__name__)

TOKEN_SUFFIX = ".tsr"
LEDGER_TOKENS = "timestamps"  # under manifests/


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
