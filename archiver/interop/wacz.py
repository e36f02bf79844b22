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

Which WARC files go in: `archiver.interop.waczfiles`.
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

from archiver import SOFTWARE
from archiver.errors import UsageError, VerifyFailed
from archiver.interop.cdxj import index_warc, sorted_unique
from archiver.interop.waczfiles import all_closed, warc_path, warcs_for
from archiver.manifest.articles import article_doc
from archiver.manifest.robust import last_good
from archiver.states import CitationRole
from archiver.tempfiles import create_beside
from archiver.times import iso
from archiver.warcfiles.writer import OPEN_SUFFIX

WACZ_VERSION = "1.1.1"
PAGES = "pages/pages.jsonl"
EXTRA_PAGES = "pages/extraPages.jsonl"
INDEX = "indexes/index.cdxj"
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
    own = {c["id"] for c in docs[0]["citations"] if c["role"] == CitationRole.SOURCE}
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


# ---------------------------------------------------------------- writing the zip


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
    docs = [article_doc(app.store, a) for a in ids]
    if all_warcs:
        warcs = all_closed(app)
        skipped = sorted(p.name for p in app.settings.warcs_path.rglob("*" + OPEN_SUFFIX))
    else:
        warcs, skipped = warcs_for(app, docs), []
    if not warcs:
        raise UsageError("nothing to export: no snapshots yet (run `archive capture`)")
    names = archive_names(warcs)
    paths = {w: warc_path(app, w) for w in warcs}
    recorded = app.store.warc_file_digests(warcs)
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
