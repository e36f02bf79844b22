"""`archive export --wacz`: an article's captures as one WACZ 1.1.1 package.

Layout (https://specs.webrecorder.net/wacz/1.1.1/), opened by ReplayWeb.page and
accepted by `wacz validate`:

    archive/<file>.warc.gz     the WARC files, byte for byte, STORED (not deflated) so a
                               reader can seek to a record by the index's offset
    indexes/index.cdxj         sorted CDXJ of those files (response/revisit/resource only)
    pages/pages.jsonl          one entry per cited page: its snapshot to cite (url, ts, title)
    pages/extraPages.jsonl     every other snapshot of the cited pages (older versions,
                               error pages kept as evidence), when there are any
    datapackage.json           every file above with its sha256 and size
    datapackage-digest.json    the sha256 of datapackage.json

To look at one: open https://replayweb.page and choose the .wacz file ("Choose File";
the page reads it in the browser, nothing is uploaded), or serve it next to the
ReplayWeb.page app on any static web server (range requests needed), or unpack it into
pywb (``wb-manager init c && wb-manager add --unpack-wacz c FILE.wacz && wayback``).
pages.jsonl becomes ReplayWeb.page's page list; mainPageUrl is the article's own URL.

Built with zipfile rather than the `wacz` package: its API is its argparse CLI (it
prints, reads an argparse namespace, and appends "warcinfo" to cdxj-indexer's default
record list at import time), and it indexes request records we must keep out.

Which WARC files: with ``all_warcs`` every closed file; otherwise the files holding the
article's snapshots, the neighbouring files a capture spilled into when the WARC rotated
during it (redirect hops before the snapshot's file; requisites and the metadata record,
written last, after it), the files holding the originals of their revisit records, and
the files holding their screenshots.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from archiver import SOFTWARE
from archiver.errors import UsageError, VerifyFailed
from archiver.evidence import connection as evidence
from archiver.interop.cdxj import index_warc, sorted_unique
from archiver.interop.robust import last_good
from archiver.store import schema as t
from archiver.tempfiles import create_beside
from archiver.times import iso
from archiver.warcfiles.listing import closed_warcs
from archiver.warcfiles.writer import OPEN_SUFFIX

WACZ_VERSION = "1.1.1"
PAGES = "pages/pages.jsonl"
EXTRA_PAGES = "pages/extraPages.jsonl"
INDEX = "indexes/index.cdxj"
IMPORTED_PREFIX = "imported/"
SPILL_LIMIT = 20  # files a capture may span around its snapshot's own
CHUNK = 1 << 20


@dataclass(frozen=True)
class WaczReport:
    path: Path
    warcs: tuple[str, ...]
    pages: int
    extra_pages: int
    size: int
    skipped_open: tuple[str, ...] = ()

    def line(self) -> str:
        return (
            f"Wrote {self.path} ({self.size} bytes): {len(self.warcs)} WARC files, "
            f"{self.pages} pages, {self.extra_pages} other snapshots"
        )


# ---------------------------------------------------------------- pure parts


def page_id(record_id: str) -> str:
    return hashlib.sha256(record_id.encode("utf-8")).hexdigest()[:20]


def page_entry(article_id: str, citation: dict[str, Any], snap: dict[str, Any]) -> dict:
    """A pages.jsonl line: the snapshot's own record (final URL, capture time)."""
    return {
        "id": page_id(snap["record_id"]),
        "url": snap["final_url"],
        "ts": snap["captured_at"],
        "title": snap.get("title") or citation["url"],
        "article": article_id,
        "citation": citation["id"],
        "cited_url": citation["url"],
        "status": snap["status"],
    }


def pages_for(docs: list[dict], included: set[str]) -> tuple[list[dict], list[dict]]:
    """(pages, extra pages): per citation the snapshot to cite (the last good one, else
    the latest) is a page; its other snapshots are extra pages. Only snapshots in the
    included WARC files count; the same record is listed once."""
    pages: list[dict] = []
    extra: list[dict] = []
    seen: set[str] = set()
    for doc in docs:
        for c in doc["citations"]:
            snaps = [s for s in c["snapshots"] if s["warc"] in included]
            if not snaps:
                continue
            chosen = last_good(snaps) or snaps[-1]
            for s in snaps:
                if s["record_id"] in seen:
                    continue
                seen.add(s["record_id"])
                (pages if s is chosen else extra).append(page_entry(doc["article"]["id"], c, s))
    return pages, extra


