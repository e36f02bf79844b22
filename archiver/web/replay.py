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

Three layers keep archived scripts away from the app's cookies, pages and forms:

1. Its own origin: `archive serve` answers these paths on a port of their own
   (``--replay-port``, `replay_app`), never on the app's. A different origin cannot
   read the app's pages (so never a CSRF token) nor its DOM. (Cookies are per host,
   not per port: the session cookie is HttpOnly, so scripts never see it either.)
2. ``Content-Security-Policy: sandbox allow-scripts …`` without ``allow-same-origin``
   on every replay response, even opened outside its frame: the page runs in an opaque
   origin (no cookies, no storage, its requests are cross-site: no SameSite cookie);
   ``default-src 'self'`` keeps it from loading anything from the live web;
   ``frame-ancestors`` lets only the app frame it.
3. The frame itself: ``<iframe sandbox="allow-scripts">``.

Archived ``Set-Cookie`` headers are dropped and the browser's cookies are never
forwarded. Snapshots in WARC files still being written (``.open``) are not indexed yet.
(Without ``replay_port`` — the Flask test client, one origin behind a proxy — the same
paths are served on the app's origin, guarded by layers 2 and 3.)
"""

from __future__ import annotations

import logging
from urllib.parse import quote, urlsplit

import requests
from flask import Blueprint, Flask, Response, request

from archiver.interop import replay as pywb
from archiver.interop.pywbserver import DIRECT, STATIC_PREFIX, ReplayServer

logger = logging.getLogger(__name__)

INSTALL_HINT = pywb.INSTALL_HINT
REPLAY_SANDBOX = (
    "sandbox allow-scripts allow-forms allow-popups; "
    "default-src 'self' data: blob: 'unsafe-inline' 'unsafe-eval'"
)
REPLAY_CSP = REPLAY_SANDBOX + "; frame-ancestors 'self'"  # the replay on the app's origin
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


def origin_on(port: int) -> str:
    """This request's scheme and host, on another port: where the browser finds it."""
    parts = urlsplit(request.host_url)
    host = parts.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}:{port}"


def frame_url(flask_app: Flask, snapshot: dict) -> str | None:
    """Where the snapshot replays (its own origin when the replay has its own port), or
    None when pywb is not running."""
    server: ReplayServer | None = flask_app.extensions.get("archiver.replay")
    if server is None:
        return None
    server.refresh_index()
    return (replay_origin(flask_app) or "") + server.frame_url(snapshot)


def replay_origin(flask_app: Flask) -> str | None:
    """The replay's own origin for this request (None: it is on the app's origin)."""
    settings = flask_app.extensions["archiver.serve"]
    if settings.replay_url:
        return settings.replay_url.rstrip("/")
    return origin_on(settings.replay_port) if settings.replay_port else None


def _upstream_path() -> str:
    # PATH_INFO is the decoded path as latin-1 (PEP 3333): quote it back for pywb
    raw = request.environ.get("PATH_INFO", "/").encode("latin-1")
    path = quote(raw, safe="/:@!$&'()*+,;=-._~")
    query = request.environ.get("QUERY_STRING", "")
    return path + (f"?{query}" if query else "")


def _forward(server: ReplayServer, csp: str = REPLAY_CSP) -> Response:
    headers = {k: request.headers[k] for k in _FORWARD_REQUEST if k in request.headers}
    headers["Host"] = request.host
    try:
        upstream = requests.get(
            f"http://127.0.0.1:{server.port}{_upstream_path()}",
            headers=headers,
            stream=True,
            allow_redirects=False,
            timeout=(5, 120),
            proxies=DIRECT,
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
    response.headers["Content-Security-Policy"] = csp
    return response


def blueprint(
    server: ReplayServer, *, app_port: int | None = None, proxied: bool = False
) -> Blueprint:
    """The replay's paths. With ``app_port`` they are served on their own port and only
    the app's origin (this host, ``app_port``) may frame them; ``proxied`` (public
    origins set by a reverse proxy, unknown here): the frame-ancestors check is left
    out (the replay is sandboxed and its paths are secret, framing it gains nothing)."""
    bp = Blueprint("replay", __name__)

    def replay(rest: str = "") -> Response:
        if app_port is None:
            return _forward(server)
        if proxied:
            return _forward(server, REPLAY_SANDBOX)
        return _forward(server, f"{REPLAY_SANDBOX}; frame-ancestors {origin_on(app_port)}")

    bp.add_url_rule(f"/{server.collection}/<path:rest>", "content", replay)
    bp.add_url_rule(f"/{STATIC_PREFIX}/<path:rest>", "static", replay)
    return bp


def replay_app(server: ReplayServer, *, app_port: int, proxied: bool = False) -> Flask:
    """The replay alone, for its own port: no pages, no session, no static files."""
    app = Flask("archiver.web.replay", static_folder=None)
    app.register_blueprint(blueprint(server, app_port=app_port, proxied=proxied))
    app.after_request(_plain_headers)
    return app


def _plain_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", REPLAY_SANDBOX)  # 404s too
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


__all__ = ["INSTALL_HINT", "ReplayServer", "blueprint", "frame_url", "replay_app"]
