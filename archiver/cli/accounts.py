"""Accounts of `archive serve`: `archive user add|list|remove|passwd`."""

from __future__ import annotations

import json

import click
from rich.table import Table

from archiver import users
from archiver.app import App
from archiver.cli.base import cli, out, pass_app
from archiver.errors import UsageError
from archiver.times import iso

ROLES = [r.value for r in users.Role]


def _ask_password(prompt: str = "Password") -> str:
    """Asked twice, never echoed; a too short or too long one is asked again."""
    while True:
        value = click.prompt(prompt, hide_input=True, confirmation_prompt=True)
        try:
            return users.check_password(value)
        except UsageError as exc:
            click.echo(f"Error: {exc}", err=True)


@cli.group()
def user() -> None:
    """Accounts of `archive serve`: editors review, viewers only look.

    \b
    Examples:
      archive user add maria --role editor
      archive user list
    """


@user.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default=users.Role.EDITOR.value,
    show_default=True,
    help="editor: may approve and flag; viewer: may only look.",
)
@pass_app
def user_add(app: App, name: str, role: str) -> None:
    """Create an account; the password is prompted for (twice) and stored argon2-hashed.

    \b
    Example:
      archive user add maria --role editor
    """
    name = users.check_name(name)
    if app.store.user_row(name) is not None:
        raise UsageError(f"user {name!r} already exists (see `archive user list`)")
    made = users.add_user(app.store, name, _ask_password(), users.Role(role))
    click.echo(f"Added {made.role.value} {made.name}")


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array on stdout.")
@pass_app
def user_list(app: App, as_json: bool) -> None:
    """Every account: name, role, when created, when its password last changed.

    \b
    Example:
      archive user list --json
    """
    rows = users.list_users(app.store)
    if as_json:
        docs = [
            {
                "name": u.name,
                "role": u.role.value,
                "created_at": iso(u.created_at),
                "password_changed_at": iso(u.password_changed_at),
            }
            for u in rows
        ]
        click.echo(json.dumps(docs, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("No accounts yet: `archive serve` offers a one-time login on this machine")
        return
    table = Table("name", "role", "created", "password changed")
    for u in rows:
        table.add_row(u.name, u.role.value, iso(u.created_at), iso(u.password_changed_at))
    out.print(table)


@user.command("remove")
@click.argument("name")
@pass_app
def user_remove(app: App, name: str) -> None:
    """Delete an account; its sessions end at their next request.

    \b
    Example:
      archive user remove maria
    """
    users.remove_user(app.store, name)
    click.echo(f"Removed {name}")


@user.command("passwd")
@click.argument("name")
@pass_app
def user_passwd(app: App, name: str) -> None:
    """Set a new password (prompted twice); every session of the account ends.

    \b
    Example:
      archive user passwd maria
    """
    if app.store.user_row(name) is None:
        raise UsageError(f"no user {name!r} (see `archive user list`)")
    users.change_password(app.store, name, _ask_password("New password"))
    click.echo(f"Password of {name} changed")
