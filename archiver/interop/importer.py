"""Reading WARC files made by other tools, for `archive add --from-warc FILE`.

A WARC written by wget (``--warc-file``), Browsertrix, ArchiveBox or any other tool is
checked, copied into ``warcs/imported/`` (`copy_into`: the archive stays
self-contained) and read here: every response or revisit record whose target URI
normalises to a stored target is planned as a snapshot of that target (`plan_snapshots`,
`snapshot_row`): redirects recorded in the same file are followed to the final response,
which the snapshot points at (as our own captures do), with the hops in ``redirects``.
The import run (`archiver.runs.importer`) registers the copy and stores the snapshots.

Only gzip-per-record WARCs (``.warc.gz``) are accepted: that is what every tool above
writes by default and what `archive verify` reads (``warcio recompress`` converts).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urljoin

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from archiver import urls
from archiver.errors import SourceError
from archiver.judge import Response
from archiver.net import recorded
from archiver.net.hops import REDIRECTS
from archiver.pages import analyse
from archiver.tempfiles import create_beside
from archiver.times import parse
from archiver.warcfiles.reader import file_sha256

HEAD_LIMIT = 8 * 2**20  # bytes of a page analysed for title and text, as capture does
MAX_HOPS = 20
CHUNK = 1 << 16


@dataclass(frozen=True)
class Rec:
    """What import needs of one response/revisit record (headers only; no body kept)."""

    offset: int
    length: int
    record_id: str
    rec_type: str
    uri: str
    date: datetime
    status: int | None
    location: str | None
    content_type: str | None  # the HTTP Content-Type header as sent
    refers_to: str | None
    payload_digest: str | None  # WARC-Payload-Digest, as the other tool wrote it
    truncated: bool


# ---------------------------------------------------------------- pure decisions


def key(url: str) -> str | None:
    """The target key of a record's URI (as stored targets are keyed), or None."""
    try:
        return urls.normalise(url.strip().strip("<>"))
    except ValueError:  # urls.BadURL: not http(s) (dns:, metadata://, urn:…) or malformed
        return None


def _location_key(rec: Rec) -> str | None:
    try:
        return key(urljoin(rec.uri, rec.location or ""))
    except ValueError:  # a Location no URL parser accepts ends the chain
        return None


def chain_from(start: Rec, by_key: dict[str, list[Rec]]) -> list[Rec]:
    """``start`` and the redirect hops recorded after it, up to the final response."""
    chain, seen = [start], {start.offset}
    cur = start
    while cur.status in REDIRECTS and cur.location and len(chain) <= MAX_HOPS:
        k = _location_key(cur)
        candidates = by_key.get(k, []) if k else []
        later = [r for r in candidates if r.offset > cur.offset and r.offset not in seen]
        if not later:
            break
        cur = later[0]
        chain.append(cur)
        seen.add(cur.offset)
    return chain


def plan_snapshots(recs: list[Rec], targets: dict[str, int]) -> list[tuple[int, list[Rec]]]:
    """(target id, chain) for every record whose URL is a stored target."""
    by_key: dict[str, list[Rec]] = {}
    for r in recs:
        if (k := key(r.uri)) is not None:
            by_key.setdefault(k, []).append(r)
    planned = []
    for r in recs:
        k = key(r.uri)
        if k in targets:
            planned.append((targets[k], chain_from(r, by_key)))
    return planned


# ---------------------------------------------------------------- reading the WARC


def _date(value: str) -> datetime:
    return parse(value.strip())


def _rec(record, offset: int, length: int) -> Rec:
    h, http = record.rec_headers, record.http_headers
    status = None
    if http is not None:
        with contextlib.suppress(ValueError, TypeError):
            status = int(http.get_statuscode())
    return Rec(
        offset=offset,
        length=length,
        record_id=h.get_header("WARC-Record-ID") or "",
        rec_type=record.rec_type,
        uri=(h.get_header("WARC-Target-URI") or "").strip().strip("<>"),
        date=_date(h.get_header("WARC-Date") or ""),
        status=status,
        location=http.get_header("Location") if http is not None else None,
        content_type=http.get_header("Content-Type") if http is not None else None,
        refers_to=h.get_header("WARC-Refers-To"),
        payload_digest=h.get_header("WARC-Payload-Digest"),
        truncated=bool(h.get_header("WARC-Truncated")),
    )


