"""Fetch one URL with every redirect hop followed by hand, recorded and checked.

`Client.fetch_chain` is the only way capture and check talk HTTP. Each hop is one
request/response crossing: its raw bytes (when recording), a sha256 of the document
bytes (transfer and content coding removed), the first bytes of the decoded document
for parsing, and why it stopped early if it did.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin

import requests
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError

from archiver import urls
from archiver.config import CaptureSettings
from archiver.errors import FetchError, FetchTimeout, RefusedAddress
from archiver.net import wire
from archiver.net.gate import HostGate
from archiver.net.session import build_session

logger = logging.getLogger(__name__)

CHUNK = 64 * 1024
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


def _describe(exc: BaseException) -> FetchError:
    """requests/urllib3 errors → one FetchError with a reason a user can read."""
    text = str(exc)
    low = text.lower()
    if isinstance(exc, FetchError):
        return exc
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return FetchTimeout("timeout: connect timed out")
    if isinstance(exc, requests.exceptions.ReadTimeout | ReadTimeoutError | socket.timeout):
        return FetchTimeout("timeout: read timed out")
    if isinstance(exc, requests.exceptions.SSLError):
        detail = low.split("certificate verify failed:")[-1].split("(")[0].strip(" :'\")")
        return FetchError(
            f"tls: certificate verify failed: {detail}"
            if "verify failed" in low
            else f"tls: {text[:200]}"
        )
    if isinstance(exc, requests.exceptions.ProxyError):
        return FetchError(f"proxy: {_short(text)}")
    if "nameresolutionerror" in low or "name or service not known" in low or "getaddrinfo" in low:
        return FetchError("dns: host name not found")
    if "connection refused" in low:
        return FetchError("connection refused")
    if "reset by peer" in low or "connectionreseterror" in low:
        return FetchError("connection reset")
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.InvalidSchema):
        return FetchError(f"bad url: {_short(text)}")
    return FetchError(f"connection: {_short(text)}")


def _short(text: str) -> str:
    return text.replace("\n", " ")[:200]


class Client:
    """One worker's HTTP: a Session, the settings, and the process's host gate."""

    def __init__(
        self,
        settings: CaptureSettings,
        gate: HostGate | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.session = build_session(settings)
        self.gate = gate or HostGate(
            concurrency=settings.per_host_concurrency, delay=settings.per_host_delay
        )
        self.clock = clock
        # passed per request: a config value must beat the environment (requests
        # merges environment settings over session attributes)
        self._proxies = (
            {"http": settings.proxy, "https": settings.proxy} if settings.proxy else None
        )
        self._verify = settings.ca_bundle or None

    def close(self) -> None:
        self.session.close()

    # ------------------------------------------------------------ one hop

    def _read_body(
        self, resp: requests.Response, hop: Hop, max_bytes: int, head_limit: int, deadline: float
    ) -> None:
        digest = hashlib.sha256()
        head = bytearray()
        ex = hop.exchange
        decode = True
        try:
            while True:
                if time.monotonic() > deadline:
                    hop.truncated = "time"
                    break
                try:
                    data = resp.raw.read(CHUNK, decode_content=decode)
                except DecodeError:
                    hop.error = "content coding broken: body kept as received"
                    decode = False
                    continue
                if not data:
                    break
                digest.update(data)
                hop.doc_size += len(data)
                if len(head) < head_limit:
                    head += data[: head_limit - len(head)]
                if ex is not None and ex.response_bytes >= max_bytes:
                    hop.truncated = "length"
                    break
                if ex is None and hop.doc_size >= max_bytes:
                    hop.truncated = "length"
                    break
        except (ProtocolError, ReadTimeoutError, OSError, requests.RequestException) as exc:
            hop.truncated = "time" if time.monotonic() > deadline else "disconnect"
            hop.error = _describe(exc).args[0] if hop.truncated == "disconnect" else None
        finally:
            if hop.truncated:
                resp.raw.close()  # never reuse a half-read connection
            resp.close()
        hop.doc_digest = "sha256:" + digest.hexdigest()
        hop.head = bytes(head)

    def _one_hop(
        self, url: str, *, record: bool, max_bytes: int, head_limit: int, deadline: float
    ) -> Hop:
        s = self.settings
        ex = wire.Exchange(allow_private=s.allow_private, record=record)
        hop = Hop(url=url, started_at=self.clock(), exchange=ex)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchTimeout("timeout: page time limit reached before the request")
        watchdog = threading.Timer(remaining, _abort, args=(ex,))
        watchdog.daemon = True
        with self.gate.slot(urls.host_of(url)), wire.exchange_scope(ex):
            watchdog.start()
            try:
                resp = self.session.request(
                    "GET",
                    url,
                    allow_redirects=False,
                    stream=True,
                    timeout=(s.connect_timeout, s.read_timeout),
                    proxies=self._proxies,
                    verify=self._verify,
                )
                hop.status = resp.status_code
                hop.reason = resp.reason or ""
                hop.http_version = {10: "HTTP/1.0", 11: "HTTP/1.1"}.get(
                    getattr(resp.raw, "version", 11), "HTTP/1.1"
                )
                hop.headers = list(resp.raw.headers.items())
                self._read_body(resp, hop, max_bytes, head_limit, deadline)
            except (requests.RequestException, OSError, FetchError) as exc:
                ex.close()
                if time.monotonic() > deadline and not isinstance(exc, RefusedAddress):
                    raise FetchTimeout("timeout: page time limit reached") from exc
                raise _describe(exc) from exc
            finally:
                watchdog.cancel()
        if hop.status == 429 or (hop.status == 503 and hop.header("retry-after")):
            delay = hop.retry_after(self.clock())
            if delay:
                self.gate.defer(urls.host_of(url), min(delay, 3600))
        return hop

    # ------------------------------------------------------------ the chain

    def fetch_chain(
        self,
        url: str,
        *,
        record: bool = True,
        max_bytes: int | None = None,
        head_limit: int = 8 * 2**20,
        follow: bool = True,
    ) -> Chain:
        """GET ``url``, following up to max_redirects hops by hand; never raises FetchError."""
        s = self.settings
        chain = Chain(url=url)
        deadline = time.monotonic() + s.page_timeout
        seen: set[str] = set()
        current = url
        try:
            while True:
                refusal = urls.url_refusal(current, allow_private=s.allow_private)
                if refusal:
                    raise RefusedAddress(f"refused: {refusal}")
                key = urls.normalise(current, drop_tracking=False)
                if key in seen:
                    raise FetchError(f"redirect loop at {current}")
                seen.add(key)
                hop = self._one_hop(
                    current,
                    record=record,
                    max_bytes=max_bytes or s.max_bytes,
                    head_limit=head_limit,
                    deadline=deadline,
                )
                chain.hops.append(hop)
                if not (follow and hop.is_redirect):
                    return chain
                if len(chain.hops) > s.max_redirects:
                    raise FetchError(f"too many redirects (more than {s.max_redirects})")
                current = urljoin(current, hop.location.strip())  # type: ignore[union-attr]
        except FetchError as exc:
            chain.error = exc
            return chain


def _abort(ex: wire.Exchange) -> None:
    """Page time limit: shut the socket so a blocked read returns at once."""
    sock = ex.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)  # type: ignore[attr-defined]
