"""The record of one fetch: its hops (request/response crossings) and how it ended."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from archiver.errors import FetchError
from archiver.net import wire

REDIRECTS = (301, 302, 303, 307, 308)


@dataclass
class Hop:
    """One request/response crossing."""

    url: str
    started_at: datetime
    status: int | None = None
    reason: str = ""
    http_version: str = "HTTP/1.1"
    headers: list[tuple[str, str]] = field(default_factory=list)
    exchange: wire.Exchange | None = None
    doc_digest: str | None = None
    doc_size: int = 0
    head: bytes = b""
    truncated: str | None = None  # "length" | "time" | "disconnect"
    error: str | None = None  # a problem after the headers arrived

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    @property
    def content_type(self) -> str | None:
        value = self.header("content-type")
        return value.split(";")[0].strip().lower() if value else None

    @property
    def location(self) -> str | None:
        return self.header("location")

    @property
    def is_redirect(self) -> bool:
        return self.status in REDIRECTS and bool(self.location)

    def retry_after(self, now: datetime | None = None) -> float | None:
        return parse_retry_after(self.header("retry-after"), now)

    def close(self) -> None:
        if self.exchange is not None:
            self.exchange.close()


@dataclass
class Chain:
    """The hops of one fetch and how it ended."""

    url: str
    hops: list[Hop] = field(default_factory=list)
    error: FetchError | None = None

    @property
    def final(self) -> Hop | None:
        return self.hops[-1] if self.hops and self.hops[-1].status is not None else None

    @property
    def redirects(self) -> list[str]:
        """Every URL in the chain, first to last (the hop list of the snapshot row)."""
        return [h.url for h in self.hops]

    def close(self) -> None:
        for hop in self.hops:
            hop.close()


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """RFC 9110 §10.2.3: delay-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
