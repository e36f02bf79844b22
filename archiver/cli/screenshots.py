"""`archive screenshots`: render the missing screenshots of good snapshots."""

from __future__ import annotations

import click

from archiver.app import App
from archiver.cli.base import cli, echo, pass_app
from archiver.cli.capturing import stamp_after_capture
from archiver.errors import ChromiumMissing, MissingExtra
from archiver.interop.replay import pywb_installed
from archiver.manifest import refresh
from archiver.runs.screenshots import take_screenshots


@cli.command("screenshots")
@click.argument("article", required=False)
@pass_app
def screenshots_cmd(app: App, article: str | None) -> None:
    """Screenshot good snapshots that have none yet, rendered from the archive's replay.

    Headless Chromium renders each snapshot as pywb replays it from this archive's own
    WARC files (never the live web); each PNG is stored in a WARC file of its own as a
    resource record (urn:screenshot:URL) referring to the snapshot, listed in the
    manifest and the ledger. At most [screenshots] batch per run. Needs
    'archiver[replay]' (exit 3 without it) and Chromium (exit 10 without it: apt-get
    install chromium); either way one line says what is missing. Exit 9: pywb could not
    start. With [evidence] tsa_url set, the new WARC file is then stamped.

    \b
    Examples:
      archive screenshots
      archive screenshots prosecuting-social-media
    """
    if article is not None:
        app.store.article_row(article)  # an unknown article is a usage error (exit 2)
    summary = take_screenshots(app, article)
    if summary.skipped:
        raise (ChromiumMissing if pywb_installed() else MissingExtra)(summary.skipped)
    if summary.taken:
        refresh(app)
    echo(summary.line())
    if summary.taken:
        stamp_after_capture(app)  # the screenshots' WARC file, when a TSA is configured
