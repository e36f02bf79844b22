"""Evidence commands: `archive key show|create`, and `archive verify --wacz FILE`."""

from __future__ import annotations

from pathlib import Path

import click

from archiver.app import App
from archiver.cli.base import cli, echo, echo_json, pass_app
from archiver.terminal import one_line


@cli.group()
def key() -> None:
    """The archive's signing key (signs exported WACZ packages).

    \b
    Examples:
      archive key show
      archive key create
    """


@key.command("show")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@pass_app
def key_show(app: App, as_json: bool) -> None:
    """Print the public key (PEM) and its sha256 fingerprint, to publish out of band.

    \b
    Example:
      archive key show --json
    """
    from archiver.evidence import signing

    path = signing.key_path(app.root, app.settings.evidence.signing_key)
    public = signing.load_key(path).public_key()
    info = {
        "path": str(path),
        "algorithm": f"ECDSA {public.curve.name}",
        "fingerprint": signing.fingerprint(public),
        "public_key": signing.public_pem(public),
    }
    if as_json:
        echo_json(info)
        return
    echo(f"Signing key {info['path']} ({info['algorithm']})")
    echo(f"sha256 fingerprint: {info['fingerprint']}")
    echo(info["public_key"].rstrip("\n"))


@key.command("create")
@pass_app
def key_create(app: App) -> None:
    """Create the signing key if there is none (an existing key is never replaced).

    \b
    Example:
      archive key create
    """
    from archiver.evidence import signing

    path = signing.key_path(app.root, app.settings.evidence.signing_key)
    if signing.create_key(path):
        echo(f"Created signing key {path} (mode 0600; keep it out of version control)")
    else:
        echo(f"A signing key already exists at {path}; left as it is")


def verify_wacz_cmd(path: Path, trust: Path | None, as_json: bool) -> None:
    """`archive verify --wacz FILE`: no archive, no store; exits 8 on any problem."""
    from archiver.errors import VerifyFailed
    from archiver.evidence.tokens_check import load_trust
    from archiver.evidence.waczsign import verify_wacz

    check = verify_wacz(path, load_trust(trust))
    if as_json:
        echo_json(check.as_dict())
    else:
        for problem in check.problems:
            echo(one_line(f"{path}: {problem}"))
        echo(check.summary())
    if not check.ok:
        raise VerifyFailed(f"verify found {len(check.problems)} problem(s) in {path}")
