"""One intake pass: every watched folder, every feed that is due; the service call of
`archive intake` and of the daemon's `intake` job.

The configured sources are synced into `intake_source` rows first (a source removed
from config.toml keeps its row and history but is no longer polled or listed). New
articles' citations are stored as pending targets: the daemon's capture job (or the
CLI, unless --queue) captures them.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from archiver import urls
from archiver.intake.feeds import poll_feed
from archiver.intake.folders import poll_folder
from archiver.net.fetch import Client
from archiver.workers import live_worker, worker_id

logger = logging.getLogger(__name__)

FOLDER, FEED = "folder", "feed"


@dataclass(frozen=True, kw_only=True)
class SourceReport:
    kind: str
    location: str
    polled: bool
    note: str
    results: tuple = ()  # service.AddResult per article added or updated
    errors: tuple[str, ...] = ()
    failed: bool = False


@dataclass(frozen=True, kw_only=True)
class IntakeSummary:
    sources: tuple[SourceReport, ...] = ()

    @property
    def article_ids(self) -> list[str]:
        """Articles added or updated by this pass (their new citations wait for capture)."""
        return sorted({r.article_id for s in self.sources for r in s.results})

    @property
    def created(self) -> int:
        return sum(1 for s in self.sources for r in s.results if r.created)

    @property
    def errors(self) -> list[str]:
        return [e for s in self.sources for e in s.errors]

    def line(self) -> str:
        if not self.sources:
            return "No intake sources configured."
        polled = sum(1 for s in self.sources if s.polled)
        updated = len(self.article_ids) - self.created
        failed = sum(1 for s in self.sources if s.failed)
        text = (
            f"Intake: polled {polled} of {len(self.sources)} sources; "
            f"{self.created} new articles, {updated} updated"
        )
        problems = len(self.errors)
        if problems or failed:
            text += (
                f"; {problems} problems ({failed} {'source' if failed == 1 else 'sources'} failing)"
            )
        return text + "."


def configured(settings) -> list[tuple[str, str]]:
    """(kind, location) of every configured source, folders first, duplicates dropped."""
    pairs = [(FOLDER, f) for f in settings.intake.folders]
    pairs += [(FEED, f.strip()) for f in settings.intake.feeds]
    return list(dict.fromkeys(pairs))


def _feed_due(row: dict[str, Any], now: datetime) -> bool:
    return row["next_poll_at"] is None or row["next_poll_at"] <= now


def _poll_one_feed(app, client: Client, row, *, force: bool, stop, worker: str) -> SourceReport:
    now = app.clock()
    location = row["location"]

    def report(**kw) -> SourceReport:
        return SourceReport(kind=FEED, location=location, **kw)

    if not urls.is_http_url(location):
        error = "not an http(s) URL"
        app.store.intake_polled(row["id"], last_poll_at=now, last_error=error)
        return report(polled=False, note=error, errors=(f"{location}: {error}",), failed=True)
    if not force:
        lease = now + timedelta(seconds=app.settings.daemon.lease)
        if not _feed_due(row, now) or not app.store.intake_claim(
            row["id"], now=now, until=lease, worker=worker
        ):
            when = row["next_poll_at"]
            note = f"not due (next poll at {when:%Y-%m-%d %H:%M:%S}Z)" if when else "not due"
            return report(polled=False, note=note)
    poll = poll_feed(app, client, row, now=now, stop=stop)
    return report(
        polled=poll.polled,
        note=poll.note,
        results=poll.results,
        errors=poll.errors,
        failed=poll.failed,
    )


def run_intake(
    app,
    *,
    force: bool = False,
    stop: threading.Event | None = None,
    worker: str | None = None,
) -> IntakeSummary:
    """Poll every watched folder and every due feed (``force``: every feed now).

    Returns what was polled and which articles were added; their manifests are
    refreshed, their new targets left pending for capture. ``worker`` names the feed
    claims (default host:pid; the daemon passes its own): under its liveness lock, so a
    killed intake's feeds are given back by the next run at once.
    """
    from archiver.manifest import refresh

    pairs = configured(app.settings)
    if not pairs:
        return IntakeSummary()
    worker = worker or worker_id()
    with live_worker(app.store, app.root, worker):
        rows = app.store.intake_sync(pairs)
        reports = _poll_sources(app, rows, force=force, stop=stop, worker=worker)
    summary = IntakeSummary(sources=tuple(reports))
    if summary.article_ids:
        refresh(app, summary.article_ids)
    return summary


def _poll_sources(app, rows, *, force: bool, stop, worker: str) -> list[SourceReport]:
    reports: list[SourceReport] = []
    client = Client(app.settings.capture, clock=app.clock)
    try:
        for row in rows:
            if stop is not None and stop.is_set():
                break
            if row["kind"] == FOLDER:
                reports.append(_folder_report(app, row, stop))
            else:
                reports.append(
                    _poll_one_feed(app, client, row, force=force, stop=stop, worker=worker)
                )
    finally:
        client.close()
    return reports


def _folder_report(app, row, stop) -> SourceReport:
    poll = poll_folder(app, row, stop=stop)
    return SourceReport(
        kind=FOLDER,
        location=row["location"],
        polled=poll.polled,
        note=poll.note,
        results=poll.results,
        errors=poll.errors,
        failed=poll.failed,
    )


def intake_status(app) -> list[dict[str, Any]]:
    """One row per configured source (read only): its store row, or a never-polled stub."""
    rows = {(r["kind"], r["location"]): r for r in app.store.intake_rows()}
    out = []
    for kind, location in configured(app.settings):
        stub = {
            "kind": kind,
            "location": location,
            "last_poll_at": None,
            "next_poll_at": None,
            "failures": 0,
            "last_error": None,
            "new_articles": 0,
        }
        out.append(rows.get((kind, location), stub))
    return out
