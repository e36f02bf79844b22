"""PostgreSQL for the tests: is a server answering, and a fresh database per use.

The server is ``$ARCHIVER_TEST_PG`` (an SQLAlchemy URL of a database to connect to for
CREATE/DROP DATABASE), by default the local trust-auth server CI starts:
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``. Every database made here is
called ``archiver_test_<random>`` and is dropped (WITH FORCE) when the test is done, so a
run leaves nothing behind and two runs never share a database.
"""

from __future__ import annotations

import functools
import os
import secrets

import pytest
from sqlalchemy.engine import make_url

ENV_ADMIN = "ARCHIVER_TEST_PG"
DEFAULT_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PREFIX = "archiver_test_"


def admin_url() -> str:
    return os.environ.get(ENV_ADMIN) or DEFAULT_ADMIN


def _connect(url: str | None = None):
    import psycopg

    u = make_url(url or admin_url())
    return psycopg.connect(
        host=u.host or "127.0.0.1",
        port=u.port or 5432,
        user=u.username,
        password=u.password,
        dbname=u.database or "postgres",
        autocommit=True,  # CREATE/DROP DATABASE cannot run inside a transaction
        connect_timeout=3,
    )


@functools.cache
def unavailable() -> str | None:
    """Why PostgreSQL cannot be used for the tests, or None when it answers."""
    try:
        with _connect() as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure to connect means: skip, saying why
        where = make_url(admin_url()).render_as_string(hide_password=True)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"PostgreSQL not answering at {where} (set ${ENV_ADMIN}; start it): {first}"
    return None


def require() -> None:
    """Skip the calling test, with the reason, when no PostgreSQL answers."""
    reason = unavailable()
    if reason:
        pytest.skip(reason)


def create_database() -> str:
    """A new, empty database; returns its SQLAlchemy URL (psycopg 3 driver)."""
    require()
    name = PREFIX + secrets.token_hex(6)
    with _connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin_url()).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop a database made by `create_database`, closing whatever still uses it."""
    name = make_url(url).database
    assert name and name.startswith(PREFIX), name
    with _connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Databases:
    """The databases one test made; ``drop_all`` at its end."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def new(self) -> str:
        url = create_database()
        self.urls.append(url)
        return url

    def drop_all(self) -> None:
        while self.urls:
            drop_database(self.urls.pop())
