"""Who is signed in, and the CSRF token of the session.

A session holds the user's name, how they signed in (``account`` or ``token``), for an
account the time its password last changed (``epoch``), and the CSRF token.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, abort, current_app, g, request, session

from archiver import users
from archiver.app import App
from archiver.web import guard


@dataclass(frozen=True, kw_only=True)
class Identity:
    """Who is signed in: an account, or the local user of a one-time login."""

    name: str
    role: users.Role

    @property
    def can_review(self) -> bool:
        return self.role is users.Role.EDITOR


def archive_of(flask_app: Flask) -> App:
    return flask_app.extensions["archiver"]


def _identity_from_session(archive: App) -> Identity | None:
    name, kind = session.get("user"), session.get("kind")
    if not isinstance(name, str):
        return None
    if kind == "token":
        return Identity(name=name, role=users.Role.EDITOR)
    account = users.get_user(archive.store, name)
    if account is None or not account.epoch or account.epoch != session.get("epoch"):
        return None  # removed, or the password changed since this sign-in
    return Identity(name=account.name, role=account.role)


def load_identity() -> None:
    g.identity = _identity_from_session(archive_of(current_app))
    if g.identity is None and "user" in session:
        session.clear()


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = guard.new_token()
    return session["csrf"]


def require_csrf() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if not guard.same_token(session.get("csrf"), request.form.get("csrf_token")):
        abort(403, description="The form was stale or not ours (CSRF token missing or wrong).")


def sign_in(identity: Identity, *, kind: str, epoch: str | None = None) -> None:
    """A fresh session (new CSRF token too): nothing from before the sign-in survives."""
    session.clear()
    session.permanent = True
    session.update(user=identity.name, kind=kind, epoch=epoch, csrf=guard.new_token())
