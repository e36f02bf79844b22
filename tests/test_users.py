"""Accounts of `archive serve`: the store table, argon2 hashing, `archive user …`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect

from archiver import users
from archiver.app import App, init_archive
from archiver.cli import cli
from archiver.config import load_settings
from archiver.errors import UsageError
from archiver.store import schema as t

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def app(tmp_path) -> App:
    init_archive(tmp_path)
    clock = iter(NOW + timedelta(minutes=i) for i in range(1000))
    return App(settings=load_settings(tmp_path / "config.toml"), clock=lambda: next(clock))


def _run(app: App, *args: str, input: str | None = None):
    cfg = str(app.settings.root / "config.toml")
    return CliRunner().invoke(cli, ["--config", cfg, "user", *args], obj={}, input=input)


def test_add_stores_an_argon2_hash_never_the_password(app):
    made = users.add_user(app.store, "maria", "correct horse", users.Role.EDITOR)
    assert made.role is users.Role.EDITOR and made.can_review
    row = app.store.user_row("maria")
    assert row.password_hash.startswith("$argon2id$")
    assert "correct horse" not in row.password_hash
    assert users.authenticate(app.store, "maria", "correct horse").name == "maria"
    assert users.authenticate(app.store, "maria", "wrong horse") is None
    assert users.authenticate(app.store, "nobody", "correct horse") is None


@pytest.mark.parametrize(
    "name, password",
    [
        ("", "long enough"),
        ("   ", "long enough"),
        ("a" * 129, "long enough"),
        ("bad\nname", "long enough"),
        ("bad\x00name", "long enough"),
        ("maria", "short"),
        ("maria", "x" * 1025),
    ],
)
def test_add_refuses_bad_names_and_passwords(app, name, password):
    with pytest.raises(UsageError):
        users.add_user(app.store, name, password)
    assert app.store.user_count() == 0


def test_authenticate_refuses_hostile_input_without_error(app):
    users.add_user(app.store, "maria", "correct horse")
    for name, password in [("", ""), ("m" * 10_000, "x"), ("maria", "x" * 100_000)]:
        assert users.authenticate(app.store, name, password) is None
    # a corrupt hash in the store is a failed sign-in, not a crash
    with app.store.tx() as conn:
        conn.execute(t.user_account.update().values(password_hash="not-a-hash"))
    assert users.authenticate(app.store, "maria", "correct horse") is None


def test_duplicate_remove_and_passwd(app):
    users.add_user(app.store, "maria", "correct horse", users.Role.VIEWER)
    with pytest.raises(UsageError, match="already exists"):
        users.add_user(app.store, "maria", "another one")
    before = users.get_user(app.store, "maria")
    assert before.role is users.Role.VIEWER and not before.can_review
    users.change_password(app.store, "maria", "battery staple")
    after = users.get_user(app.store, "maria")
    assert after.password_changed_at > before.password_changed_at
    assert users.authenticate(app.store, "maria", "correct horse") is None
    assert users.authenticate(app.store, "maria", "battery staple") is not None
    users.remove_user(app.store, "maria")
    assert users.get_user(app.store, "maria") is None
    with pytest.raises(UsageError, match="no user"):
        users.remove_user(app.store, "maria")
    with pytest.raises(UsageError, match="no user"):
        users.change_password(app.store, "maria", "battery staple")


def test_cli_add_list_passwd_remove(app):
    res = _run(app, "add", "maria", input="correct horse\ncorrect horse\n")
    assert res.exit_code == 0, res.output
    assert "Added editor maria" in res.output
    assert "correct horse" not in res.output
    res = _run(
        app, "add", "olga", "--role", "viewer", input="tiny\ntiny\nlong enough\nlong enough\n"
    )
    assert res.exit_code == 0, res.output
    assert "8 to 1024 characters" in res.output  # asked again after the short one
    res = _run(app, "list", "--json")
    listed = json.loads(res.output)
    assert [(u["name"], u["role"]) for u in listed] == [("maria", "editor"), ("olga", "viewer")]
    assert all(u["created_at"].endswith("Z") for u in listed)
    assert not any("hash" in key or key == "password" for u in listed for key in u)
    assert "$argon2" not in res.output
    assert "maria" in _run(app, "list").output
    res = _run(app, "passwd", "olga", input="new password\nnew password\n")
    assert res.exit_code == 0, res.output
    assert users.authenticate(app.store, "olga", "new password") is not None
    assert _run(app, "remove", "olga").exit_code == 0
    assert [u.name for u in users.list_users(app.store)] == ["maria"]


def test_cli_errors_are_one_line(app):
    users.add_user(app.store, "maria", "correct horse")
    res = _run(app, "add", "maria", input="correct horse\ncorrect horse\n")
    assert res.exit_code == 2 and "already exists" in res.output
    res = _run(app, "remove", "ghost")
    assert res.exit_code == 2 and res.output.strip().startswith("Error: no user 'ghost'")
    res = _run(app, "passwd", "ghost", input="new password\nnew password\n")
    assert res.exit_code == 2 and "no user" in res.output
    res = _run(app, "add", "x", "--role", "admin", input="correct horse\ncorrect horse\n")
    assert res.exit_code == 2
    assert "No accounts" not in _run(app, "list").output


def test_migration_from_schema_2_adds_the_accounts_table(app):
    with app.store.tx() as conn:
        t.user_account.drop(conn)
        t.ix_article_added.drop(conn)
        conn.execute(t.meta.update().where(t.meta.c.key == "schema_version").values(value="2"))
    assert app.store.schema_version() == 2
    assert app.store.migrate() == t.SCHEMA_VERSION - 2  # v3 … this table's step
    assert app.store.schema_version() == t.SCHEMA_VERSION
    with app.store.read() as conn:
        indexes = {ix["name"] for ix in inspect(conn).get_indexes("article")}
    assert "ix_article_added" in indexes
    users.add_user(app.store, "maria", "correct horse")
    assert app.store.user_count() == 1
