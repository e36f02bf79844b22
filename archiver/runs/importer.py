"""The import run (`archive add --from-warc FILE`): captures made by other tools become
snapshots.

The file is checked and read first (`interop.importer`: an unreadable file is never
kept), then copied into ``warcs/imported/`` and its size and sha256 recorded like a
closed WARC of our own (`warc_file` row + `warc-closed` ledger line, so `archive verify`
proves it unchanged). Its records that capture stored targets become snapshots, with
their ledger lines, by the ledger rule (`ledger.pairs`); a target with a good one
becomes archived, and the citing articles' manifests are refreshed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archiver.interop.importer import (
    check_gzip_warc,
    copy_into,
    plan_snapshots,
    read_records,
    snapshot_row,
)
from archiver.ledger import ledger_for
from archiver.ledger.events import Paired
from archiver.ledger.pairs import complete_pairs, write_paired
from archiver.manifest import refresh
from archiver.warcfiles.reader import file_sha256

IMPORTED_DIR = "imported"


@dataclass(frozen=True, kw_only=True)
class ImportReport:
    warc: str  # the copy, relative to the archive root
    copied: bool
    records: int = 0  # response + revisit records with an http(s) target
    matched: int = 0  # of those, records whose URL is a stored target
    unmatched: int = 0
    snapshots: int = 0  # new snapshot rows
    archived: tuple[str, ...] = ()  # targets that became archived
    articles: frozenset[str] = frozenset()  # articles citing a new snapshot's target

    def line(self) -> str:
        how = "Imported" if self.copied else "Already imported"
        return (
            f"{how} {self.warc}: {self.records} responses, {self.matched} of cited pages "
            f"({self.snapshots} new snapshots, {len(self.archived)} targets archived), "
            f"{self.unmatched} of other pages."
        )


def import_warc(app, src: Path) -> ImportReport:
    """Copy a WARC into the archive and register its captures of stored targets."""
    check_gzip_warc(src)
    complete_pairs(ledger_for(app.settings, clock=app.clock), app.store)
    recs, total = read_records(src)  # before copying: an unreadable file is never kept
    sha = file_sha256(src)
    dest, copied = copy_into(src, app.settings.warcs_path / IMPORTED_DIR, sha)
    warc = dest.resolve().relative_to(app.root.resolve()).as_posix()
    _register_file(app, warc, dest.stat().st_size, sha, total, src)
    targets = app.store.target_ids_by_url()
    planned = plan_snapshots(recs, targets)
    by_id = {r.record_id: r for r in recs}
    rows, seen = [], app.store.snapshot_places(warc)
    for tid, chain in planned:
        if (tid, chain[-1].offset) not in seen:
            seen.add((tid, chain[-1].offset))
            rows.append((tid, snapshot_row(dest, warc, chain, by_id)))
    archived = _store(app, rows, src)
    url_of = {tid: url for url, tid in targets.items()}
    articles = frozenset(
        a for tid in {tid for tid, _ in rows} for a in app.store.citing_articles(tid)
    )
    if articles:
        refresh(app, sorted(articles))
    return ImportReport(
        warc=warc,
        copied=copied,
        records=len(recs),
        matched=len(planned),
        unmatched=len(recs) - len(planned),
        snapshots=len(rows),
        archived=tuple(url_of[tid] for tid in archived),
        articles=articles,
    )


def _register_file(app, warc: str, size: int, sha: str, records: int, src: Path) -> None:
    def commit(seqs: list[int]) -> list:
        return app.store.add_imported_warc(
            warc, size=size, sha256=sha, records=records, now=app.clock(), seq=seqs[0]
        )

    ledger = ledger_for(app.settings, clock=app.clock)
    write_paired(ledger, app.store, Paired.WARC_CLOSED, 1, commit, imported_from=str(src))


def _store(app, rows: list[tuple[int, dict]], src: Path) -> list[int]:
    """Insert the snapshots with their ledger lines (`ledger.pairs`); a target with a
    good one becomes archived. Returns those ids."""
    archived = sorted({tid for tid, row in rows if row["good"]})

    def commit(seqs: list[int]) -> list:
        return app.store.add_imported_snapshots(
            rows, seqs, archived=archived, check_interval=app.settings.check.interval
        )

    ledger = ledger_for(app.settings, clock=app.clock)
    write_paired(ledger, app.store, Paired.SNAPSHOT, len(rows), commit, imported_from=str(src))
    return archived
