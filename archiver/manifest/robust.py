"""Robust Links and replay URLs for snapshots — pure functions of plain values.

Robust Links (https://robustlinks.mementoweb.org/spec/) let an author cite a link
together with its archived copy, so a reader whose link rotted still reaches the page:

    <a href="URL" data-originalurl="URL" data-versionurl="MEMENTO" data-versiondate="DAY">…</a>

The memento is the snapshot's replay URL (pywb / Wayback style, what `archive replay`
serves): ``BASE/archive/<14-digit UTC timestamp>/<url>``. Without a replay base URL
configured (``[replay] base_url``) it is a ``warc:`` reference naming the WARC file,
relative to the archive root, and the byte offset of the record's gzip member:
``warc:warcs/2026/11/archive-20261125203000-00000.warc.gz#offset=1234``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup

from archiver.times import day, digits, parse

REPLAY_COLLECTION = "archive"


def _when(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return parse(value).astimezone(UTC)


def timestamp14(captured_at: str | datetime) -> str:
    """'2026-11-20T09:30:00Z' → '20261120093000' (the Wayback / CDXJ timestamp)."""
    return digits(_when(captured_at))


def replay_prefix(base_url: str | None) -> str | None:
    """'http://localhost:8080' → 'http://localhost:8080/archive/'; empty → None."""
    if not base_url:
        return None
    return f"{base_url.rstrip('/')}/{REPLAY_COLLECTION}/"


def replay_url(prefix: str, captured_at: str | datetime, url: str) -> str:
    # Wayback URLs carry the target URL unescaped after the timestamp
    return f"{prefix}{timestamp14(captured_at)}/{url}"


def version_url(snapshot: dict[str, Any], url: str, prefix: str | None) -> str:
    """The archived version of ``url``: its replay URL, else a warc: file+offset reference."""
    if prefix:
        return replay_url(prefix, snapshot["captured_at"], url)
    return f"warc:{snapshot['warc']}#offset={snapshot['offset']}"


def robust_link(url: str, snapshot: dict[str, Any], prefix: str | None) -> str:
    """The HTML an author pastes to cite ``url`` with this snapshot as its archived copy.

    The version URL names the cited URL (not the snapshot's final URL): replaying it
    walks the recorded redirect chain, as a reader of the original link would have.
    """
    date = day(_when(snapshot["captured_at"]))
    text = snapshot.get("title") or url
    # Markup.format escapes every argument: page titles and URLs are not trusted here
    snippet = Markup(
        '<a href="{0}" data-originalurl="{0}" data-versionurl="{1}" data-versiondate="{2}">{3}</a>'
    ).format(url, version_url(snapshot, url, prefix), date, text)
    return str(snippet)


def last_good(snapshots: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest snapshot worth citing; later error pages and bot walls never replace it."""
    good = [s for s in snapshots if s.get("good")]
    return good[-1] if good else None


def robust_links_text(doc: dict[str, Any], prefix: str | None) -> str:
    """One snippet per citation of an article document, for `archive export --robust-links`.

    A citation with no good snapshot yet gets an HTML comment instead, so the whole
    output still pastes as HTML.
    """
    lines = []
    for c in doc["citations"]:
        good = last_good(c["snapshots"])
        if good is None:
            url = str(Markup.escape(c["url"])).replace("--", "&#45;&#45;")
            lines.append(f"<!-- [{c['id']}] no archived copy yet: {url} -->")
        else:
            lines.append(robust_link(c["url"], good, prefix))
    return "".join(line + "\n" for line in lines)
