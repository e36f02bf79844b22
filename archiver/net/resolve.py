"""Look a host name up before any connection and say why its answer is not public.

Two users: a direct connection checks the lookup before connecting (so a private
port is never touched, open or closed — see `wire.refused`), and a fetch through a
proxy checks it because the proxy, not us, connects to the origin. A name that does
not resolve here is no refusal: a direct connect then fails on its own, and a proxy
may well know names we do not (its own lookup is the proxy's to filter).

The answers themselves are kept (`Lookup`): they are the DNS part of a connection's
evidence record (issue 21), what this machine was told the name meant.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from archiver import urls


@dataclass(frozen=True, kw_only=True)
class Lookup:
    """One lookup of a host name: its answers, or why there are none, and the verdict."""

    host: str
    answers: tuple[str, ...] = ()
    error: str | None = None  # why there are no answers ("no answer: …", "a literal …")
    refusal: str | None = None

    def as_json(self) -> dict:
        return {"name": self.host, "answers": list(self.answers), "error": self.error}


def lookup(host: str, port: int | None = None) -> Lookup:
    """Resolve ``host`` once; every answer must be public (a client may connect to any)."""
    reason = urls.name_refusal(host)
    literal = urls.literal_address(host)
    if literal is not None:
        return Lookup(
            host=host, answers=(str(literal),), error="a literal address: no lookup", refusal=reason
        )
    if reason:
        return Lookup(host=host, error="not looked up: refused by name", refusal=reason)
    try:
        found = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:  # no answer here: not ours to refuse
        return Lookup(host=host, error=f"no answer: {exc}"[:200])
    answers: list[str] = []
    refusal = None
    for *_, sockaddr in found:
        address = str(sockaddr[0]).split("%", 1)[0]
        if address not in answers:
            answers.append(address)
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            continue
        refusal = refusal or urls.address_refusal(ip)
    return Lookup(host=host, answers=tuple(answers), refusal=refusal)


def refusal(host: str, port: int | None = None) -> str | None:
    """Why ``host`` (a name or a literal) is not a public destination, or None."""
    return lookup(host, port).refusal
