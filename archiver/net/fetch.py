"""Fetch one URL with every redirect hop followed by hand, recorded and checked.

`Client.fetch_chain` is the only way capture and check talk HTTP. Each hop is one
request/response crossing (`net.hops`): its raw bytes (when recording), a sha256 of the
document bytes (transfer and content coding removed), the first bytes of the decoded
document for parsing, and why it stopped early if it did. Library errors become ours in
`net.failures`; the page time limit is kept by `net.watchdog`.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from urllib.parse import urlsplit

import requests
from requests.cookies import extract_cookies_to_jar
from requests.utils import get_auth_from_url, select_proxy
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError

from archiver import codings, times, urls
from archiver.config import CaptureSettings
from archiver.errors import FetchError, FetchTimeout, RefusedAddress
from archiver.net import recorded, resolve, wire
from archiver.net.failures import describe
from archiver.net.gate import HostGate
from archiver.net.hops import Chain, Hop
from archiver.net.session import build_session
from archiver.net.watchdog import WATCHDOG

logger = logging.getLogger(__name__)

CHUNK = 64 * 1024
LOOKUP_TTL = 60.0  # seconds a proxy-mode lookup of a host is reused
BROKEN_CODING = "content coding broken: body kept as received"  # hop.error


class Client:
    """One worker's HTTP: a Session, the settings, and the process's host gate."""

    def __init__(
        self,
        settings: CaptureSettings,
        gate: HostGate | None = None,
        *,
        clock: Callable[[], datetime] = times.now,
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
        # per scheme://netloc, for the life of this client: what `_send` merges from the
        # environment (proxies, NO_PROXY, CA bundle; ~0.1 ms a request, walking
        # os.environ twice)
        self._env: dict[tuple[str, str], dict] = {}
        # behind a proxy: host -> (when looked up, the lookup); see `_lookup`
        self._lookups: dict[str, tuple[float, resolve.Lookup]] = {}

    def sibling(self) -> Client:
        """A client with a session (so a cookie jar) of its own, on this one's connection
        pools, host gate and per-origin caches (environment, lookups): what a thread
        needs when one site's cookies must not reach another thread's requests."""
        other = Client(self.settings, self.gate, clock=self.clock)
        adapter = self.session.get_adapter("https://")
        other.session.mount("http://", adapter)
        other.session.mount("https://", adapter)
        other._env, other._lookups = self._env, self._lookups
        return other

    def close(self) -> None:
        self.session.close()

    def _environment(self, url: str) -> dict:
        """`Session.merge_environment_settings` for ``url``, worked out once per origin."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        env = self._env.get(key)
        if env is None:
            env = self.session.merge_environment_settings(
                url, dict(self._proxies or {}), True, self._verify, None
            )
            self._env[key] = env
        return env

    @staticmethod
    def _auth(url: str):
        """Credentials for ``url``: only those the URL itself carries, never ~/.netrc.

        A cited URL is anyone's choice: a netrc entry (a ``default`` one matches every
        host) would go to that host and into the WARC's request record. Passing a
        no-op auth keeps `Session.prepare_request` from looking netrc up.
        """
        user, password = get_auth_from_url(url)
        return (user, password) if user or password else _no_auth

    def _lookup(self, host: str) -> resolve.Lookup:
        """`resolve.lookup` of a host behind a proxy, remembered for LOOKUP_TTL seconds:
        every requisite of a page is on a few hosts, and the proxy rechecks nothing.
        The exchange under way keeps it: its DNS answers are the connection's evidence."""
        now = time.monotonic()
        known = self._lookups.get(host)
        if known is None or now - known[0] > LOOKUP_TTL:
            known = (now, resolve.lookup(host))
            self._lookups[host] = known
        ex = wire.current()
        if ex is not None:
            ex.dns = known[1]
        return known[1]

    # ------------------------------------------------------------ one hop

    def _send(self, url: str, headers: Mapping[str, str] | None = None) -> requests.Response:
        """One GET through the transport adapter, body unread; ``headers`` added to the session's.

        Not `Session.request`/`send`: even with allow_redirects=False they read a
        redirect's whole body (`resolve_redirects` consumes it to compute `.next`),
        outside our size and time limits. Environment settings (HTTP(S)_PROXY,
        NO_PROXY, REQUESTS_CA_BUNDLE) are merged here as `Session.request` would,
        with the config's proxy and CA bundle taking precedence.
        """
        s = self.settings
        request = requests.Request("GET", url, headers=headers, auth=self._auth(url))
        prep = self.session.prepare_request(request)
        env = self._environment(prep.url)
        if not s.allow_private:
            proxy = select_proxy(prep.url, env["proxies"])
            refusal = _proxy_refusal(prep.url, proxy, self._lookup)
            if refusal is not None:
                raise refusal
        adapter = self.session.get_adapter(prep.url)
        resp = adapter.send(
            prep,
            stream=True,
            timeout=(s.connect_timeout, s.read_timeout),
            verify=env["verify"],
            proxies=dict(env["proxies"]),
            cert=env["cert"],
        )
        extract_cookies_to_jar(self.session.cookies, prep, resp.raw)
        return resp

    def _read_body(
        self, resp: requests.Response, hop: Hop, max_bytes: int, head_limit: int, deadline: float
    ) -> None:
        digest = hashlib.sha256()
        head = bytearray()
        ex = hop.exchange
        # the document is decoded exactly as `archive verify` decodes it (warcio): one
        # coding it knows, or none — a stacked "gzip, gzip" stays as received
        coding = hop.header("content-encoding")
        decode = recorded.decodes(coding)
        # brotli is never decoded by urllib3 (brotlipy returns a whole read's output at
        # once, a bomb's GBs): a recording is decoded from the record afterwards, as
        # `verify` does; without one, here in bounded steps (`codings`)
        brotli = decode and coding.strip().lower() == codings.BR  # only with brotlipy
        recording = ex is not None and ex.record
        body = codings.BodyDecoder() if brotli and not recording else None
        read = functools.partial(resp.raw.read, decode_content=decode and not brotli)
        # decoding is bounded too: what a recording keeps is bounded by what `verify`
        # decodes; without one, by the size cap itself
        doc_limit = recorded.DOCUMENT_LIMIT if recording else max_bytes
        try:
            while True:
                if time.monotonic() > deadline:
                    hop.truncated = "time"
                    break
                try:
                    data = read(CHUNK)
                except DecodeError:
                    hop.error = BROKEN_CODING
                    read = _undecoded(resp)
                    continue
                if not data:
                    if time.monotonic() > deadline:  # the watchdog shut the socket
                        hop.truncated = "time"
                    break
                for piece in (data,) if body is None else body.feed(data):
                    digest.update(piece)
                    hop.doc_size += len(piece)
                    if len(head) < head_limit:
                        head += piece[: head_limit - len(head)]
                    if hop.doc_size >= doc_limit:
                        break
                if body is not None and body.broken and not hop.error:
                    hop.error = BROKEN_CODING
                wire_bytes = ex.response_bytes if ex is not None else hop.doc_size
                if wire_bytes >= max_bytes or hop.doc_size >= doc_limit:
                    hop.truncated = "length"
                    break
        except (
            ProtocolError,
            ReadTimeoutError,
            OSError,
            http.client.HTTPException,
            requests.RequestException,
        ) as exc:
            hop.truncated = "time" if time.monotonic() > deadline else "disconnect"
            hop.error = describe(exc).args[0] if hop.truncated == "disconnect" else None
        finally:
            if hop.truncated or hop.error:
                resp.raw.close()  # never reuse a half-read connection
            resp.close()
        hop.doc_digest = "sha256:" + digest.hexdigest()
        hop.head = bytes(head)
        if recording and (hop.truncated or hop.error or brotli):
            # what streamed and what warcio decodes from the record may differ here (a
            # brotli body streamed undecoded)
            broken: list[bool] = []
            hop.doc_digest, hop.doc_size, hop.head = recorded.document_of(
                ex.response, head_limit, broken
            )
            if broken and not hop.error:
                hop.error = BROKEN_CODING
            if brotli and hop.doc_size >= recorded.DOCUMENT_LIMIT and not hop.truncated:
                hop.truncated = "length"  # a bomb, cut as a streamed one is

    def _one_hop(
        self,
        url: str,
        *,
        record: bool,
        max_bytes: int,
        head_limit: int,
        deadline: float,
        headers: Mapping[str, str] | None = None,
        paced: bool = True,
    ) -> Hop:
        s = self.settings
        ex = wire.Exchange(allow_private=s.allow_private, record=record, deadline=deadline)
        if deadline - time.monotonic() <= 0:
            raise FetchTimeout("timeout: page time limit reached before the request")
        gate = self.gate.slot(urls.host_of(url), paced=paced, deadline=deadline)
        with gate, wire.exchange_scope(ex):
            # the time spent waiting for the host's turn counts: the deadline stays put;
            # the hop (its WARC-Date) starts when the request goes out, after the turn
            hop = Hop(url=url, started_at=self.clock(), exchange=ex)
            watchdog = WATCHDOG.arm(deadline, ex)
            try:
                resp = self._send(url, headers)
                hop.status = resp.status_code
                hop.reason = resp.reason or ""
                hop.http_version = {10: "HTTP/1.0", 11: "HTTP/1.1"}.get(
                    getattr(resp.raw, "version", 11), "HTTP/1.1"
                )
                hop.headers = list(resp.raw.headers.items())
                self._read_body(resp, hop, max_bytes, head_limit, deadline)
            except (requests.RequestException, OSError, FetchError) as exc:
                ex.close()
                error = describe(exc)
                # a timeout or refusal says more than "the page took too long"
                late = time.monotonic() > deadline
                if late and not isinstance(error, FetchTimeout | RefusedAddress):
                    raise FetchTimeout("timeout: page time limit reached") from exc
                raise error from exc
            finally:
                WATCHDOG.disarm(watchdog)
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
        headers: Mapping[str, str] | None = None,
        deadline: float | None = None,
        paced: bool = True,
    ) -> Chain:
        """GET ``url``, following up to max_redirects hops by hand; never raises FetchError.

        ``headers`` (e.g. If-None-Match for a feed's conditional GET) go with every hop.
        ``deadline`` (`time.monotonic()`) may end the chain before the page time limit:
        what is left of a whole capture's budget.
        ``paced``: every hop is spaced by the host's delay (a page visit); False for a
        visit's requisites, which only take a concurrency slot (and honour Retry-After).
        """
        s = self.settings
        chain = Chain(url=url)
        page_deadline = time.monotonic() + s.page_timeout
        deadline = page_deadline if deadline is None else min(page_deadline, deadline)
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
                    headers=headers,
                    paced=paced,
                )
                chain.hops.append(hop)
                if not (follow and hop.is_redirect):
                    return chain
                if len(chain.hops) > s.max_redirects:
                    raise FetchError(f"too many redirects (more than {s.max_redirects})")
                location = hop.location.strip()  # type: ignore[union-attr]
                joined = urls.join(current, location)
                if joined is None:
                    raise FetchError(f"bad redirect: Location {location[:200]!r} is not a URL")
                current = joined
        except FetchError as exc:
            chain.error = exc
            return chain


