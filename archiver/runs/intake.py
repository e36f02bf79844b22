"""One intake pass: every watched folder, every feed that is due; the run behind
`archive intake` and the daemon's `intake` job.

The engines (`intake.feeds`, `intake.folders`) find entries and files; this run adds
them (`runs.add.add_one`), remembers each outcome and records every poll in the store.

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
from archiver.errors import SourceError
from archiver.intake import feeds, folders
from archiver.manifest import refresh
from archiver.net.fetch import Client
from archiver.runs.add import add_one
from archiver.workers import live_worker, worker_id

logger = logging.getLogger(__name__)

FOLDER, FEED = "folder", "feed"


@dataclass(frozen=True, kw_only=True)
class SourceReport:
    kind: str
    location: str
    polled: bool
    note: str
    results: tuple = ()  # runs.add.AddResult per article added or updated
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
    return _poll_feed(app, client, row, now=now, stop=stop)


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
                reports.append(_poll_folder(app, row, stop=stop))
            else:
                reports.append(
                    _poll_one_feed(app, client, row, force=force, stop=stop, worker=worker)
                )
    finally:
        client.close()
    return reports


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


# ------------------------------------------------------------------ feeds


def _poll_feed(app, client: Client, row, *, now: datetime, stop) -> SourceReport:
    """Fetch one feed (conditionally), add its new entries, record the poll."""
    store = app.store
    every = app.settings.intake.feed_every
    read = feeds.read_feed(client, row)
    resp = read.response
    if read.failure is not None:
        return _feed_failed(store, row, now, every, read.failure, resp.retry_after)
    next_poll = now + timedelta(seconds=every)
    if resp.not_modified:
        store.intake_polled(
            row["id"], last_poll_at=now, next_poll_at=next_poll, failures=0, last_error=None
        )
        return SourceReport(kind=FEED, location=row["location"], polled=True, note="not modified")
    todo = feeds.entries_to_add(read.parsed.entries, store.intake_seen(row["id"]), now)
    results, errors, pending = _add_entries(app, client, row["id"], todo, stop)
    created = sum(1 for r in results if r.created)
    # validators only once every entry is in: else the next poll must see the whole feed
    validators = (None, None) if pending else (resp.etag, resp.last_modified)
    store.intake_polled(
        row["id"],
        added=created,
        last_poll_at=now,
        next_poll_at=next_poll,
        failures=0,
        last_error=feeds.entries_error(errors),
        etag=validators[0],
        last_modified=validators[1],
    )
    note = feeds.entries_note(len(read.parsed.entries), len(todo))
    return SourceReport(
        kind=FEED,
        location=row["location"],
        polled=True,
        note=note,
        results=tuple(results),
        errors=tuple(errors),
    )


def _add_entries(app, client: Client, source_id: int, todo, stop) -> tuple[list, list, bool]:
    """Each entry's article → `add_one`; every outcome remembered in intake_seen.

    Returns (results, errors, pending): pending when an entry is to be tried again, or
    was not reached (stopping).
    """
    results, errors, pending = [], [], False
    for entry in todo:
        if stop is not None and stop.is_set():
            return results, errors, True
        try:
            result = add_one(app, entry.url, client=client)
        except SourceError as exc:
            errors.append(str(exc))
            pending = True
            logger.warning("feed entry not added: %s", exc, extra={"url": entry.url})
            app.store.intake_mark_seen(
                source_id, entry.key, fingerprint=None, article_id=None, error=str(exc)
            )
            continue
        results.append(result)
        app.store.intake_mark_seen(
            source_id, entry.key, fingerprint=None, article_id=result.article_id, error=None
        )
    return results, errors, pending


def _feed_failed(store, row, now: datetime, every: float, error: str, retry_after) -> SourceReport:
    failures = (row.get("failures") or 0) + 1
    wait = feeds.backoff(failures, every)
    if retry_after:
        wait = max(wait, timedelta(seconds=min(retry_after, 86400)))
    next_poll = now + wait
    store.intake_polled(
        row["id"], last_poll_at=now, next_poll_at=next_poll, failures=failures, last_error=error
    )
    logger.warning(
        "feed %s failed (%d in a row): %s; next poll at %s",
        row["location"],
        failures,
        error,
        f"{next_poll:%Y-%m-%d %H:%M:%S}Z",
        extra={"feed": row["location"], "failures": failures},
    )
    note = f"failed ({failures} in a row): {error}; next poll at {next_poll:%Y-%m-%d %H:%M:%S}Z"
    return SourceReport(
        kind=FEED,
        location=row["location"],
        polled=True,
        note=note,
        errors=(f"{row['location']}: {error}",),
        failed=True,
    )


# ------------------------------------------------------------------ folders


def _poll_folder(app, row, *, stop) -> SourceReport:
    """Add the new and changed files of one watched folder; record what was seen."""
    store = app.store
    folder = folders.folder_path(app.root, row["location"])
    now = app.clock()

    def report(**kw) -> SourceReport:
        return SourceReport(kind=FOLDER, location=row["location"], polled=True, **kw)

    if not folder.is_dir():
        error = f"no such folder: {folder}"
        store.intake_polled(row["id"], last_poll_at=now, last_error=error)
        return report(note=error, failed=True)
    seen = store.intake_seen(row["id"])
    looked = folders.scan(
        folder, known={k: (v.get("stat"), v.get("fingerprint")) for k, v in seen.items()}
    )
    todo = folders.files_to_add(looked.found, seen)
    results, errors = _add_files(app, row["id"], folder, todo, stop)
    restamped = folders.stats_to_note(looked.found, seen, {f.key for f in todo})
    if restamped:
        store.intake_note_stats(row["id"], restamped)
    standing = folders.standing_error(looked.found, store.intake_seen(row["id"]))
    created = sum(1 for r in results if r.created)
    store.intake_polled(row["id"], added=created, last_poll_at=now, last_error=standing)
    note = folders.poll_note(looked, len(todo))
    return report(note=note, results=tuple(results), errors=tuple(errors))


def _add_files(app, source_id: int, folder, todo, stop) -> tuple[list, list[str]]:
    """Each new or changed file → `add_one`; every outcome remembered in intake_seen."""
    results, errors = [], []
    for f in todo:
        if stop is not None and stop.is_set():
            break
        error = f"{f.key}: {f.error}" if f.error else None
        article_id = None
        if error is None:
            try:
                result = add_one(app, str(f.path), follow_symlinks=False)
                results.append(result)
                article_id = result.article_id
            except SourceError as exc:
                error = f"{f.key}: {folders.reason_of(exc, f.path)}"
        if error:
            errors.append(error)
            logger.warning("%s: file not added (left in place): %s", folder, error)
        app.store.intake_mark_seen(
            source_id,
            f.key,
            fingerprint=f.fingerprint,
            article_id=article_id,
            error=error,
            stat=f.stat,
        )
    return results, errors
