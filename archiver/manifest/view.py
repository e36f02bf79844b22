"""What the HTML pages show, decided from plain values — no I/O, no templates.

Badges, the summary strip, the "cite this instead" snapshot and its Robust Links
snippet are decisions; the templates only lay them out.

Robust Links (https://robustlinks.mementoweb.org/spec/): the snippet links the
original URL and names the archived copy in ``data-versionurl`` with the capture
day in ``data-versiondate``. Our archive has no public replay server of its own, so
unless a replay prefix is configured (pywb / Wayback style: PREFIX + 14-digit
timestamp + "/" + URL), the version URL is a ``warc:`` reference naming the WARC file
(relative to the archive root) and the gzip member's byte offset:
``warc:warcs/2026/11/archive-20261125203000-00000.warc.gz#offset=1234``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from archiver import times
from archiver.manifest.robust import replay_url, robust_link
from archiver.states import CaptureState, ReviewState, Rot

ROT_CLASSES = tuple(Rot)
UNCHECKED = "unchecked"  # a target no check has reached: no `Rot` yet
CAPTURE_STATES = tuple(CaptureState)
REVIEW_STATES = (ReviewState.APPROVED, ReviewState.FLAGGED, ReviewState.PENDING)

# good = green, warn = amber, bad = red, muted = grey
_TONE = {
    Rot.OK: "good",
    Rot.REDIRECTED: "good",
    Rot.DRIFTED: "warn",
    Rot.SOFT_404: "bad",
    Rot.GONE: "bad",
    Rot.BLOCKED: "bad",
    Rot.SERVER_ERROR: "bad",
    Rot.UNREACHABLE: "bad",
    Rot.RATE_LIMITED: "muted",
    UNCHECKED: "muted",
    CaptureState.ARCHIVED: "good",
    CaptureState.FAILED: "bad",
    CaptureState.PENDING: "muted",  # and a review's pending (the same word)
    ReviewState.APPROVED: "good",
    ReviewState.FLAGGED: "bad",
}


@dataclass(frozen=True)
class Badge:
    label: str
    tone: str


def badge(value: str | None) -> Badge:
    label = value or UNCHECKED
    return Badge(label, _TONE.get(label, "muted"))


def safe_href(url: str | None) -> str | None:
    """Only http(s) URLs become links: a javascript: or data: URL stays inert text."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


def _parse(iso: str) -> datetime:
    return times.parse(iso)


def when(iso: str | None) -> str:
    """'2026-11-25 20:30 UTC' for people; the ISO value stays in <time datetime>."""
    return times.minutes(_parse(iso)) if iso else ""


def human_size(n: int | None) -> str:
    if n is None:
        return ""
    if n < 1024:
        return f"{n} B"
    size = n / 1024
    for unit in ("KB", "MB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def digest_hex(digest: str | None) -> str:
    return (digest or "").removeprefix("sha256:")


def last_good(snapshots: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest snapshot worth citing; later error pages and bot walls never replace it."""
    good = [s for s in snapshots if s.get("good")]
    return good[-1] if good else None


def _counts(values: list[str], order: tuple[str, ...]) -> list[tuple[Badge, int]]:
    seen = Counter(values)
    keys = [k for k in order if seen[k]] + sorted(k for k in seen if k not in order)
    return [(badge(k), seen[k]) for k in keys]


def summary(citations: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts for the strip at the top: rot class, capture state, review, dead."""
    return {
        "total": len(citations),
        "rot": _counts([c["rot"] or UNCHECKED for c in citations], (*ROT_CLASSES, UNCHECKED)),
        "capture": _counts([c["capture_state"] for c in citations], CAPTURE_STATES),
        "review": _counts([c["review"]["state"] for c in citations], REVIEW_STATES),
        "dead": sum(1 for c in citations if c["dead"]),
    }


def snapshot_view(s: dict[str, Any], replay_prefix: str | None) -> dict[str, Any]:
    """The snapshot plus its replay URL: its own record (final URL at capture time)."""
    url = replay_url(replay_prefix, s["captured_at"], s["final_url"]) if replay_prefix else None
    return {**s, "replay_url": safe_href(url)}


def why(c: dict[str, Any]) -> str:
    """One line: the evidence of the citation's latest judgement (its last check, else its
    last snapshot), "rule: detail; …"; "" when none was kept (rows from before issue 17)."""
    latest = (c["checks"] or c["snapshots"] or [{}])[-1]
    reasons = latest.get("reasons") or []
    return "; ".join(f"{r['rule']}: {r['detail']}" for r in reasons)


def citation_view(c: dict[str, Any], replay_prefix: str | None) -> dict[str, Any]:
    snapshots = [snapshot_view(s, replay_prefix) for s in c["snapshots"]]
    good = last_good(snapshots)
    cite = None
    if good is not None:
        cite = {"snapshot": good, "snippet": robust_link(c["url"], good, replay_prefix)}
    return {
        **c,
        "snapshots": snapshots,
        "href": safe_href(c["url"]),
        "rot_badge": badge(c["rot"]),
        "capture_badge": badge(c["capture_state"]),
        "review_badge": badge(c["review"]["state"]),
        "cite": cite,
        "why": why(c),
    }


def article_view(
    doc: dict[str, Any], *, generated_at: str, replay_prefix: str | None = None
) -> dict[str, Any]:
    art = doc["article"]
    return {
        "article": {**art, "href": safe_href(art["source_url"])},
        "summary": summary(doc["citations"]),
        "citations": [citation_view(c, replay_prefix) for c in doc["citations"]],
        "generated_at": generated_at,
        "replay_prefix": replay_prefix,
    }
