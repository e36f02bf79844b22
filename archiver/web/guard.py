"""The web app's safety decisions, kept free of Flask: plain values in, plain values out.

- Binding: with no accounts only a loopback address may be bound (the one-time token
  is then the only way in, and only from this machine).
- The one-time login token: random (256 bits), compared in constant time, used once.
- CSRF: one random token per session, required on every POST, compared in constant time.
- Sign-in attempts: at most ``limit`` failures per ``window`` seconds per client address
  and per account name (a sliding window, in memory: one server process).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

from archiver.errors import UsageError


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and "localhost"; a name or any other address is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, accounts: int) -> None:
    if accounts == 0 and not is_loopback(host):
        raise UsageError(
            f"refusing to listen on {host} with no accounts: anyone who can reach it could "
            "sign in; add one with `archive user add NAME`, or listen on 127.0.0.1"
        )


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


class OneTimeToken:
    """A login token that works once; later uses (and guesses) fail."""

    def __init__(self, value: str | None = None) -> None:
        self._value = value or new_token()
        self._lock = threading.Lock()

    @property
    def value(self) -> str | None:
        return self._value

    def redeem(self, given: str | None) -> bool:
        with self._lock:
            if not same_token(self._value, given):
                return False
            self._value = None
            return True


class LoginLimiter:
    """At most ``limit`` failed sign-ins per ``window`` seconds for one key."""

    def __init__(
        self, limit: int = 5, window: float = 300.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str) -> deque[float]:
        q = self._failures[key]
        cutoff = self.clock() - self.window
        while q and q[0] <= cutoff:
            q.popleft()
        return q

    def blocked(self, *keys: str) -> bool:
        with self._lock:
            return any(len(self._recent(k)) >= self.limit for k in keys)

    def failed(self, *keys: str) -> None:
        with self._lock:
            for k in keys:
                self._recent(k).append(self.clock())

    def forget(self, *keys: str) -> None:
        with self._lock:
            for k in keys:
                self._failures.pop(k, None)
