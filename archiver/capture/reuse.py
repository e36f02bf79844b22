"""Requisite reuse: a stylesheet, script, font or image this archive captured with a 2xx
within `capture.reuse_window` is not fetched again; the page relies on that copy.

One `ReuseCache` per capture run, shared by its threads. A URL is fetched by one thread
at a time: the first to ask fetches it (`take` returns None), the others get the event
to wait on and then reuse its copy once that thread has written it to the WARC
(fsync'd) and `publish`ed it. A thread publishes what it fetched before it waits for
anything, so no two threads wait for each other.

The store is asked for what this run has not seen; what this run wrote is answered from
memory (bounded: the oldest entries go first).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from archiver.capture.requisites import css_text, css_urls
from archiver.net import recorded
from archiver.warcfiles.records import warc_date
from archiver.warcfiles.writer import OPEN_SUFFIX

logger = logging.getLogger(__name__)

# how much of a reused stylesheet is read back from the WARC for its url()s and @imports
CSS_READ_LIMIT = 2 << 20


@dataclass(frozen=True)
class Reused:
    """The stored copy of a requisite that a page relies on."""

    url: str
    record_id: str
    warc: str  # relative to the archive root
    offset: int
    warc_date: str
    children: tuple[str, ...] = ()  # a stylesheet's url()s and @imports

    def row(self) -> dict:
        return dict(
            url=self.url,
            record_id=self.record_id,
            warc=self.warc,
            offset=self.offset,
            warc_date=self.warc_date,
        )


def stylesheet_children(root: Path, warc: str, offset: int, url: str) -> tuple[str, ...]:
    """The url()s and @imports of a stored stylesheet response (none if it is not CSS,
    or if the record cannot be read: the stylesheet is still reused, its children are
    then simply not followed)."""
    # a file still being written is `.open`; it may be renamed between two tries
    for name in (warc, warc + OPEN_SUFFIX, warc):
        try:
            with open(root / name, "rb") as f:
                return _css_children(f, offset, url)
        except FileNotFoundError:
            continue
        except Exception:  # a damaged or cut record (warcio raises several kinds)
            logger.warning("reuse: cannot read the stylesheet %s at %s:%d", url, warc, offset)
            return ()
    return ()


def _css_children(f, offset: int, url: str) -> tuple[str, ...]:
    f.seek(offset)
    record = next(iter(ArchiveIterator(f)), None)
    if record is None or record.http_headers is None:
        return ()
    ctype = record.http_headers.get_header("content-type") or ""
    if ctype.split(";")[0].strip().lower() != "text/css":
        return ()
    body = recorded.document_stream(record, CSS_READ_LIMIT).read(CSS_READ_LIMIT)
    return tuple(css_urls(css_text(body, ctype), url))


class ReuseCache:
    """Which requisites may be reused in this run, and who is fetching which."""

    def __init__(
        self,
        lookup: Callable[[str, str], object | None],
        *,
        window: float,
        clock: Callable[[], datetime],
        children: Callable[[str, int, str], tuple[str, ...]],
        limit: int = 50_000,
    ) -> None:
        self._lookup = lookup  # (url, since WARC-Date) → a stored row or None
        self.window = window
        self._clock = clock
        self._children = children  # (warc, offset, url) → a stylesheet's URLs
        self._limit = limit
        self._known: dict[str, Reused] = {}
        self._fetching: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def _since(self) -> str:
        return warc_date(self._clock() - timedelta(seconds=self.window))

    def take(self, url: str) -> Reused | threading.Event | None:
        """A copy to reuse; or the event to wait on while another thread fetches it;
        or None: the caller fetches it and must `publish` (a copy or None) after."""
        since = self._since()
        with self._lock:
            known = self._known.get(url)
            if known is not None and known.warc_date >= since:
                return known
            event = self._fetching.get(url)
            if event is not None:
                return event
            self._fetching[url] = threading.Event()
        try:  # whatever fails here, nobody is left waiting on this URL
            row = self._lookup(url, since)
            if row is None:
                return None
            found = Reused(
                url=url,
                record_id=row.record_id,
                warc=row.warc,
                offset=int(row.offset),
                warc_date=row.warc_date,
                children=self._children(row.warc, int(row.offset), url),
            )
        except BaseException:
            self.publish(url, None)
            raise
        self.publish(url, found)
        return found

    def publish(self, url: str, copy: Reused | None) -> None:
        """The caller's fetch of ``url`` is over (``copy``: what it wrote, if reusable)."""
        with self._lock:
            if copy is not None:
                if len(self._known) >= self._limit:
                    self._known.pop(next(iter(self._known)))
                self._known[url] = copy
            event = self._fetching.pop(url, None)
        if event is not None:
            event.set()