def read_records(path: Path) -> tuple[list[Rec], int]:
    """Every response and revisit record with an http(s) target (headers only), and the
    number of records in the file."""
    found, total = [], 0
    try:
        with open(path, "rb") as f:
            it = ArchiveIterator(f, check_digests=False)
            for record in it:
                total += 1
                if record.rec_type not in ("response", "revisit"):
                    continue
                offset = it.get_record_offset()
                it.read_to_end(record)
                if key(record.rec_headers.get_header("WARC-Target-URI") or "") is None:
                    continue
                found.append(_rec(record, offset, it.get_record_length()))
    except (ArchiveLoadFailed, ValueError, EOFError, OSError) as exc:
        raise SourceError(f"{path}: not a readable WARC file ({str(exc).strip()[:200]})") from exc
    return found, total


def document_at(path: Path, offset: int) -> tuple[str, int, bytes]:
    """(sha256:…, size, first bytes) of the document of the record at ``offset``.

    The document is the body with chunking and content coding removed (warcio decodes),
    exactly what capture hashes for ``payload_digest``.
    """
    sha, size, head = hashlib.sha256(), 0, bytearray()
    with open(path, "rb") as f:
        f.seek(offset)
        record = next(iter(ArchiveIterator(f, check_digests=False)))
        stream = recorded.document_stream(record)
        with contextlib.redirect_stderr(io.StringIO()):  # warcio reports bad codings there
            while chunk := stream.read(CHUNK):
                sha.update(chunk)
                size += len(chunk)
                if len(head) < HEAD_LIMIT:
                    head += chunk[: HEAD_LIMIT - len(head)]
    return "sha256:" + sha.hexdigest(), size, bytes(head)


# ---------------------------------------------------------------- snapshot rows


def _media_type(header: str | None) -> str | None:
    return header.split(";")[0].strip().lower() if header else None


def snapshot_row(path: Path, warc: str, chain: list[Rec], by_id: dict[str, Rec]) -> dict:
    """The snapshot row for a chain: the final record, and its document when readable."""
    final = chain[-1]
    source = final if final.rec_type == "response" else by_id.get(final.refers_to or "")
    digest, size, head = (None, 0, b"")
    if source is not None and source.rec_type == "response":
        digest, size, head = document_at(path, source.offset)
    hops = tuple(r.uri for r in chain)
    response = Response(url=hops[0], final_url=final.uri, status=final.status, chain=hops)
    page = analyse(head, final.content_type, response) if head else None
    ok = final.status is not None and 200 <= final.status < 300
    quality = page.quality if page else None
    return dict(
        captured_at=final.date,
        warc=warc,
        offset=final.offset,
        length=final.length,
        record_id=final.record_id,
        record_type=final.rec_type,
        status=final.status,
        final_url=final.uri,
        redirects=[r.uri for r in chain],
        content_type=_media_type(final.content_type),
        payload_digest=digest,
        warc_payload_digest=final.payload_digest,
        size=size,
        title=(page.title or None) if page else None,
        text=(page.text or None) if page else None,
        text_fingerprint=(page.fingerprint or None) if page else None,
        resources=0,
        truncated=final.truncated,
        good=ok and quality is None,
        quality=quality,
        reasons=[r.as_json() for r in page.reasons] if page else None,
    )


# ---------------------------------------------------------------- files


def check_gzip_warc(src: Path) -> None:
    """Refuse what is not a gzip-per-record WARC file (SourceError saying why)."""
    if not src.is_file():
        raise SourceError(f"{src}: no such file")
    with open(src, "rb") as f:
        magic = f.read(2)
    if not src.name.endswith(".warc.gz") or magic != b"\x1f\x8b":
        raise SourceError(
            f"{src}: only gzip-compressed WARC files (.warc.gz) can be imported "
            "(convert with `warcio recompress IN OUT.warc.gz`)"
        )
    with contextlib.suppress(EOFError, OSError), gzip.open(src) as g:
        if g.read(5) == b"WARC/":
            return
    raise SourceError(f"{src}: not a WARC file (no WARC/ record at its start)")


def copy_into(src: Path, folder: Path, sha: str) -> tuple[Path, bool]:
    """Copy ``src`` into ``folder`` (fsync'd, atomically); reuse an identical copy."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = src.name.removesuffix(".warc.gz")
    for n in range(1000):
        dest = folder / (f"{stem}.warc.gz" if n == 0 else f"{stem}-{n}.warc.gz")
        if dest.exists():
            if file_sha256(dest) == sha:
                return dest, False
            continue
        fd, tmp = create_beside(dest)
        try:
            with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
                shutil.copyfileobj(inp, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
            os.link(tmp, dest)  # fails if another import took the name meanwhile
        except FileExistsError:
            continue
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return dest, True
    raise SourceError(f"{src}: no free file name in {folder}")
