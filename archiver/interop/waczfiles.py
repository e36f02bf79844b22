"""Which WARC files go into a WACZ package (`archiver.interop.wacz`).

With ``all_warcs`` every closed file; otherwise the files holding the
article's snapshots, the neighbouring files a capture spilled into when the WARC rotated
during it (redirect hops before the snapshot's file; requisites and the metadata record,
written last, after it), the files holding the originals of their revisit records, and
the files holding their screenshots.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from archiver.errors import UsageError
from archiver.evidence import connection as evidence
from archiver.interop.cdxj import closed_warcs
from archiver.warcfiles.writer import OPEN_SUFFIX

IMPORTED_PREFIX = "imported/"
SPILL_LIMIT = 20  # files a capture may span around its snapshot's own


@dataclass(frozen=True)
class _Facts:
    """What file selection needs of one WARC file's records."""

    refers: frozenset[str]  # WARC-Refers-To of revisit records
    described: frozenset[str]  # WARC-Concurrent-To of metadata records: the pages' ids
    uris: frozenset[str]  # WARC-Target-URI of response and revisit records


def _facts(path: Path) -> _Facts:
    refers, described, uris = set(), set(), set()
    with open(path, "rb") as f:
        for rec in ArchiveIterator(f, no_record_parse=True):
            h, kind = rec.rec_headers, rec.rec_type
            if kind == "revisit" and h.get_header("WARC-Refers-To"):
                refers.add(h.get_header("WARC-Refers-To"))
            # the capture's own metadata record, not a connection's evidence (issue 21)
            own = h.get_header("Content-Type") != evidence.CONTENT_TYPE
            if kind == "metadata" and own and h.get_header("WARC-Concurrent-To"):
                described.add(h.get_header("WARC-Concurrent-To"))
            if kind in ("response", "revisit"):
                uris.add(h.get_header("WARC-Target-URI") or "")
    return _Facts(frozenset(refers), frozenset(described), frozenset(uris))


class _Selection:
    """The closed WARC files holding some snapshots' captures, found by reading them.

    A capture writes its redirect hops, the final response (the snapshot), extra plan
    pages, requisites and, last, its metadata record through one rotating sink: when a
    rotation fell inside a capture, its records span the files around the snapshot's.
    Our own files sort by name in the order they were opened.
    """

    def __init__(self, app) -> None:
        self.app = app
        imported = _rel_warcs(app) + IMPORTED_PREFIX
        self.own = [w for w in all_closed(app) if not w.startswith(imported)]
        self.position = {w: i for i, w in enumerate(self.own)}
        self.cache: dict[str, _Facts] = {}
        self.chosen: set[str] = set()

    def facts(self, warc: str) -> _Facts:
        if warc not in self.cache:
            self.cache[warc] = _facts(warc_path(self.app, warc))
        return self.cache[warc]

    def add(self, snap: dict) -> None:
        warc = snap["warc"]
        self.chosen.add(warc)
        i = self.position.get(warc)
        if i is None:  # imported: another tool's file, its records are its own affair
            return
        for w in self.own[i : i + SPILL_LIMIT + 1]:  # forward, to the metadata record
            self.chosen.add(w)
            if snap["record_id"] in self.facts(w).described:
                break
        missing = set(snap["redirects"][:-1])  # backward, to the earlier redirect hops
        for w in reversed(self.own[max(0, i - SPILL_LIMIT) : i + 1]):
            self.chosen.add(w)
            missing -= self.facts(w).uris
            if not missing:
                break

    def originals(self) -> set[str]:
        """Files holding the originals of the revisit records in the chosen files."""
        refers = set().union(*(self.facts(w).refers for w in self.chosen))
        return {w for w in self.app.store.warcs_holding(refers) if (self.app.root / w).is_file()}


def warcs_for(app, docs: list[dict]) -> list[str]:
    """Root-relative names of the closed WARC files holding the articles' records."""
    selection = _Selection(app)
    ids = []
    for d in docs:
        for c in d["citations"]:
            for s in c["snapshots"]:
                selection.add(s)
                ids.append(s["record_id"])
                shot = s.get("screenshot")  # in a file of its own (issue 20), an extra:
                if shot and (app.root / shot["warc"]).is_file():  # left out while open
                    selection.chosen.add(shot["warc"])
    # the requisites the snapshots reused, wherever they sit (capture.reuse_window); a
    # missing or unfinished file is reported when the zip is written, never left out
    selection.chosen |= app.store.reuse_warcs(ids)
    return sorted(selection.chosen | selection.originals())


def _rel_warcs(app) -> str:
    return app.settings.warcs_path.resolve().relative_to(app.root.resolve()).as_posix() + "/"


def all_closed(app) -> list[str]:
    prefix = _rel_warcs(app)
    return sorted(prefix + rel for rel in closed_warcs(app.settings.warcs_path))


def warc_path(app, warc: str) -> Path:
    path = app.root / warc
    if path.is_file():
        return path
    if Path(str(path) + OPEN_SUFFIX).exists():
        raise UsageError(f"{warc} is still being written; export again once capture has finished")
    raise UsageError(f"{warc} is missing (run `archive verify`)")
