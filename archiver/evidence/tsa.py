"""Ask an RFC 3161 time-stamping service for a token over a sha256 digest.

The request and the reply are built and parsed by `rfc3161-client` (Trail of Bits), never
by our own ASN.1. That library hashes the data it is given; a WARC file may be a
gigabyte, so the request is built over a stand-in and the stand-in's 32-byte digest is
then swapped for the subject's (same length, so the DER stays valid) and the request
parsed back to prove its message imprint is exactly the subject's sha256.

The request goes out like every fetch: the [capture] proxy and CA bundle, the
environment's proxies otherwise, and the private-address guard (a TSA is a public
host; through a proxy its name is checked by a local lookup, directly the connected
address is checked). A TSA that hangs is cut at ``timeout`` for the whole reply; a
reply is read up to ``MAX_REPLY`` bytes; anything that is not a granted token whose
imprint and nonce match the request is a `TsaError` with a one-line message.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime

import requests
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    decode_timestamp_response,
)
from rfc3161_client._rust import parse_timestamp_request
from urllib3.exceptions import HTTPError as Urllib3Error

from archiver import SOFTWARE, urls
from archiver.config import CaptureSettings
from archiver.errors import FetchError, TsaError
from archiver.net import resolve, wire
from archiver.net.session import build_session

MAX_REPLY = 1 << 20  # a token with its certificates is a few KiB
QUERY_TYPE = "application/timestamp-query"
_STAND_IN = b"archiver: stand-in for a sha256 digest"


@dataclass(frozen=True)
class Token:
    """A granted token: the whole TimeStampResp (DER) and what it says."""

    tsa: str
    reply: bytes
    gen_time: datetime


def build_query(digest: bytes) -> tuple[bytes, int | None]:
    """(DER TimeStampReq whose imprint is ``digest``, its nonce)."""
    if len(digest) != 32:
        raise ValueError("a sha256 digest is 32 bytes")
    req = (
        TimestampRequestBuilder()
        .data(_STAND_IN)
        .hash_algorithm(HashAlgorithm.SHA256)
        .cert_request(cert_request=True)
        .build()
    )
    der = req.as_bytes()
    stand_in = hashlib.sha256(_STAND_IN).digest()
    if der.count(stand_in) != 1:  # a nonce that happens to contain it: build another
        return build_query(digest)
    der = der.replace(stand_in, digest)
    parsed = parse_timestamp_request(der)
    assert parsed.message_imprint.message == digest
    return der, parsed.nonce


def check_reply(body: bytes, digest: bytes, nonce: int | None, tsa: str) -> Token:
    """The reply as a `Token`, or TsaError: not a reply, not granted, another imprint."""
    try:
        resp = decode_timestamp_response(body)
        status = resp.status
        info = resp.tst_info if status in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS) else None
    except (ValueError, TypeError) as exc:
        raise TsaError(f"{tsa}: the reply is not an RFC 3161 timestamp response ({exc})") from None
    if info is None:
        text = "; ".join(resp.status_string or []) or "no reason given"
        raise TsaError(f"{tsa}: timestamp refused (PKIStatus {status}: {text})")
    if info.message_imprint.message != digest:
        raise TsaError(f"{tsa}: the token stamps another digest than the one asked")
    if nonce is not None and info.nonce != nonce:
        raise TsaError(f"{tsa}: the token's nonce is not the request's")
    return Token(tsa=tsa, reply=body, gen_time=info.gen_time)


def _refusal(url: str, proxies: dict, allow_private: bool) -> str | None:
    """The SSRF guard for a TSA URL (see `net.fetch._proxy_refusal` for the proxy case)."""
    reason = urls.url_refusal(url, allow_private=allow_private)
    if reason or allow_private:
        return reason
    if requests.utils.select_proxy(url, proxies):
        host = urls.host_of(url)
        why = resolve.refusal(host)
        return f"{host} resolves to a {why}" if why else None
    return None


def _read_capped(resp: requests.Response, deadline: float, tsa: str) -> bytes:
    parts, got = [], 0
    while chunk := resp.raw.read(64 << 10, decode_content=True):
        got += len(chunk)
        if got > MAX_REPLY:
            raise TsaError(f"{tsa}: reply larger than {MAX_REPLY} bytes")
        if time.monotonic() > deadline:
            raise TsaError(f"{tsa}: no complete reply in time")
        parts.append(chunk)
    return b"".join(parts)


def _post(
    session: requests.Session, url: str, body: bytes, settings: CaptureSettings, timeout: float
) -> bytes:
    proxies = {"http": settings.proxy, "https": settings.proxy} if settings.proxy else {}
    env = session.merge_environment_settings(url, proxies, True, settings.ca_bundle or None, None)
    reason = _refusal(url, env["proxies"], settings.allow_private)
    if reason:
        raise TsaError(f"{url}: refused: {reason}")
    deadline = time.monotonic() + timeout
    ex = wire.Exchange(allow_private=settings.allow_private, record=False, deadline=deadline)
    headers = {
        "Content-Type": QUERY_TYPE,
        "Accept": "application/timestamp-reply",
        "User-Agent": SOFTWARE,
    }
    with wire.exchange_scope(ex):
        resp = session.post(
            url,
            data=body,
            headers=headers,
            timeout=(timeout, timeout),
            stream=True,
            allow_redirects=False,
            proxies=env["proxies"],
            verify=env["verify"],
        )
        try:
            if resp.status_code != 200:
                raise TsaError(f"{url}: HTTP {resp.status_code}")
            return _read_capped(resp, deadline, url)
        finally:
            resp.close()


def _describe(exc: BaseException, timeout: float) -> str:
    """The innermost cause, in one short line (requests nests three or four)."""
    if isinstance(exc, requests.Timeout | TimeoutError):
        return f"no answer within {timeout:g}s"
    inner = exc
    for _ in range(8):  # a bounded walk: a cycle of causes is possible in principle
        nxt = inner.__cause__ or (inner.args[-1] if inner.args else None)
        if not isinstance(nxt, BaseException) or nxt is inner:
            break
        inner = nxt
        if isinstance(inner, TimeoutError):
            return f"no answer within {timeout:g}s"
    text = str(inner).replace("\n", " ")
    if isinstance(inner, FetchError):
        return text[:200]
    return f"{type(inner).__name__}: {text}"[:200]


def request_token(digest: bytes, url: str, *, settings: CaptureSettings, timeout: float) -> Token:
    """One token over ``digest`` (sha256) from one TSA, or TsaError."""
    query, nonce = build_query(digest)
    session = build_session(settings)
    try:
        body = _post(session, url, query, settings, timeout)
    except TsaError:
        raise
    except (requests.RequestException, Urllib3Error, OSError, FetchError) as exc:
        raise TsaError(f"{url}: {_describe(exc, timeout)}") from exc
    finally:
        session.close()
    return check_reply(body, digest, nonce, url)


def first_token(
    digest: bytes, tsa_urls: list[str], *, settings: CaptureSettings, timeout: float
) -> Token:
    """A token from the first TSA that gives one; TsaError naming every failure."""
    errors = []
    for url in tsa_urls:
        try:
            return request_token(digest, url, settings=settings, timeout=timeout)
        except TsaError as exc:
            errors.append(str(exc))
    raise TsaError("; ".join(errors) or "no TSA configured ([evidence] tsa_url)")
