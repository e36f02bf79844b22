"""The per-article JSON and CSV exports — pure: the article document in, text out.

The JSON is `manifest.articles.article_doc()` as it is (the schema in ``schema.json`` says what it
holds). The CSV flattens it to one row per citation for spreadsheets: the *last*
snapshot's time, file, offset and HTTP status, and the last check's time.
"""

from __future__ import annotations

import csv
import io
import json
from importlib import resources
from typing import Any

import orjson

CSV_COLUMNS = (
    "id",
    "url",
    "role",
    "capture_state",
    "rot",
    "dead",
    "captured_at",
    "warc",
    "offset",
    "status",
    "checked_at",
    "review_state",
    "note",
)


def json_text(doc: dict[str, Any]) -> str:
    return json_bytes(doc).decode("utf-8")


def json_bytes(doc: dict[str, Any]) -> bytes:
    """The document as 2-space-indented UTF-8 JSON and a newline.

    The same bytes as ``json.dumps(doc, ensure_ascii=False, indent=2) + "\\n"``, written
    by orjson (~10× faster than the json module, whose C encoder is off with indent).
    The two spell a float differently only in exponent form (json ``1e-05``, orjson
    ``0.00001``); similarities are rounded to 4 places, so that never happens, but
    should a document hold such a float the json module writes it.
    """
    if any(_odd_float(k["similarity"]) for c in doc["citations"] for k in c["checks"]):
        return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)


def _odd_float(x: Any) -> bool:
    """A float repr() writes with an exponent (or a non-finite one)."""
    return isinstance(x, float) and x != 0 and not (1e-4 <= abs(x) < 1e16)


# OWASP "CSV injection": a spreadsheet runs a cell starting with these as a formula
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    """A CSV cell; text a spreadsheet would read as a formula gets a leading ``'``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_row(citation: dict[str, Any]) -> dict[str, str]:
    snap = citation["snapshots"][-1] if citation["snapshots"] else {}
    check = citation["checks"][-1] if citation["checks"] else {}
    values = {
        "id": citation["id"],
        "url": citation["url"],
        "role": citation["role"],
        "capture_state": citation["capture_state"],
        "rot": citation["rot"],
        "dead": citation["dead"],
        "captured_at": snap.get("captured_at"),
        "warc": snap.get("warc"),
        "offset": snap.get("offset"),
        "status": snap.get("status"),
        "checked_at": check.get("checked_at"),
        "review_state": citation["review"]["state"],
        "note": citation["review"]["note"],
    }
    return {k: _cell(v) for k, v in values.items()}


def csv_text(doc: dict[str, Any]) -> str:
    """RFC 4180 CSV (CRLF line ends, quoted where needed), UTF-8 without a BOM."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for citation in doc["citations"]:
        writer.writerow(csv_row(citation))
    return buf.getvalue()


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the per-article document, shipped in the package."""
    text = resources.files("archiver.manifest").joinpath("schema.json").read_text("utf-8")
    return json.loads(text)
