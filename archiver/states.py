"""The stored state vocabularies, in one place: what a target's capture and check came
to, where a citation's review stands, and what a citation is to its article.

Each is a `StrEnum` whose values are the bytes in the database (`target.capture_state`,
`target.rot` and `check.classification`, `review.state`, `citation.role`) and in the JSON
contract, so a member compares equal to, binds as and prints as its value (but orjson
takes no member as a dict key: a document's keys stay plain strings).

Not here: a page's kind (`judge.Kind`, a snapshot's ``quality``), which the judge owns,
and WARC record types, which are the WARC standard's words.
"""

from __future__ import annotations

from enum import StrEnum


class CaptureState(StrEnum):
    """A capture attempt's outcome, and a target's `capture_state` (the stored values)."""

    ARCHIVED = "archived"
    FAILED = "failed"
    PENDING = "pending"  # waiting out a Retry-After (an attempt too), or never tried


class Rot(StrEnum):
    """A check's classification (the `check.classification` / `target.rot` values)."""

    OK = "ok"
    REDIRECTED = "redirected"
    DRIFTED = "drifted"
    SOFT_404 = "soft-404"
    GONE = "gone"
    BLOCKED = "blocked"
    SERVER_ERROR = "server-error"
    UNREACHABLE = "unreachable"
    RATE_LIMITED = "rate-limited"


# what `archive status`, the browse filter and the article counts call "rotted": every
# class but the two where the cited page is still there and rate-limited (not yet known)
ROTTED = (Rot.GONE, Rot.BLOCKED, Rot.SOFT_404, Rot.SERVER_ERROR, Rot.UNREACHABLE, Rot.DRIFTED)


class ReviewState(StrEnum):
    """Where a citation's review stands (the `review.state` values)."""

    PENDING = "pending"  # made with the citation; no decision yet
    APPROVED = "approved"
    FLAGGED = "flagged"


class CitationRole(StrEnum):
    """What a cited URL is to its article (the `citation.role` values)."""

    CITED = "cited"
    SOURCE = "source"  # the article's own URL
