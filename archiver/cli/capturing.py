"""`archive add`, `archive capture`, `archive check`: the researcher's commands."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from archiver.app import App
from archiver.cli.base import cli, echo, echo_error, err, out, pass_app
from archiver.errors import SourceError
from archiver.terminal import cell, one_line


@cli.command()
@click.argument("sources", nargs=-1, metavar="SOURCE...")
@click.option(
    "--queue",
    is_flag=True,
    help="Only record citations; capture later (`archive capture` or the daemon).",
)
@click.option(
    "--from-warc",
    "from_warc",
    multiple=True,
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Register the captures in a .warc.gz made by another tool (wget, Browsertrix, "
    "ArchiveBox) as snapshots of matching citations; SOURCE is then optional.",
)
@pass_app
def add(app: App, sources: tuple[str, ...], queue: bool, from_warc: tuple[Path, ...]) -> None:
    """Add articles and capture every page they cite.

    SOURCE is a .txt, .md or .html file, an http(s) article URL, or - for stdin.
    The article's id is printed first on each line of output. Adding the same
    article again updates it (new citations are added) and never duplicates it.
    With --from-warc, the WARC's captures of cited pages become their snapshots
    (the file is copied into warcs/imported/); pages it lacks are captured as usual.

    \b
    Examples:
      archive add article.txt
      archive add https://example.org/story.html --queue
      archive add article.txt --from-warc wget-capture.warc.gz
    """
    from archiver.runs.add import add_sources

    if from_warc:
        _add_from_warc(app, sources, from_warc, queue)
        return
    if not sources:
        raise click.UsageError("Missing argument 'SOURCE...'.")
    report = add_sources(app, list(sources), capture=not queue, progress=_progress())
    for r in report.results:
        verb = "added" if r.created else "updated"
        echo(
            f"{r.article_id}\t{verb}: {r.citations} citations ({r.new_citations} new) "
            f"from {one_line(r.source)}"
        )
    if report.capture is not None:
        _print_capture_summary(report.capture)
        stamp_after_capture(app)
    elif queue and report.results:
        echo("Queued: run `archive capture` (or the daemon) to capture.")
    for message in report.errors:
        echo_error(message)
    if report.errors:
        raise SystemExit(SourceError.exit_code)


def _progress():
    from archiver.progress import make_progress

    return make_progress(err)


def _print_capture_summary(summary) -> None:
    if summary is None:
        return
    echo(summary.line())
    for url, reason in summary.failures:
        echo(f"  failed: {one_line(url)}: {one_line(reason)}")


def _print_added(results) -> None:
    for r in results:
        verb = "added" if r.created else "updated"
        echo(
            f"{r.article_id}\t{verb}: {r.citations} citations ({r.new_citations} new) "
            f"from {one_line(r.source)}"
        )


def _add_from_warc(
    app: App, sources: tuple[str, ...], warcs: tuple[Path, ...], queue: bool
) -> None:
    """`add [SOURCE...] --from-warc FILE`: store the articles, import, capture the rest."""
    from archiver.runs.add import AddReport, add_sources
    from archiver.runs.importer import import_warc

    report = add_sources(app, list(sources), capture=False) if sources else AddReport([], [])
    _print_added(report.results)
    for path in warcs:
        echo(import_warc(app, path).line())
    # what the WARCs did not hold is captured now, as `add` does
    _capture_added(
        app,
        sorted({r.article_id for r in report.results}),
        queue=queue,
        errors=report.errors,
        queued="Queued: run `archive capture` (or the daemon) to capture the rest.",
    )


@cli.command()
@pass_app
def capture(app: App) -> None:
    """Capture every pending target now (failed ones whose retry time has come too).

    \b
    Example:
      archive capture
    """
    from archiver.runs.capture import capture_pending

    _print_capture_summary(capture_pending(app, progress=_progress()))
    stamp_after_capture(app)


def stamp_after_capture(app: App) -> None:
    """After a capture run: one short, best-effort stamping pass (the WARC files it
    closed, the ledger head when due); whatever fails stays queued for the next run or
    the daemon. Says nothing when no TSA is configured."""
    from archiver.manifest import refresh
    from archiver.runs.stamps import stamp_pending

    if not app.settings.evidence.tsa_url:
        return
    report = stamp_pending(app, budget=2 * app.settings.evidence.tsa_timeout)
    echo(report.line())
    if report.stamped:
        refresh(app)  # the evidence summaries of the stamped WARC files' snapshots


@cli.command("check")
@click.argument("article", required=False)
@click.option("--all", "all_targets", is_flag=True, help="Check every archived target, due or not.")
@pass_app
def check_cmd(app: App, article: str | None, all_targets: bool) -> None:
    """Check live links for rot: those due (check.interval), or all with --all.

    Each target is fetched once (redirects followed and recorded) and classified: ok,
    redirected, drifted, soft-404, gone, blocked, server-error, unreachable,
    rate-limited. Drifted pages are captured again. Rot is a finding, not an error:
    the exit status is 0 when the run completed.

    \b
    Examples:
      archive check
      archive check --all prosecuting-social-media
    """
    from archiver.runs.check import check_due

    summary = check_due(app, all_targets=all_targets, article_id=article, progress=_progress())
    if summary.checked:
        table = Table(title="Link check")
        table.add_column("classification")
        table.add_column("targets", justify="right")
        for name, count in summary.table_rows():
            table.add_row(cell(name), str(count))
        out.print(table)
    for f in summary.findings:
        dead = " DEAD" if f.dead else ""
        cited = f" (cited by {', '.join(f.articles)})" if f.articles else ""
        echo(one_line(f"  {f.rot.value}{dead}: {f.url}: {f.reason}{cited}"))
    echo(summary.line())


def _capture_added(app: App, ids: list[str], *, queue: bool, errors, queued: str) -> None:
    """After articles were added: capture their targets now (or say they are queued),
    then one `Error:` line per source that failed, and exit 4 if any did."""
    if ids and not queue:
        from archiver.runs.capture import capture_pending

        targets = app.store.target_ids_for_articles(ids)
        _print_capture_summary(capture_pending(app, progress=_progress(), target_ids=targets))
        stamp_after_capture(app)
    elif ids:
        echo(queued)
    for message in errors:
        echo_error(message)
    if errors:
        raise SystemExit(SourceError.exit_code)
