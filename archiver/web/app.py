"""The Flask application of `archive serve`: sessions, CSRF, security headers.

Pages are in `archiver.web.pages`, who is signed in in `archiver.web.session`. The app
reads and writes the archive only through the store and the same service functions
the CLI calls (`review_citation` for reviews), so it is never a second source of truth.

Sessions are Flask's signed cookies (itsdangerous HMAC), HttpOnly, SameSite=Strict,
twelve hours; the signing key is random per server start unless given. A session of an
account also carries the time of its password's last change: `archive user passwd`
and `archive user remove` end it at the next request.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from flask import Flask, current_app, g, request

from archiver.app import App
from archiver.web import guard, pages, replay
from archiver.web.session import csrf_token, load_identity, require_csrf

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")

# The app's own pages: nothing from another origin, scripts only from /static/,
# never framed by another site. The replay has its own, sandboxing policy.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)


@dataclass(frozen=True, kw_only=True)
class ServeSettings:
    secret_key: str | None = None  # random per start when None
    login_token: str | None = None  # the one-time token (only with no accounts)
    local_name: str = "local-editor"  # who a one-time login reviews as
    secure_cookies: bool = False  # Secure flag: set when served over https
    login_limit: int = 5
    login_window: float = 300.0
    replay_port: int | None = None  # the replay's own port (None: on the app's origin)
    replay_url: str | None = None  # its origin as browsers reach it (behind a TLS proxy)


def create_app(
    archive: App,
    settings: ServeSettings = ServeSettings(),
    *,
    replay_server: replay.ReplayServer | None = None,
) -> Flask:
    flask_app = Flask("archiver.web", template_folder=str(TEMPLATES), static_folder=str(STATIC))
    flask_app.config.update(
        SECRET_KEY=settings.secret_key or secrets.token_hex(32),
        SESSION_COOKIE_NAME="archiver_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        MAX_CONTENT_LENGTH=1 << 20,  # a review form is small; a megabyte POST is not one
        TEMPLATES_AUTO_RELOAD=False,
    )
    flask_app.extensions["archiver"] = archive
    flask_app.extensions["archiver.serve"] = settings
    flask_app.extensions["archiver.token"] = (
        guard.OneTimeToken(settings.login_token) if settings.login_token else None
    )
    flask_app.extensions["archiver.limiter"] = guard.LoginLimiter(
        settings.login_limit, settings.login_window
    )
    flask_app.before_request(load_identity)
    flask_app.before_request(require_csrf)
    flask_app.after_request(_security_headers)
    flask_app.context_processor(_template_globals)
    flask_app.register_blueprint(pages.bp)
    flask_app.extensions["archiver.replay"] = replay_server
    if replay_server is not None and settings.replay_port is None:
        flask_app.register_blueprint(replay.blueprint(replay_server))
    return flask_app


def _security_headers(response):
    if request.blueprint != "replay":  # the replay sets its own, sandboxing policy
        response.headers.setdefault("Content-Security-Policy", _page_csp())
        response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _page_csp() -> str:
    """The pages' policy; frames may also come from the replay's own port."""
    origin = replay.replay_origin(current_app)
    if origin is None:
        return PAGE_CSP
    return PAGE_CSP.replace("frame-src 'self'", f"frame-src 'self' {origin}")


def _template_globals() -> dict:
    return {"identity": g.get("identity"), "csrf_token": csrf_token}
