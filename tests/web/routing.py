"""Sites as route tables, and the lookup from (host, path) to an answer.

A route's value is either an answer (a `Reply`/`Raw` value) or a handler taking the
`Request`; `by_state` makes a value that depends on the "now"/"later" world. Keeping
routes as values lets a site module read like the list of URLs it serves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from tests.web.replies import Raw, Reply, text
from tests.web.world import World

Answer = Reply | Raw


@dataclass(frozen=True, kw_only=True)
class Ports:
    http: int
    https: int


@dataclass(frozen=True, kw_only=True)
class Request:
    method: str
    scheme: str
    host: str  # lower-case, without port
    target: str  # path with query, as sent
    headers: Mapping[str, str]
    world: World = field(repr=False)
    ports: Ports

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.target).query, keep_blank_values=True))

    @property
    def state(self) -> str:
        return self.world.state

    def number(self, name: str, default: float) -> float:
        """A numeric query parameter; the default when absent or not a number."""
        try:
            return float(self.query.get(name, default))
        except ValueError:
            return default


Handler = Callable[[Request], "Answer"]
Route = Answer | Handler


@dataclass(frozen=True, kw_only=True)
class Site:
    hosts: tuple[str, ...]
    routes: Mapping[str, Route]
    # (path prefix, route) pairs tried in order when no exact path matches.
    prefixes: tuple[tuple[str, Route], ...] = ()
    fallback: Route


def resolve(route: Route, request: Request) -> Answer:
    return route if isinstance(route, Reply | Raw) else route(request)


def by_state(*, now: Route, later: Route) -> Handler:
    """A route whose answer depends on the world the fixture web is in."""
    return lambda request: resolve(now if request.state == "now" else later, request)


# RFC 9110 §15.5.20: the right answer for a host this server does not serve.
MISDIRECTED = text("This fixture web has no such host.\n", status=421)


class Router:
    def __init__(self, sites: Iterable[Site]) -> None:
        self._by_host: dict[str, Site] = {}
        for site in sites:
            for host in site.hosts:
                if host in self._by_host:
                    raise ValueError(f"host {host} is defined twice")
                self._by_host[host] = site

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(self._by_host)

    def knows(self, host: str) -> bool:
        return host.lower() in self._by_host

    def answer(self, request: Request) -> Answer:
        site = self._by_host.get(request.host)
        if site is None:
            return MISDIRECTED
        return resolve(_pick(site, request.path), request)


def _pick(site: Site, path: str) -> Route:
    if path in site.routes:
        return site.routes[path]
    for prefix, route in site.prefixes:
        if path.startswith(prefix):
            return route
    return site.fallback


def split_host(authority: str) -> str:
    """``Host``-header value → lower-case host name without port ("[::1]:80" → "[::1]")."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority.split("]", 1)[0] + "]"
    return authority.rsplit(":", 1)[0] if ":" in authority else authority
