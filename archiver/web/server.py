"""`archive serve`: the checks before listening, the one-time login, waitress, pywb.

Order: refuse a non-loopback address when the archive has no accounts; with no
accounts, make a one-time login token (the URL is announced, as Jupyter does); start
pywb beside us when the replay extra is installed; serve with waitress (a
production WSGI server, pure Python) until Ctrl-C / SIGTERM; stop pywb.
"""

from __future__ import annotations

import getpass
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import waitress

from archiver.app import App
from archiver.errors import UsageError
from archiver.interop.replay import pywb_installed
from archiver.web import guard
from archiver.web.app import ServeSettings, create_app
from archiver.web.replay import ReplayServer, replay_app

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Plan:
    host: str
    port: int
    token: str | None  # the one-time login token, only when there are no accounts
    replay: bool
    replay_port: int  # the replay's own origin: same host, this port
    replay_url: str | None = None  # that origin as browsers reach it (a TLS proxy's)

    def url(self, path: str = "/", port: int | None = None) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{port or self.port}{path}"

    def login_url(self) -> str | None:
        return self.url(f"/login/token?token={self.token}") if self.token else None


def login_name() -> str:
    """Who a one-time login reviews as: the login name, as `archive review` defaults."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in a container
        return "local-editor"


def plan(
    archive: App,
    host: str,
    port: int,
    replay_port: int | None = None,
    replay_url: str | None = None,
) -> Plan:
    """``replay_port`` defaults to the app's port + 1 (- 1 at 65535)."""
    accounts = archive.store.user_count()
    guard.check_bind(host, accounts)
    token = guard.new_token() if accounts == 0 else None
    replay_port = replay_port or (port + 1 if port < 65535 else port - 1)
    if replay_port == port:
        raise UsageError(f"--replay-port must differ from --port ({port})")
    if replay_url is not None and not _is_origin(replay_url):
        raise UsageError(f"--replay-url must be an http(s) origin, not {replay_url!r}")
    return Plan(
        host=host,
        port=port,
        token=token,
        replay=pywb_installed(),
        replay_port=replay_port,
        replay_url=replay_url,
    )


def _is_origin(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.path in ("", "/")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _listen(flask_app, p: Plan, port: int):
    try:
        return waitress.create_server(flask_app, host=p.host, port=port, threads=8)
    except OSError as exc:  # port taken, address not on this machine
        raise UsageError(f"cannot listen on {p.url(port=port)}: {exc.strerror or exc}") from exc


def _replay_beside(replay_server: ReplayServer, p: Plan):
    """The replay on its own port (its own origin), served from a thread."""
    flask_app = replay_app(replay_server, app_port=p.port, proxied=p.replay_url is not None)
    server = _listen(flask_app, p, p.replay_port)
    threading.Thread(target=server.run, name="replay-origin", daemon=True).start()
    return server


def serve(
    archive: App, p: Plan, *, announce: Callable[[str], None], secure_cookies: bool = False
) -> None:
    """Serve until Ctrl-C or SIGTERM. pywb failing to start is `ReplayStartError`
    (exit 9, one line saying why); the address taken is a `UsageError` (exit 2)."""
    replay_server = ReplayServer(archive).start() if p.replay else None
    settings = ServeSettings(
        login_token=p.token,
        local_name=login_name(),
        secure_cookies=secure_cookies,
        replay_port=p.replay_port if p.replay else None,
        replay_url=p.replay_url if p.replay else None,
    )
    flask_app = create_app(archive, settings, replay_server=replay_server)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    replay_origin = None
    try:
        server = _listen(flask_app, p, p.port)
        if replay_server is not None:
            replay_origin = _replay_beside(replay_server, p)
        announce(f"Serving {archive.root} at {p.url()} (Ctrl-C to stop)")
        if p.login_url():
            announce(f"No accounts yet: sign in once at {p.login_url()}")
        if not p.replay:
            announce("Snapshot replay is off: pip install 'archiver[replay]' to see captures")
        else:
            where = p.url(port=p.replay_port)
            public = f" (reached as {p.replay_url})" if p.replay_url else ""
            announce(f"Snapshots replay on their own origin, {where}{public}")
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if replay_origin is not None:
            replay_origin.close()
        if replay_server is not None:
            replay_server.stop()
