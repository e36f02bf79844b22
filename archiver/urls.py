"""URL normalisation, canonical keys and scheme/address safety — pure functions."""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
from urllib.parse import SplitResult, parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import idna

ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
TRACKING_PARAMS = re.compile(r"^(utm_[a-z0-9_]+|fbclid|gclid|dclid|msclkid|yclid|mc_eid)$", re.I)

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PCT = re.compile(r"%([0-9A-Fa-f]{2})")
# RFC 3986 §2: characters that may stand unencoded in a path / query (plus '%' already escaped)
_USERINFO_SAFE = "!$&'()*+,;=-._~%"  # RFC 3986 sub-delims, unreserved, escapes
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"

# Names that always mean "this machine" or a cloud metadata service, resolved or not.
_LOCAL_NAMES = re.compile(
    r"^(localhost|localhost\.localdomain|ip6-localhost|ip6-loopback|metadata|"
    r"metadata\.google\.internal|instance-data(\.ec2\.internal)?)\.?$|\.localhost\.?$",
    re.I,
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Not globally reachable per the IANA special-purpose registries, yet `is_global` on
# some Python versions (3.11, 3.12 before 3.12.4) calls them global: IETF protocol
# assignments (192.0.0.0/24, of which only .9 and .10 are global anycast) and the
# deprecated IPv6 site-local range (RFC 3879), which some networks still route inside.
_NOT_GLOBAL = (ipaddress.ip_network("192.0.0.0/24"), ipaddress.ip_network("fec0::/10"))
_GLOBAL_EXCEPTIONS = (ipaddress.ip_address("192.0.0.9"), ipaddress.ip_address("192.0.0.10"))
# WHATWG URL: forbidden domain code points (C0 controls, space, DEL and these), which
# Python's IDNA 2003 codec lets through
_FORBIDDEN_HOST = re.compile(r"[\x00-\x20\x7f#%/:<>?@\[\\\]^|]")


class BadURL(ValueError):
    """Not an absolute http(s) URL with a host."""


def _normalise_escapes(part: str, safe: str) -> str:
    """RFC 3986 §6.2.2: decode escaped unreserved chars, uppercase the rest, escape the unsafe."""

    def fix(m: re.Match[str]) -> str:
        ch = chr(int(m.group(1), 16))
        return ch if ch in _UNRESERVED else "%" + m.group(1).upper()

    part = _PCT.sub(fix, part)
    out = []
    for ch in part:
        if ch in _UNRESERVED or ch in safe:
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def idna_host(host: str) -> str:
    """Lowercase, IDNA (UTS 46) encoded host; IP literals kept as they are.

    Cached (a pure function; a bad host raises each time): a capture asks for the same
    few hosts at every requisite and hop, and the UTS 46 mapping costs ~0.1 ms a call.
    """
    host = host.strip().rstrip(".").lower()
    if not host:  # "http:// /": a netloc of spaces is no host
        raise BadURL("URL has no host")
    if host.startswith("[") or _is_ip_literal(host):
        return host
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        try:
            ascii_host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise BadURL(f"invalid host name: {host!r}") from exc
    # UTS 46 maps other dots to "." ("example。com。", "\u2024"): trailing ones go as
    # above, so a normalised URL normalises to itself; a host of dots only is no host
    ascii_host = ascii_host.rstrip(".")
    if not ascii_host:
        raise BadURL("URL has no host")
    if _FORBIDDEN_HOST.search(ascii_host):
        raise BadURL(f"invalid host name: {host!r}")
    return ascii_host


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise BadURL(f"not a valid URL: {url!r} ({exc})") from None
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise BadURL(f"not an http(s) URL: {url!r}")
    if not parts.hostname:
        raise BadURL(f"URL has no host: {url!r}")
    return parts


def normalise(url: str, *, drop_tracking: bool = True) -> str:
    """Canonical form of an http(s) URL: the de-duplication key of a target.

    Lowercase scheme and host, IDNA host, default port dropped, fragment dropped,
    percent-encoding normalised, empty path → '/', query order kept, tracking
    parameters (utm_*, fbclid, gclid, …) dropped when ``drop_tracking``.
    """
    parts = _split(url)
    scheme = parts.scheme.lower()
    host = idna_host(parts.hostname or "")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    port = parts.port
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username or parts.password:
        # escaped like the path (RFC 3986 §3.2.1: sub-delims stay, a space or a form
        # feed does not), so the key never holds whitespace
        userinfo = _normalise_escapes(parts.username or "", _USERINFO_SAFE)
        if parts.password:
            userinfo += ":" + _normalise_escapes(parts.password, _USERINFO_SAFE)
        netloc = f"{userinfo}@{netloc}"
    path = _normalise_escapes(parts.path or "/", _PATH_SAFE)
    query = parts.query
    if drop_tracking and query:
        pairs = parse_qsl(query, keep_blank_values=True)
        kept = [(k, v) for k, v in pairs if not TRACKING_PARAMS.match(k)]
        if len(kept) != len(pairs):
            query = urlencode(kept, doseq=True)
    query = _normalise_escapes(query, _QUERY_SAFE)
    return urlunsplit((scheme, netloc, path, query, ""))


def join(base: str, ref: str) -> str | None:
    """``urljoin(base, ref)``, or None where urllib cannot parse either (``http://[::1``:
    "Invalid IPv6 URL"): pages and redirects hand us whatever they like."""
    try:
        return urljoin(base, ref)
    except ValueError:
        return None


def is_http_url(url: str) -> bool:
    """An absolute http(s) URL whose host is a host name or address: one that normalises."""
    try:
        idna_host(_split(url).hostname or "")
        return True
    except BadURL:
        return False


def host_of(url: str) -> str:
    return idna_host(_split(url).hostname or "")


def site_root(url: str) -> str:
    parts = _split(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), "/", "", ""))


# ---------------------------------------------------------------- address safety


def literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP a host string denotes by itself, including legacy IPv4 forms (127.1, 0x7f.1)."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if re.fullmatch(r"[0-9a-fA-FxX.]+", host):
        try:  # inet_aton accepts the forms getaddrinfo would turn into an address
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def address_refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address is not a public destination, or None when it is.

    Refuses loopback, private, shared (100.64/10), link-local (incl. 169.254.169.254
    metadata), multicast, reserved and unspecified addresses, and the IPv4 addresses
    embedded in IPv4-mapped, 6to4 and NAT64 IPv6 addresses.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_refusal(embedded)
    for label, flag in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return f"{label} address {ip}"
    special = any(ip in net for net in _NOT_GLOBAL) and ip not in _GLOBAL_EXCEPTIONS
    if special or not ip.is_global:
        return f"non-public address {ip}"
    return None


def name_refusal(host: str) -> str | None:
    """Why a host name or literal is refused before any lookup, or None."""
    host = host.strip().rstrip(".").lower()
    if _LOCAL_NAMES.search(host):
        return f"local host name {host!r}"
    ip = literal_address(host)
    if ip is not None:
        return address_refusal(ip)
    return None


def url_refusal(url: str, *, allow_private: bool) -> str | None:
    """Why a URL may not be fetched (scheme, host name, literal address), or None."""
    try:
        parts = _split(url)
        idna_host(parts.hostname or "")  # a name no resolver would take is refused too
    except BadURL as exc:
        return str(exc)
    if allow_private:
        return None
    return name_refusal(parts.hostname or "")
