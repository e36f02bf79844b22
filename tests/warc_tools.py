"""Helpers for tests: read WARC records back, run the tools we did not write."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders

BIN = Path(sys.executable).parent


def warc_files(root: Path) -> list[Path]:
    return sorted((root / "warcs").rglob("*.warc.gz"))


def warcio_check(path: Path) -> None:
    p = subprocess.run(
        [str(BIN / "warcio"), "check", "-v", str(path)], capture_output=True, text=True
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert "digest pass" in p.stdout


def cdxj_index(path: Path) -> list[str]:
    p = subprocess.run([str(BIN / "cdxj-indexer"), str(path)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return [line for line in p.stdout.splitlines() if line.strip()]


def record_at(root: Path, warc: str, offset: int):
    """The record at (warc, offset), read with warcio; returns (record, raw bytes, document)."""
    path = root / warc
    if not path.exists():
        path = Path(str(path) + ".open")
    with open(path, "rb") as f:
        f.seek(offset)
        it = ArchiveIterator(f)
        record = next(iter(it))
        headers = record.rec_headers
        http = record.http_headers
        document = record.content_stream().read()
        return headers, http, document


def all_records(root: Path) -> list[tuple[str, str, object]]:
    """(type, target uri, rec_headers) of every record in every WARC."""
    found = []
    for path in warc_files(root):
        with open(path, "rb") as f:
            for rec in ArchiveIterator(f):
                found.append(
                    (rec.rec_type, rec.rec_headers.get_header("WARC-Target-URI"), rec.rec_headers)
                )
    return found


def raw_block(root: Path, warc: str, offset: int) -> bytes:
    """The record block exactly as stored (HTTP message, chunking and coding intact)."""
    with open(root / warc, "rb") as f:
        f.seek(offset)
        rec = next(iter(ArchiveIterator(f, no_record_parse=True)))
        return rec.raw_stream.read()


def sha256_hex(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def response_record(body: bytes, headers: list[tuple[str, str]]) -> ArcWarcRecord:
    """A response record in memory: HTTP ``headers`` over ``body`` (as on the wire)."""
    http = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
    return ArcWarcRecord("warc", "response", None, io.BytesIO(body), http, "", len(body))


def read_all(stream, size: int = 7000) -> bytes:
    """Everything a reader gives, read ``size`` bytes at a time."""
    out = []
    while chunk := stream.read(size):
        out.append(chunk)
    return b"".join(out)
