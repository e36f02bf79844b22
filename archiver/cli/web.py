"""`archive serve`: the editors' review workspace in a browser."""

from __future__ import annotations

import importlib.util

import click

from archiver.app import App
from archiver.cli.base import cli, pass_app
from archiver.errors import MissingExtra

SERVE_HINT = "pip install 'archiver[serve]'"


def require_serve_extra() -> None:
    missing = [m for m in ("flask", "waitress") if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtra(
            f"archive serve needs {' and '.join(missing)} (not installed): {SERVE_HINT}"
        )


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port."
)
@click.option(
    "--replay-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port of the replay's own origin (default: --port + 1); snapshots replay there.",
)
@click.option(
    "--replay-url",
    default=None,
    help="The replay's origin as browsers reach it, when a TLS proxy serves --replay-port"
    " (e.g. https://replay.example.org).",
)
@click.option(
    "--secure-cookies",
    is_flag=True,
    help="Mark the session cookie Secure (when a TLS proxy serves the app over https).",
)
@pass_app
def serve(
    app: App,
    host: str,
    port: int,
    replay_port: int | None,
    replay_url: str | None,
    secure_cookies: bool,
) -> None:
    """Serve the editors' review workspace: articles, captures, approve and flag.

    Needs `pip install 'archiver[serve]'` (and 'archiver[replay]' to see captures).
    Editors sign in with accounts made by `archive user add`. With no accounts it
    listens on loopback only and prints a one-time login URL; listening on another
    address with no accounts is refused. Snapshots replay on a second port of their
    own (--replay-port, default --port + 1: a different origin from the app, so archived
    scripts cannot reach its pages or forms); both ports must be reachable (behind a
    TLS proxy, proxy both and give --replay-url). Exit 9 when pywb cannot start, 2 when
    a port is taken.

    \b
    Examples:
      archive serve
      archive user add maria && archive serve --host 0.0.0.0 --port 8000 --secure-cookies
      archive serve --secure-cookies --replay-url https://replay.example.org
    """
    require_serve_extra()
    from archiver.web import server  # flask: an optional extra

    server.serve(
        app,
        server.plan(app, host, port, replay_port, replay_url),
        announce=click.echo,
        secure_cookies=secure_cookies,
    )
