"""Unattended service commands: daemon, intake, migrate."""

from __future__ import annotations

import click
from rich.table import Table

from archiver.app import App, load_app
from archiver.cli.base import _quiet, cli, echo, out, pass_app, short_name
from archiver.cli.capturing import _capture_added
from archiver.terminal import cell, one_line


@cli.command()
@click.option(
    "--once",
    is_flag=True,
    help="Run every job once (recover, intake, capture, check, manifest), then exit.",
)
@click.option(
    "--worker-id",
    metavar="ID",
    callback=short_name,
    help="Name of this worker's claims (default: HOST:PID; at most 128 characters).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="One line per job run on stderr: text, or one JSON object per line.",
)
@pass_app
def daemon(app: App, once: bool, worker_id: str | None, log_format: str) -> None:
    """Capture and check on the schedule in config.toml ([daemon]) until SIGTERM/SIGINT.

    On a signal it stops taking work, finishes in-flight work within
    daemon.shutdown_grace, closes its WARC file and exits 0.

    \b
    Examples:
      archive daemon
      archive daemon --once --log-format json
    """
    from archiver.daemon import run_daemon
    from archiver.logs import setup_logging

    setup_logging(log_format, debug=bool(click.get_current_context().obj.get("debug")))
    code = run_daemon(app, once=once, worker=worker_id)
    if code:
        raise SystemExit(code)


@cli.command()
@click.option(
    "--once",
    is_flag=True,
    help="Run one pass, then exit (what `archive intake` always does; as `daemon --once`).",
)
@click.option(
    "--queue",
    is_flag=True,
    help="Only record the new articles' citations; capture later (`archive capture`, daemon).",
)
@click.option("--force", is_flag=True, help="Poll every feed now, even one not due or backing off.")
@pass_app
def intake(app: App, once: bool, queue: bool, force: bool) -> None:
    """Add new articles from the [intake] folders and feeds in config.toml, now.

    One pass: every watched folder, and each feed whose next poll is due (--force:
    every feed). New articles' citations are captured right away unless --queue.
    `archive daemon` runs the same pass on its own schedule.

    \b
    Examples:
      archive intake
      archive intake --once --queue
      archive intake --force
    """
    from archiver.errors import UsageError
    from archiver.runs.intake import run_intake

    if not (app.settings.intake.folders or app.settings.intake.feeds):
        raise UsageError("no intake sources: set folders or feeds under [intake] in config.toml")
    with _quiet("archiver.runs.intake"):  # its warnings are the errors printed below
        summary = run_intake(app, force=force)
    for source in summary.sources:
        echo(one_line(f"{source.kind} {source.location}: {source.note}"))
        for r in source.results:
            verb = "added" if r.created else "updated"
            echo(
                f"  {r.article_id}\t{verb}: {r.citations} citations ({r.new_citations} new) "
                f"from {one_line(r.source)}"
            )
    echo(summary.line())
    _capture_added(
        app,
        summary.article_ids,
        queue=queue,
        errors=summary.errors,
        queued="Queued: run `archive capture` (or the daemon) to capture.",
    )


@cli.command("migrate")
@click.option(
    "--from",
    "source",
    metavar="URL",
    help="Store to copy (default: this archive's `database`, from config.toml).",
)
@click.option(
    "--to", "dest", metavar="URL", required=True, help="Store to copy into; created if empty."
)
@click.option(
    "--batch", default=1000, show_default=True, type=click.IntRange(1), help="Rows per insert."
)
@click.pass_context
def migrate_cmd(ctx: click.Context, source: str | None, dest: str, batch: int) -> None:
    """Copy the store to another database (SQLite → PostgreSQL) and verify the copy.

    Copies table by table in key order; rows already there are skipped, so it can be
    run again. Prints each table's row counts and SHA-256 of its rows on both sides;
    exits 8 if they differ. Stop the workers first; WARC files stay where they are.

    \b
    Example:
      archive migrate --from sqlite:///archive.db --to postgresql+psycopg://archiver@db/archive
    """
    from archiver.errors import VerifyFailed
    from archiver.store.migrate import migrate_store, safe_url

    if source is None:
        source = load_app(ctx.obj.get("config")).settings.database_url
    reports = migrate_store(source, dest, batch=batch)
    table = Table(title=cell(f"{safe_url(source)} → {safe_url(dest)}"))
    for col in ("table", "source rows", "dest rows", "copied", "source sha256", "dest sha256"):
        table.add_column(col, justify="right" if "rows" in col or col == "copied" else "left")
    table.add_column("")
    for r in reports:
        table.add_row(
            r.table,
            str(r.source_rows),
            str(r.dest_rows),
            str(r.copied),
            r.source_sha256[:16],
            r.dest_sha256[:16],
            "ok" if r.ok else "DIFFERS",
        )
    out.print(table)
    bad = [r.table for r in reports if not r.ok]
    if bad:
        raise VerifyFailed(f"migrate: the copy differs from the source in {', '.join(bad)}")
    copied = sum(r.copied for r in reports)
    echo(
        f"Copied {copied} rows; {len(reports)} tables match. To use the copy, set "
        f'database = "{safe_url(dest)}" in config.toml (or $ARCHIVER_DATABASE).'
    )