def _undecoded(resp: requests.Response) -> Callable[[int], bytes]:
    """The rest of a body whose content coding broke, as sent (still recorded by the tee).

    urllib3 refuses ``read(decode_content=False)`` once it has decoded anything, so read
    the http.client response beneath it.
    """
    raw = resp.raw
    if not getattr(raw, "_has_decoded_content", True):
        return functools.partial(raw.read, decode_content=False)
    return raw._fp.read  # type: ignore[attr-defined]


def _no_auth(request):
    """No credentials: the request goes as it is."""
    return request


# SOCKS schemes whose client resolves the name (socks5h and socks4a leave it to the proxy)
_LOCAL_DNS_SOCKS = ("socks5", "socks4")


def _proxy_refusal(
    url: str, proxy: str | None, lookup: Callable[[str], resolve.Lookup]
) -> RefusedAddress | None:
    """Behind a proxy the connected peer is the proxy: check the origin's name here.

    The name is looked up locally and a private answer refused (the proxy would
    resolve it the same way on most networks). A name that does not resolve here goes
    to the proxy, whose own lookup it must filter. ``socks5://``/``socks4://`` resolve
    in PySocks, past every check, so only their remote-DNS forms are allowed.
    """
    if not proxy:
        return None
    scheme = urlsplit(proxy).scheme.lower()
    if scheme in _LOCAL_DNS_SOCKS:
        return RefusedAddress(
            f"refused: a {scheme}:// proxy resolves names unchecked; use {scheme}"
            f"{'h' if scheme == 'socks5' else 'a'}:// (or allow_private = true)"
        )
    host = urls.host_of(url)
    reason = lookup(host).refusal
    return wire.refused(host, reason) if reason else None
