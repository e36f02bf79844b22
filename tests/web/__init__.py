"""The offline fixture web: an origin with many sites, and a proxy in front of it.

    web = start_web(state="now")
    requests.get("https://t.me/PlushevChannel/2850", proxies=web.proxies, verify=web.ca_path)
    web.set_state("later")       # the cited pages rot, drift, move, get blocked
    web.stop()

Everything listens on 127.0.0.1, on ports the OS picks. Clients reach the sites by their
real names through the proxy (``web.env()`` for a subprocess), trusting ``web.ca_path``.
Sites are defined in ``tests/web/sites/``; ``python -m tests.web serve`` runs the same
web in the foreground for manual runs and demos.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.web.origin import OriginServer
from tests.web.proxy import ProxyServer
from tests.web.routing import Ports
from tests.web.serving import serve_in_thread, stop_server
from tests.web.sites import make_router
from tests.web.tls import make_certs
from tests.web.world import Hit, Hits, World

__all__ = ["Hit", "Hits", "Web", "start_web"]


class Web:
    """A running fixture web. Use `start_web`; stop with `stop` or a ``with`` block."""

    def __init__(self, *, state: str = "now", ca_path: str | os.PathLike[str] | None = None):
        self.world = World(state)
        router = make_router()
        certs = make_certs(router.hosts)
        self._own_ca = ca_path is None
        self.ca_path = str(ca_path) if ca_path is not None else _temp_path("fixture-web-ca-")
        certs.write_ca(Path(self.ca_path))
        self._http = OriginServer(router=router, world=self.world, tls=None)
        self._https = OriginServer(router=router, world=self.world, tls=certs.server_context())
        ports = Ports(http=self._http.port, https=self._https.port)
        self._http.ports = self._https.ports = ports
        self._proxy = ProxyServer(knows=router.knows, ports=ports)
        self.hosts = router.hosts
        self._stopped = threading.Event()
        servers = {"http": self._http, "https": self._https, "proxy": self._proxy}
        self._threads = [
            (server, serve_in_thread(server, f"fixture-web-{name}"))
            for name, server in servers.items()
        ]

    @property
    def http_port(self) -> int:
        return self._http.port

    @property
    def https_port(self) -> int:
        return self._https.port

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self._proxy.port}"

    @property
    def proxies(self) -> dict[str, str]:
        """For ``requests``: ``proxies=web.proxies, verify=web.ca_path``."""
        return {"http": self.proxy_url, "https": self.proxy_url}

    @property
    def hits(self) -> Hits:
        """Every request the origin served, as ``Hit(method, host, target)`` tuples."""
        return self.world.hits

    @property
    def state(self) -> str:
        return self.world.state

    def set_state(self, state: str) -> None:
        """Switch between the "now" and "later" worlds; takes effect on the next request."""
        self.world.set_state(state)

    def reset(self) -> None:
        """State "now", no hits, counters (``/flaky``) from zero."""
        self.world.reset()

    def env(self) -> dict[str, str]:
        """Environment for a subprocess that should see only the fixture web."""
        env = {
            "HTTP_PROXY": self.proxy_url,
            "HTTPS_PROXY": self.proxy_url,
            "REQUESTS_CA_BUNDLE": self.ca_path,
            "NO_PROXY": "",
        }
        # urllib (and so requests) lets lower-case proxy variables win over upper-case
        # ones: set both, or a developer's own http_proxy would override ours.
        env |= {name.lower(): value for name, value in env.items() if "PROXY" in name}
        return env

    def session(self) -> Any:
        """A ``requests.Session`` that goes through the proxy and trusts the CA only."""
        import requests  # only tests that ask for a session need requests

        session = requests.Session()
        session.trust_env = False  # ignore the developer's proxies and CA bundles
        session.proxies = self.proxies
        session.verify = self.ca_path
        return session

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        for server, thread in reversed(self._threads):  # the proxy first: no new requests
            stop_server(server, thread)
        if self._own_ca:
            Path(self.ca_path).unlink(missing_ok=True)

    def __enter__(self) -> Web:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (
            f"<Web proxy={self.proxy_url} http={self.http_port} https={self.https_port}"
            f" state={self.state}>"
        )


def start_web(state: str = "now", *, ca_path: str | os.PathLike[str] | None = None) -> Web:
    """Start the origin (HTTP and HTTPS) and the proxy in daemon threads.

    ``ca_path``: where to write the CA certificate (kept after stop); by default a
    temporary file, removed on stop.
    """
    return Web(state=state, ca_path=ca_path)


def _temp_path(prefix: str) -> str:
    fd, path = tempfile.mkstemp(prefix=prefix, suffix=".pem")
    os.close(fd)
    return path