def jsonl(header: dict, rows: Iterable[dict]) -> bytes:
    lines = [header, *rows]
    return "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines).encode("utf-8")


def archive_names(warcs: list[str]) -> dict[str, str]:
    """Root-relative WARC path → a unique, flat, lower-case file name for archive/."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for warc in warcs:
        base = re.sub(r"[^a-z0-9._-]", "-", Path(warc).name.lower())
        stem, dot, ext = base.partition(".")
        name, n = base, 1
        while name in taken:
            name, n = f"{stem}-{n}{dot}{ext}", n + 1
        taken.add(name)
        names[warc] = name
    return names


def main_page(docs: list[dict], pages: list[dict]) -> dict | None:
    """The article's own URL, when it was captured: where ReplayWeb.page starts."""
    if len(docs) != 1:
        return None
    own = {c["id"] for c in docs[0]["citations"] if c["role"] == "source"}
    return next((p for p in pages if p["citation"] in own), None)


def datapackage(resources: list[dict], *, title: str, created: str, main: dict | None) -> bytes:
    pkg: dict[str, Any] = {
        "profile": "data-package",
        "wacz_version": WACZ_VERSION,
        "title": title,
        "description": "Captures of the pages an article cites, made by archiver "
        "(WARC files with sha256 digests; see the archive's manifests and ledger).",
        "created": created,
        "software": SOFTWARE,
        "resources": resources,
    }
    if main:
        pkg["mainPageUrl"], pkg["mainPageDate"] = main["url"], main["ts"]
    return json.dumps(pkg, ensure_ascii=False, indent=2).encode("utf-8")


def digest_doc(datapackage_bytes: bytes) -> bytes:
    sha = "sha256:" + hashlib.sha256(datapackage_bytes).hexdigest()
    return json.dumps({"path": "datapackage.json", "hash": sha}, indent=2).encode("utf-8")


# ---------------------------------------------------------------- which WARC files


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


def _where(app, record_ids: set[str]) -> set[str]:
    """The WARC files holding these records (our resource table, then snapshots)."""
    ids, found = sorted(record_ids), set()
    with app.store.read() as conn:
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            for table in (t.resource, t.snapshot):
                q = select(table.c.warc).where(table.c.record_id.in_(part))
                found.update(r.warc for r in conn.execute(q))
    return found


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
        self.own = [w for w in _all_closed(app) if not w.startswith(imported)]
        self.position = {w: i for i, w in enumerate(self.own)}
        self.cache: dict[str, _Facts] = {}
        self.chosen: set[str] = set()

    def facts(self, warc: str) -> _Facts:
        if warc not in self.cache:
            self.cache[warc] = _facts(_path(self.app, warc))
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
        return {w for w in _where(self.app, refers) if (self.app.root / w).is_file()}


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


def _all_closed(app) -> list[str]:
    prefix = _rel_warcs(app)
    return sorted(prefix + rel for rel in closed_warcs(app.settings.warcs_path))


def _path(app, warc: str) -> Path:
    path = app.root / warc
    if path.is_file():
        return path
    if Path(str(path) + OPEN_SUFFIX).exists():
        raise UsageError(f"{warc} is still being written; export again once capture has finished")
    raise UsageError(f"{warc} is missing (run `archive verify`)")


# ---------------------------------------------------------------- writing the zip


def _recorded_sha(app, warcs: list[str]) -> dict[str, str]:
    with app.store.read() as conn:
        rows = conn.execute(select(t.warc_file.c.path, t.warc_file.c.sha256))
        return {r.path: r.sha256 for r in rows if r.path in set(warcs) and r.sha256}


