"""The random-sibling probe: what a site answers for a URL that cannot exist.

Many sites answer a missing page with 200 and a generic page (a soft 404) whose words say
nothing we could match. Asking for a made-up sibling of the cited URL shows what "missing"
looks like on that site: a live page that looks the same is not the cited page.

- The probe URL keeps the cited URL's scheme, host and parent folder and replaces the last
  path segment with 12 random characters (`https://host/news/x7k2…` for
  `https://host/news/some-story`): a sibling is answered by the same code path.
- One probe per (origin, parent folder) per check run, fetched lazily (only for pages
  the snapshot does not vouch for) and shared by every worker thread: politeness.
- A page is "the same as the probe" when the probe answered 2xx and the page has the same
  text fingerprint, or word 3-gram similarity ≥ 0.9 (`PROBE_SIMILARITY`), or the same
  final URL after redirects (both sent to one landing page).
"""

from __future__ import annotations

import secrets
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from archiver import pages

PROBE_SIMILARITY = 0.9
_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True, kw_only=True)
class ProbeAnswer:
    """What the site answered for the made-up URL."""

    url: str
    final_url: str | None = None
    status: int | None = None
    text: str = ""
    fingerprint: str | None = None


def random_token(length: int = 12) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def parent_folder(url: str) -> str:
    """``/news/`` for ``/news/story`` and ``/news/story/``; ``/`` at the top."""
    path = urlsplit(url).path or "/"
    segments = [p for p in path.split("/") if p]
    return "/" + "".join(f"{s}/" for s in segments[:-1])


def probe_key(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}", parent_folder(url)


def probe_url(url: str, token: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parent_folder(url) + token, "", ""))


def same_as_probe(
    text: str, fingerprint: str | None, final_url: str | None, probe: ProbeAnswer
) -> bool:
    """Does a page look like the site's answer for a URL that cannot exist?"""
    if probe.status is None or not 200 <= probe.status < 300:
        return False  # the site answers a missing page honestly: nothing to learn
    if final_url and probe.final_url and final_url == probe.final_url:
        return True
    if not text.strip() or not probe.text.strip():
        return False
    if fingerprint and fingerprint == probe.fingerprint:
        return True
    return pages.similarity(text, probe.text) >= PROBE_SIMILARITY


class ProbeCache:
    """One probe per (origin, parent folder) per run; thread-safe, fetched once."""

    def __init__(
        self, fetch: Callable[[str], ProbeAnswer], token: Callable[[], str] = random_token
    ) -> None:
        self._fetch = fetch
        self._token = token
        self._lock = threading.Lock()
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._answers: dict[tuple[str, str], ProbeAnswer] = {}

    def get(self, url: str) -> ProbeAnswer:
        key = probe_key(url)
        with self._lock:
            key_lock = self._locks.setdefault(key, threading.Lock())
        with key_lock:  # a second worker on the same site waits for the first's probe
            if key not in self._answers:
                self._answers[key] = self._fetch(probe_url(url, self._token()))
            return self._answers[key]

    def __len__(self) -> int:
        return len(self._answers)
