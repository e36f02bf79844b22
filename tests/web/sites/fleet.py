"""fleet0.test … fleet7.test: many small pages on a few hosts, for the many-worker tests.

``/page/N`` is a short article page with no requisites (one request per capture); it
answers after ``?ms=`` milliseconds (default 20), like a server thinking. While it
thinks the request counts as in flight for its host: `IN_FLIGHT` keeps each host's
peak, so a test can prove that politeness held across every worker process
(`IN_FLIGHT.reset()` first, `IN_FLIGHT.peak(host)` after).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from html import escape

from tests.web.replies import Reply, html
from tests.web.routing import Request, Site

HOSTS = tuple(f"fleet{i}.test" for i in range(8))
MAX_MS = 5000


class InFlight:
    """Requests being answered per host, and the most there ever were at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._now: Counter[str] = Counter()
        self._peak: Counter[str] = Counter()

    def enter(self, host: str) -> None:
        with self._lock:
            self._now[host] += 1
            self._peak[host] = max(self._peak[host], self._now[host])

    def leave(self, host: str) -> None:
        with self._lock:
            self._now[host] -= 1

    def peak(self, host: str | None = None) -> int:
        with self._lock:
            if host is not None:
                return self._peak[host]
            return max(self._peak.values(), default=0)

    def reset(self) -> None:
        with self._lock:
            self._now.clear()
            self._peak.clear()


IN_FLIGHT = InFlight()


def page(request: Request) -> Reply:
    n = escape(request.path.rsplit("/", 1)[-1])
    IN_FLIGHT.enter(request.host)
    try:
        time.sleep(min(MAX_MS, max(0.0, request.number("ms", 20))) / 1000)
    finally:
        IN_FLIGHT.leave(request.host)
    title = f"Fleet report {n} on {request.host}"
    body = (
        f"<!doctype html><html><head><title>{title}</title></head><body>"
        f"<h1>{title}</h1><p>Court hearing {n}: the ruling, the appeal and the statement "
        f"published by the press office of the {request.host} court.</p></body></html>"
    )
    return html(body)


def _home(_request: Request) -> Reply:
    return html("<html><head><title>Fleet</title></head><body>See /page/N</body></html>")


FLEET = Site(
    hosts=HOSTS,
    routes={"/": _home},
    prefixes=(("/page/", page),),
    fallback=html("<html><body>Not here</body></html>", status=404),
)

SITES = (FLEET,)