class _Zip:
    """A zip being written, keeping each member's datapackage resource entry."""

    def __init__(self, zf: zipfile.ZipFile, date_time: tuple) -> None:
        self.zf, self.date_time, self.resources = zf, date_time, []

    def _info(self, name: str, stored: bool) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self.date_time)
        info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        return info

    def _resource(self, name: str, sha: str, size: int) -> None:
        self.resources.append(
            {
                "name": Path(name).name.lower(),
                "path": name,
                "hash": f"sha256:{sha}",
                "bytes": size,
            }
        )

    def add_bytes(self, name: str, data: bytes, *, listed: bool = True) -> None:
        self.zf.writestr(self._info(name, stored=False), data)
        if listed:
            self._resource(name, hashlib.sha256(data).hexdigest(), len(data))

    def add_file(self, name: str, path: Path) -> str:
        """Copy a WARC in, STORED; returns its sha256 (hex) as copied."""
        sha, size = hashlib.sha256(), path.stat().st_size
        with (
            open(path, "rb") as src,
            self.zf.open(self._info(name, stored=True), "w", force_zip64=size >= 2**31) as out,
        ):
            while chunk := src.read(CHUNK):
                sha.update(chunk)
                out.write(chunk)
        self._resource(name, sha.hexdigest(), size)
        return sha.hexdigest()


def _write(dest: Path, fill) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_beside(dest)
    try:
        with os.fdopen(fd, "w+b") as f:
            with zipfile.ZipFile(f, "w", allowZip64=True) as zf:
                fill(zf)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def build_wacz(
    app, dest: Path, article_id: str | None, *, all_warcs: bool, sign=None
) -> WaczReport:
    """Write the WACZ for one article (or every article); returns what went in.

    ``sign(datapackage bytes, created) -> datapackage-digest.json bytes`` signs the
    package (`archiver.evidence.waczsign.make_signer`); without it the digest is unsigned.
    A WARC file's timestamp token (``<file>.tsr`` beside it) goes in as evidence/<name>.tsr.
    """
    ids = [article_id] if article_id else app.store.article_ids()
    docs = [app.store.article_doc(a) for a in ids]
    if all_warcs:
        warcs = _all_closed(app)
        skipped = sorted(p.name for p in app.settings.warcs_path.rglob("*" + OPEN_SUFFIX))
    else:
        warcs, skipped = warcs_for(app, docs), []
    if not warcs:
        raise UsageError("nothing to export: no snapshots yet (run `archive capture`)")
    names = archive_names(warcs)
    paths = {w: _path(app, w) for w in warcs}
    recorded = _recorded_sha(app, warcs)
    pages, extra = pages_for(docs, set(warcs))
    now = app.clock()
    created = iso(now)
    title = docs[0]["article"]["title"] if article_id else f"archiver: {len(docs)} articles"

    def fill(zf: zipfile.ZipFile) -> None:
        z = _Zip(zf, now.timetuple()[:6])
        z.add_bytes(
            PAGES, jsonl({"format": "json-pages-1.0", "id": "pages", "title": "Cited pages"}, pages)
        )
        if extra:
            z.add_bytes(
                EXTRA_PAGES,
                jsonl(
                    {"format": "json-pages-1.0", "id": "extra-pages", "title": "Other snapshots"},
                    extra,
                ),
            )
        lines = sorted(line for w in warcs for line in index_warc(paths[w], names[w]))
        z.add_bytes(INDEX, "".join(sorted_unique(lines)).encode("utf-8"))
        for w in warcs:
            sha = z.add_file(f"archive/{names[w]}", paths[w])
            if w in recorded and recorded[w] != sha:
                raise VerifyFailed(
                    f"{w} changed since it was closed (sha256 differs from "
                    "the store's): run `archive verify`"
                )
            token = Path(str(paths[w]) + ".tsr")
            if token.is_file():
                z.add_bytes(f"evidence/{names[w]}.tsr", token.read_bytes())
        package = datapackage(
            z.resources, title=title, created=created, main=main_page(docs, pages)
        )
        z.add_bytes("datapackage.json", package, listed=False)
        digest = sign(package, created) if sign else digest_doc(package)
        z.add_bytes("datapackage-digest.json", digest, listed=False)

    _write(dest, fill)
    return WaczReport(
        dest, tuple(warcs), len(pages), len(extra), dest.stat().st_size, tuple(skipped)
    )
