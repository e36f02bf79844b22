"""Build WARC records with warcio from the bytes that crossed the wire.

warcio's writer re-serialises parsed HTTP headers; an evidence archive must keep them
as received. So the HTTP message (status line, headers, body — chunking and content
coding as sent) is handed to warcio as the record block unchanged, with the block and
payload digests (sha256) computed here over exactly those bytes, split where warcio's
own parser finds the end of the headers — so `warcio check` re-computes the same.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import IO, Any

from warcio.recordbuilder import RecordBuilder
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParser
from warcio.utils import Digester

from archiver import SOFTWARE
from archiver.times import iso_micro

WARC_VERSION = "WARC/1.1"
_BUF = 1 << 16


def make_record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def warc_date(dt: datetime) -> str:
    """WARC 1.1 date with microseconds, UTC, 'Z'."""
    return iso_micro(dt)


def _digests(stream: IO[bytes], body_start: int) -> tuple[str, str]:
    """(block digest over everything, payload digest over bytes from body_start)."""
    block, payload = Digester("sha256"), Digester("sha256")
    stream.seek(0)
    pos = 0
    while True:
        buf = stream.read(_BUF)
        if not buf:
            break
        block.update(buf)
        if pos + len(buf) > body_start:
            payload.update(buf[max(0, body_start - pos) :])
        pos += len(buf)
    stream.seek(0)
    return str(block), str(payload)


def http_header_end(stream: IO[bytes], is_request: bool) -> tuple[int, StatusAndHeaders | None]:
    """Where the body starts, as warcio's parser sees it (and the parsed headers)."""
    stream.seek(0)
    parser = StatusAndHeadersParser([] if is_request else ["HTTP/1.0", "HTTP/1.1"], verify=False)
    try:
        headers = parser.parse(stream)
        end = stream.tell()
    except (EOFError, ValueError):
        headers, end = None, 0
    stream.seek(0)
    return end, headers


def _headers(
    record_type: str, uri: str, date: datetime, record_id: str, extra: dict[str, str]
) -> StatusAndHeaders:
    items = [
        ("WARC-Type", record_type),
        ("WARC-Record-ID", record_id),
        ("WARC-Date", warc_date(date)),
    ]
    if uri:
        items.append(("WARC-Target-URI", uri))
    items += [(k, v) for k, v in extra.items() if v]
    return StatusAndHeaders("", items, protocol=WARC_VERSION)


def http_record(
    record_type: str,
    uri: str,
    stream: IO[bytes],
    length: int,
    *,
    date: datetime,
    record_id: str,
    extra: dict[str, str],
) -> ArcWarcRecord:
    """A request or response record whose block is the raw HTTP message."""
    body_start, _ = http_header_end(stream, record_type == "request")
    block_digest, payload_digest = _digests(stream, body_start)
    headers = _headers(record_type, uri, date, record_id, extra)
    headers.add_header("WARC-Block-Digest", block_digest)
    if body_start:
        headers.add_header("WARC-Payload-Digest", payload_digest)
    ctype = RecordBuilder.WARC_RECORDS[record_type]
    rec = ArcWarcRecord("warc", record_type, headers, stream, None, ctype, length)
    rec.payload_length = length
    return rec


class _RawHeaders(StatusAndHeaders):
    """HTTP headers that warcio writes back exactly as received (never re-serialised)."""

    def __init__(self, raw: bytes) -> None:
        super().__init__("", [], protocol="")
        self.headers_buff = raw

    def compute_headers_buffer(self, header_filter=None) -> None:
        pass  # keep the bytes as they came off the wire

    def __bool__(self) -> bool:  # warcio tests truthiness before writing the headers
        return True


def revisit_record(
    uri: str,
    header_bytes: bytes,
    *,
    date: datetime,
    record_id: str,
    refers_to: str,
    refers_to_uri: str,
    refers_to_date: str,
    payload_digest: str,
    extra: dict[str, str],
) -> ArcWarcRecord:
    """identical-payload-digest revisit: the new response's headers as received, no body.

    warcio writes only the HTTP headers of a revisit record (never its stream), so the
    raw header block travels as the record's http_headers.
    """
    from io import BytesIO

    block_digest, _ = _digests(BytesIO(header_bytes), len(header_bytes))
    headers = _headers("revisit", uri, date, record_id, extra)
    for key, value in (
        ("WARC-Profile", RecordBuilder.REVISIT_PROFILE_1_1),
        ("WARC-Refers-To", refers_to),
        ("WARC-Refers-To-Target-URI", refers_to_uri),
        ("WARC-Refers-To-Date", refers_to_date),
        ("WARC-Payload-Digest", payload_digest),
        ("WARC-Block-Digest", block_digest),
    ):
        headers.add_header(key, value)
    rec = ArcWarcRecord(
        "warc",
        "revisit",
        headers,
        BytesIO(),
        _RawHeaders(header_bytes),
        RecordBuilder.WARC_RECORDS["revisit"],
        len(header_bytes),
    )
    rec.payload_length = 0
    return rec


def json_record(
    record_type: str,
    uri: str,
    data: dict[str, Any],
    *,
    date: datetime,
    record_id: str,
    extra: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> ArcWarcRecord:
    """metadata / warcinfo records with a JSON or warc-fields block."""
    from io import BytesIO

    if content_type == "application/warc-fields":
        body = "".join(f"{k}: {v}\r\n" for k, v in data.items() if v).encode("utf-8")
    else:
        body = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")
    stream = BytesIO(body)
    block_digest, _ = _digests(stream, len(body))
    headers = _headers(record_type, uri, date, record_id, extra or {})
    headers.add_header("WARC-Block-Digest", block_digest)
    rec = ArcWarcRecord("warc", record_type, headers, stream, None, content_type, len(body))
    rec.payload_length = len(body)
    return rec


def resource_record(
    uri: str,
    body: bytes,
    *,
    content_type: str,
    date: datetime,
    record_id: str,
    extra: dict[str, str] | None = None,
) -> ArcWarcRecord:
    """A resource record (e.g. a screenshot): the block is the body, so block and payload
    digests are the same sha256."""
    from io import BytesIO

    stream = BytesIO(body)
    block_digest, _ = _digests(stream, len(body))
    headers = _headers("resource", uri, date, record_id, extra or {})
    headers.add_header("WARC-Block-Digest", block_digest)
    headers.add_header("WARC-Payload-Digest", block_digest)
    rec = ArcWarcRecord("warc", "resource", headers, stream, None, content_type, len(body))
    rec.payload_length = len(body)
    return rec


def warcinfo_record(
    filename: str, *, date: datetime, record_id: str, info: dict[str, str]
) -> ArcWarcRecord:
    fields = {
        "software": SOFTWARE,
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/"
        "warc-format/warc-1.1/",
        **info,
    }
    return json_record(
        "warcinfo",
        "",
        fields,
        date=date,
        record_id=record_id,
        extra={"WARC-Filename": filename},
        content_type="application/warc-fields",
    )


IdFactory = Callable[[], str]
