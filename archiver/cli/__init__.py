"""The `archive` command (entry point `archiver.cli:main`); see `archiver.cli.base`."""

from archiver.cli import (  # noqa: F401
    accounts,
    capturing,
    editing,
    evidence,
    screenshots,
    service,
    status,
    web,
)
from archiver.cli.base import cli, err, main, out
from archiver.cli.editing import _login_name

__all__ = ["_login_name", "cli", "err", "main", "out"]
