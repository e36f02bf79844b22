"""Snapshots replayed from our own WARC files, by pywb running beside `archive serve`.

pywb cannot run inside the app: its front end talks to its own warcserver through a
gevent server, which only works in a gevent-patched process, and archiver never lets
gevent patch it (see `archiver.interop.replay`). So `archive serve` starts pywb on a
free loopback port and forwards two kinds of path to it:

- ``/<collection>/<timestamp>/<url>``: the replay. The collection name is random per
  server start (``r`` + 32 hex digits), so it is also the capability: only pages served
  to a signed-in user name it. (A sandboxed frame's requests carry no SameSite=Strict
  cookie, so the session cannot be what guards the replay.)
- ``/pywb-static/…``: pywb's own scripts (wombat), nothing from the archive.

Every replay response carries ``Content-Security-Policy: sandbox allow-scripts …``
without ``allow-same-origin``, so an archived page runs in an opaque origin even when
opened outside its frame: its scripts cannot read the app's pages, forms or CSRF tokens,
and ``default-src 'self'`` keeps it from loading anything from the live web. Archived
``Set-Cookie`` headers are dropped and the browser's cookies are never forwarded.
Snapshots in WARC files still being written (``.open``) are not indexed yet.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import requests
from flask import Blueprint, Flask, Response, request

from archiver.interop import replay as pywb
from archiver.interop.pywbserver import STATIC_PREFIX, ReplayServer

logger = logging.getLogger(__name__)

INSTALL_HINT = pywb.INSTALL_HINT
REPLAY_CSP = (
    "sandbox allow-scripts allow-forms allow-popups; "
    "default-src 'self' data: blob: 'unsafe-inline' 'unsafe-eval'; frame-ancestors 'self'"
)
_FORWARD_REQUEST = ("Accept", "Accept-Language", "User-Agent", "Range", "If-None-Match")
_DROP_RESPONSE = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "set-cookie",
    "content-security-policy",
    "x-frame-options",
    "server",
    "date",
}


def frame_url(flask_app: Flask, snapshot: dict) -> str | None:
    """Where the snapshot replays in this app, or None when pywb is not running."""
    server: ReplayServer | None = flask_app.extensions.get("archiver.replay")
    if server is None:
        return None
    server.refresh_index()
    return server.frame_url(snapshot)


def _upstream_path() -> str:
    # PATH_INFO is the decoded path as latin-1 (PEP 3333): quote it back for pywb
    raw = request.environ.get("PATH_INFO", "/").encode("latin-1")
    path = quote(raw, safe="/:@!$&'()*+,;=-._~")
    query = request.environ.get("QUERY_STRING", "")
    return path + (f"?{query}" if query else "")


def _forward(server: ReplayServer) -> Response:
    headers = {k: request.headers[k] for k in _FORWARD_REQUEST if k in request.headers}
    headers["Host"] = request.host
    try:
        upstream = requests.get(
            f"http://127.0.0.1:{server.port}{_upstream_path()}",
            headers=headers,
            stream=True,
            allow_redirects=False,
            timeout=(5, 120),
        )
    except requests.RequestException as exc:
        logger.warning("replay: pywb did not answer: %s", exc)
        return Response("Replay is not available right now.", 502, mimetype="text/plain")
    kept = [(k, v) for k, v in upstream.raw.headers.items() if k.lower() not in _DROP_RESPONSE]
    response = Response(
        upstream.raw.stream(64 * 1024, decode_content=False),
        status=upstream.status_code,
        headers=kept,
        direct_passthrough=True,
    )
    response.call_on_close(upstream.close)
    response.headers["Content-Security-Policy"] = REPLAY_CSP
    return response


def blueprint(server: ReplayServer) -> Blueprint:
    bp = Blueprint("replay", __name__)

    def replay(rest: str = "") -> Response:
        return _forward(server)

    bp.add_url_rule(f"/{server.collection}/<path:rest>", "content", replay)
    bp.add_url_rule(f"/{STATIC_PREFIX}/<path:rest>", "static", replay)
    return bp


__all__ = ["INSTALL_HINT", "ReplayServer", "blueprint", "frame_url"]
