"""RSS/Atom feeds: a conditional GET, feedparser on the bytes, the entries found.

The feed is fetched by `Client.fetch_chain` like any capture (proxy, CA bundle, SSRF
guard, redirect and size limits) and only then handed to feedparser as bytes: feedparser
never fetches anything itself. This engine only finds entries (`read_feed`); the intake
run (`archiver.runs.intake`) adds each new one with the same client, so its article page
is fetched by the same rules and its citations queued.

Decisions are pure functions (`conditional_headers`, `parse_feed`, `entries_to_add`,
`backoff`, `failure_of`); `read_feed` wires them to the network.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urljoin

import feedparser

from archiver import urls
from archiver.net.fetch import Client
from archiver.net.hops import Chain

FEED_MAX_BYTES = 16 * 2**20
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)
KEY_MAX = 512  # intake_seen.key
BACKOFF_CAP = timedelta(hours=6)  # a failing feed is still tried at least this often
# A failed entry (its article page answered 5xx, timed out, …) is tried again at each
# poll that lists it, for this long after it was first seen; then it is given up.
ENTRY_RETRY_FOR = timedelta(hours=6)
# Not-well-formed errors feedparser reads through without losing entries: HTML entities
# (&nbsp;) that XML does not define are common in real feeds.
TOLERATED_XML_ERRORS = ("undefined entity",)


@dataclass(frozen=True, kw_only=True)
class Entry:
    key: str  # entry id (guid), else its link; what "already seen" is decided on
    url: str  # the article's URL
    title: str


@dataclass(frozen=True, kw_only=True)
class ParsedFeed:
    title: str
    entries: tuple[Entry, ...]
    error: str | None = None  # not a feed / not well-formed: the poll failed


@dataclass(frozen=True, kw_only=True)
class Response:
    """What a feed fetch came to: a body, "not modified", or a failure."""

    status: int | None
    body: bytes = b""
    final_url: str = ""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None
    retry_after: float | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


# ------------------------------------------------------------------ pure decisions


def conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    """RFC 9110 §13.1: validators from the last 200 make the next GET conditional."""
    headers = {"Accept": ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def backoff(failures: int, every: float) -> timedelta:
    """Wait after the ``failures``-th failure in a row: the interval, doubling, capped."""
    cap = max(BACKOFF_CAP, timedelta(seconds=every))
    exponent = min(max(failures - 1, 0), 20)
    return min(cap, timedelta(seconds=every * 2**exponent))


def failure_of(resp: Response, max_bytes: int = FEED_MAX_BYTES) -> str | None:
    """Why a fetched feed cannot be read (None: a 200 body or a 304)."""
    if resp.error:
        return resp.error
    if resp.not_modified:
        return None
    if resp.status is None or not 200 <= resp.status < 300:
        return f"the feed answered {resp.status or 'nothing'}"
    return None


def entry_key(entry: Mapping, url: str | None) -> str | None:
    key = str(entry.get("id") or "").strip() or url
    if key and len(key) > KEY_MAX:
        key = "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()
    return key


def _entry(raw: Mapping, base: str) -> Entry | None:
    link = str(raw.get("link") or "").strip()
    url = urljoin(base, link) if link else None
    if not url or not urls.is_http_url(url):
        return None  # no article to fetch (a note-only entry, a mailto:, …)
    key = entry_key(raw, url)
    return Entry(key=key, url=url, title=" ".join(str(raw.get("title") or "").split()))


def _xml_error(result) -> str | None:
    if not result.get("bozo"):
        return None
    exc = result.get("bozo_exception")
    if isinstance(exc, feedparser.ThingsNobodyCaresAboutButMe):
        return None  # a charset or content-type mismatch feedparser worked around
    if exc is None:
        return "unknown error"
    text = " ".join(str(exc.getMessage() if hasattr(exc, "getMessage") else exc).split())
    if any(t in text for t in TOLERATED_XML_ERRORS):
        return None
    line = getattr(exc, "getLineNumber", None)
    return f"line {line()}, column {exc.getColumnNumber()}: {text}" if line else text


def parse_feed(data: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Feed bytes → its entries (feed order); ``error`` when it is not a readable feed."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    # a BytesIO, never bytes or str: feedparser would treat a str as a URL or a path
    result = feedparser.parse(io.BytesIO(data), response_headers=headers)
    title = " ".join(str(result.feed.get("title") or "").split())
    entries = tuple(e for e in (_entry(raw, url) for raw in result.entries) if e is not None)
    if not result.get("version") and not result.entries:
        what = f" ({content_type.split(';')[0].strip()})" if content_type else ""
        return ParsedFeed(title=title, entries=(), error=f"not an RSS or Atom feed{what}")
    broken = _xml_error(result)
    if broken:
        return ParsedFeed(title=title, entries=(), error=f"not well-formed XML: {broken}")
    return ParsedFeed(title=title, entries=entries)


def entries_to_add(
    entries: Iterable[Entry], seen: Mapping[str, Mapping], now: datetime
) -> list[Entry]:
    """New entries, oldest first (feeds list newest first), each key once.

    An entry seen before is never added again; one that failed is tried again while
    it is younger than ENTRY_RETRY_FOR.
    """
    todo: list[Entry] = []
    keys: set[str] = set()
    for entry in entries:
        if entry.key in keys:
            continue
        keys.add(entry.key)
        row = seen.get(entry.key)
        if row is None or _retry(row, now):
            todo.append(entry)
    return todo[::-1]


def _retry(row: Mapping, now: datetime) -> bool:
    return (
        row.get("article_id") is None
        and row.get("error") is not None
        and now - row["seen_at"] < ENTRY_RETRY_FOR
    )


_TRUNCATED = {
    "length": f"the feed is larger than {FEED_MAX_BYTES} bytes",
    "time": "timeout: the feed took longer than the page time limit",
    "disconnect": "the connection dropped in the middle of the feed",
}


def response_of(chain: Chain) -> Response:
    """The last hop of a fetched chain, as a `Response` (reads nothing more)."""
    final = chain.final
    if chain.error is not None:
        return Response(status=final.status if final else None, error=str(chain.error))
    if final is None:
        return Response(status=None, error="no response")
    error = _TRUNCATED.get(final.truncated) if final.truncated else None
    return Response(
        status=final.status,
        body=final.head,
        final_url=final.url,
        content_type=final.header("content-type"),
        etag=final.header("etag"),
        last_modified=final.header("last-modified"),
        error=error if final.status == 200 else None,
        retry_after=final.retry_after() if final.status in (429, 503) else None,
    )


# ------------------------------------------------------------------ the poll


def fetch_feed(client: Client, url: str, row: Mapping) -> Response:
    headers = conditional_headers(row.get("etag"), row.get("last_modified"))
    chain = client.fetch_chain(
        url, record=False, max_bytes=FEED_MAX_BYTES, head_limit=FEED_MAX_BYTES, headers=headers
    )
    try:
        return response_of(chain)
    finally:
        chain.close()


@dataclass(frozen=True, kw_only=True)
class FeedRead:
    """What one fetch of a feed found: its entries, "not modified", or why it failed."""

    response: Response
    parsed: ParsedFeed | None = None
    failure: str | None = None


def read_feed(client: Client, row: Mapping) -> FeedRead:
    """Fetch one feed (conditionally) and parse it; adds nothing, writes nothing."""
    resp = fetch_feed(client, row["location"], row)
    failure = failure_of(resp)
    parsed = None
    if failure is None and not resp.not_modified:
        parsed = parse_feed(resp.body, resp.final_url or row["location"], resp.content_type)
        failure = parsed.error
    return FeedRead(response=resp, parsed=parsed, failure=failure)


def entries_error(errors: list[str]) -> str | None:
    """The feed's last error after a poll: the entries that could not be added."""
    if not errors:
        return None
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{_n(len(errors), 'entry', 'entries')} not added: {errors[0]}{more}"


def entries_note(listed: int, new: int) -> str:
    """The feed's line: "5 entries, 2 new"."""
    return f"{_n(listed, 'entry', 'entries')}, {new} new"


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"
