"""requests/urllib3/OS errors → our `FetchError`, at the one boundary (`describe`)."""

from __future__ import annotations

import http.client
import socket
import ssl

import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    IncompleteRead,
    NameResolutionError,
    NewConnectionError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)

from archiver.errors import FetchError, FetchTimeout


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what it wraps: MaxRetryError.reason, __cause__, __context__."""
    chain: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop(0)
        if e is None or e in chain or len(chain) > 12:
            continue
        chain.append(e)
        linked = [getattr(e, "reason", None), e.__cause__, e.__context__, *e.args]
        todo += [x for x in linked if isinstance(x, BaseException)]
    return chain


def describe(exc: BaseException) -> FetchError:
    """requests/urllib3/OS errors → one FetchError with a reason a user can read."""
    if isinstance(exc, FetchError):
        return exc
    causes = _causes(exc)
    kinds = tuple(causes)
    text = " ".join(str(c) for c in causes).lower()

    def has(*types) -> bool:
        return any(isinstance(c, types) for c in kinds)

    # specific causes first: urllib3's NewConnectionError (and so NameResolutionError)
    # subclasses ConnectTimeoutError for backwards compatibility
    if has(NameResolutionError, socket.gaierror):
        return FetchError("dns: host name not found")
    if has(ConnectionRefusedError):
        return FetchError("connection refused")
    if has(ConnectionResetError) or "reset by peer" in text:
        return FetchError("connection reset")
    cut = next((c for c in kinds if isinstance(c, IncompleteRead)), None)
    if cut is not None and isinstance(cut.partial, int) and isinstance(cut.expected, int):
        return FetchError(
            f"connection closed early ({cut.partial} bytes read, {cut.expected} more expected)"
        )
    if has(http.client.IncompleteRead):
        return FetchError("connection closed early (in the middle of the chunked body)")
    if has(requests.exceptions.SSLError, ssl.SSLError, SSLError):
        if "verify failed" in text:
            detail = text.split("certificate verify failed:")[-1].split("(")[0]
            return FetchError(f"tls: certificate verify failed: {detail.strip(' :')}")
        return FetchError(f"tls: {_short(str(causes[-1]))}")
    if has(requests.exceptions.ProxyError, ProxyError):
        return FetchError(f"proxy: {_short(str(causes[-1]))}")
    if has(requests.exceptions.ConnectTimeout) or (
        has(ConnectTimeoutError) and not has(NewConnectionError)
    ):
        return FetchTimeout("timeout: connect timed out")
    if has(requests.exceptions.ReadTimeout, ReadTimeoutError, socket.timeout, TimeoutError):
        return FetchTimeout("timeout: read timed out")
    if has(
        requests.exceptions.InvalidURL,
        requests.exceptions.InvalidSchema,
        requests.exceptions.MissingSchema,
    ):
        return FetchError(f"bad url: {_short(str(exc))}")
    return FetchError(f"connection: {_short(str(causes[-1]))}")


def _short(text: str) -> str:
    return text.replace("\n", " ")[:200]
