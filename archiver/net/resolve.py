"""Look a host name up before any connection and say why its answer is not public.

Two users: a direct connection checks the lookup before connecting (so a private
port is never touched, open or closed — see `wire.refused`), and a fetch through a
proxy checks it because the proxy, not us, connects to the origin. A name that does
not resolve here is no refusal: a direct connect then fails on its own, and a proxy
may well know names we do not (its own lookup is the proxy's to filter).
"""

from __future__ import annotations

import ipaddress
import socket

from archiver import urls


def refusal(host: str, port: int | None = None) -> str | None:
    """Why ``host`` (a name or a literal) is not a public destination, or None.

    Every answer of the lookup must be public: a client may connect to any of them.
    """
    reason = urls.name_refusal(host)
    if reason or urls.literal_address(host) is not None:
        return reason
    try:
        answers = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):  # no answer here: not ours to refuse
        return None
    for *_, sockaddr in answers:
        try:
            ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        except ValueError:
            continue
        reason = urls.address_refusal(ip)
        if reason:
            return reason
    return None
