"""The `archive` command: parse, call one service function, print.

Errors a user can act on (ArchiverError) print one line on stderr and exit with the
error's code; anything else is a bug and shows a traceback only with --debug.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from archiver import __version__
from archiver.app import App, init_archive, load_app
from archiver.errors import ArchiverError, SourceError

logger = logging.getLogger("archiver")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class ArchiveGroup(click.Group):
    """Turns ArchiverError into one line on stderr and the error's exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ArchiverError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except BrokenPipeError:
            raise  # handled in main(): the reader of our output went away
        except Exception as exc:  # a bug: one line unless --debug
            if (ctx.obj and ctx.obj.get("debug")) or isinstance(exc, click.exceptions.Exit):
                raise
            if isinstance(exc, click.ClickException | click.exceptions.Abort):
                raise
            click.echo(
                f"Error: internal error: {type(exc).__name__}: {exc} "
                "(run with --debug for the traceback)",
                err=True,
            )
            ctx.exit(70)
        finally:
            app = (ctx.obj or {}).get("app")
            if app is not None:
                app.close()


def pass_app(fn):
    """Open the archive (config → settings → store) for a command that needs it."""

    @click.pass_context
    @functools.wraps(fn)
    def wrapper(ctx: click.Context, *args, **kwargs):
        obj = ctx.ensure_object(dict)
        if obj.get("app") is None:
            obj["app"] = load_app(obj.get("config"))
        return ctx.invoke(fn, obj["app"], *args, **kwargs)

    return wrapper


@click.group(cls=ArchiveGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="config.toml to use (default: $ARCHIVER_CONFIG, then ./config.toml).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
@click.option("-v", "--verbose", is_flag=True, help="Log each fetch and decision.")
@click.version_option(__version__, prog_name="archiver")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, debug: bool, verbose: bool) -> None:
    """Keep the web pages that citations depend on.

    Finds every URL an article cites, captures each page into WARC files, checks the
    live links for rot on a schedule, and writes manifests editors can review and
    auditors can verify.

    \b
    Example:
      archive init myarchive && cd myarchive
      archive add ~/drafts/article.txt
      archive status
    """
    ctx.ensure_object(dict)
    ctx.obj.update(config=config_path, debug=debug)
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


@cli.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
def init(directory: Path) -> None:
    """Create an archive: config.toml, warcs/, manifests/ and the store.

    Re-running it on an existing archive changes nothing and says so.

    \b
    Example:
      archive init ~/archives/newsroom
    """
    cfg, created = init_archive(directory)
    if created:
        click.echo(f"Initialised archive in {cfg.parent.resolve()} (created: {', '.join(created)})")
    else:
        click.echo(f"Archive already initialised in {cfg.parent.resolve()}; nothing changed")


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
    from archiver.service import add_sources

    if from_warc:
        _add_from_warc(app, sources, from_warc, queue)
        return
    if not sources:
        raise click.UsageError("Missing argument 'SOURCE...'.")
    report = add_sources(app, list(sources), capture=not queue, progress=_progress())
    for r in report.results:
        verb = "added" if r.created else "updated"
        click.echo(
            f"{r.article_id}\t{verb}: {r.citations} citations ({r.new_citations} new) "
            f"from {r.source}"
        )
    if report.capture is not None:
        _print_capture_summary(report.capture)
    elif queue and report.results:
        click.echo("Queued: run `archive capture` (or the daemon) to capture.")
    for message in report.errors:
        click.echo(f"Error: {message}", err=True)
    if report.errors:
        raise SystemExit(SourceError.exit_code)


def _progress():
    from archiver.progress import make_progress

    return make_progress(err)


def _print_capture_summary(summary) -> None:
    if summary is None:
        return
    click.echo(summary.line())
    for url, reason in summary.failures:
        click.echo(f"  failed: {url}: {reason}")


@cli.command()
@pass_app
def capture(app: App) -> None:
    """Capture every pending target now (failed ones whose retry time has come too).

    \b
    Example:
      archive capture
    """
    from archiver.capture.run import capture_pending

    _print_capture_summary(capture_pending(app, progress=_progress()))


STATUS_COLUMNS = ("article", "title", "citations", "archived", "failed", "rotted", "dead")
STATUS_COUNTS = ("citations", "archived", "failed", "rotted", "dead")


@cli.command()
@click.argument("article", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (every article).")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="Show at most this many articles (the most recently added); totals count all.",
)
@click.option("--all", "show_all", is_flag=True, help="Show every article (plain columns).")
@pass_app
def status(app: App, article: str | None, as_json: bool, limit: int, show_all: bool) -> None:
    """What is archived, rotted and drifted: all articles, or one article's citations.

    Without ARTICLE: one row per article (the most recently added --limit of them) and a
    totals line over the whole archive, then the daemon's jobs and the intake sources.
    --all lists every article as plain columns (fast on archives of thousands of
    articles); --json gives every article to tools.

    \b
    Examples:
      archive status
      archive status --all | grep court
      archive status prosecuting-social-media --json
    """
    if article:
        doc = app.store.article_doc(article)
        if as_json:
            click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
            return
        _print_article(doc)
        return
    rows = app.store.status_rows()
    if as_json:
        keys = ("id", "title", "source_url", "citations")
        click.echo(
            json.dumps([{k: r[k] for k in keys} for r in rows], ensure_ascii=False, indent=2)
        )
        return
    if show_all:
        _print_plain_table(
            [(r["id"], r["title"][:60], *(str(r[k]) for k in STATUS_COUNTS)) for r in rows]
        )
    else:
        shown = rows[-limit:] if limit else []
        table = Table(title=f"Archive {app.root}")
        for col in STATUS_COLUMNS:
            table.add_column(col, overflow="fold")
        for r in shown:
            table.add_row(r["id"], r["title"][:60], *(str(r[k]) for k in STATUS_COUNTS))
        if shown:
            out.print(table)
        if len(shown) < len(rows):
            click.echo(
                f"Showing the {len(shown):,} most recently added of {len(rows):,} articles"
                " (--all for every one, --json for tools)."
            )
    if rows:
        totals = {k: sum(r[k] for r in rows) for k in STATUS_COUNTS}
        click.echo(
            f"Totals: {len(rows):,} articles, {totals['citations']:,} citations:"
            f" {totals['archived']:,} archived, {totals['failed']:,} failed,"
            f" {totals['rotted']:,} rotted, {totals['dead']:,} dead."
        )
    else:
        click.echo("No articles yet: `archive add ARTICLE`.")
    beats = app.store.heartbeats()
    if beats:
        jobs = Table(title="Daemon: last run of each job (UTC)")
        for col in ("job", "worker", "last run", "last ok", "last error"):
            jobs.add_column(col, overflow="fold")
        for b in beats:
            when = [
                f"{b[k]:%Y-%m-%d %H:%M:%S}Z" if b[k] else "never"
                for k in ("last_run_at", "last_ok_at")
            ]
            jobs.add_row(b["job"], b["worker"] or "", *when, b["last_error"] or "")
        out.print(jobs)
    _print_intake(app)


def _print_plain_table(rows: list[tuple[str, ...]]) -> None:
    """`status --all`: aligned plain columns, one write — a rich table costs ~0.4 ms a
    row, seconds for an archive of thousands of articles."""
    rows = [STATUS_COLUMNS, *rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(STATUS_COLUMNS))]
    lines = []
    for r in rows:
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])]
        cells += [v.rjust(w) for v, w in zip(r[2:], widths[2:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    click.echo("\n".join(lines))


def _short_url(url: str, width: int = 64) -> str:
    """scheme dropped, middle elided: enough to recognise a citation in a terminal."""
    text = url.split("://", 1)[-1]
    if len(text) <= width:
        return text
    keep = (width - 1) // 2
    return text[:keep] + "…" + text[-(width - 1 - keep) :]


def _print_article(doc: dict) -> None:
    art = doc["article"]
    table = Table(title=f"{art['id']}: {art['title']}", title_justify="left")
    url_width = max(24, min(72, out.width - 64))
    table.add_column("#", justify="right", min_width=2)
    table.add_column("cited URL", overflow="ellipsis", no_wrap=True, min_width=24)
    table.add_column("capture", min_width=8)
    table.add_column("rot", min_width=9)
    table.add_column("snaps", justify="right", min_width=5)
    table.add_column("last", justify="right", min_width=4)
    table.add_column("note", min_width=14, overflow="fold")
    for c in doc["citations"]:
        last = c["snapshots"][-1]["status"] if c["snapshots"] else ""
        rot = (c["rot"] or "unchecked") + (" DEAD" if c["dead"] else "")
        note = c.get("last_error") or ""
        if c["role"] == "source":
            note = ("own URL. " + note).strip()
        table.add_row(
            str(c["id"]),
            _short_url(c["url"], url_width),
            c["capture_state"],
            rot,
            str(len(c["snapshots"])),
            str(last or ""),
            note,
        )
    out.print(table)
    click.echo(f"Manifest: manifests/{art['id']}.html (JSON: archive status {art['id']} --json)")


@cli.command()
@click.option(
    "--once",
    is_flag=True,
    help="Run every job once (recover, intake, capture, check, manifest), then exit.",
)
@click.option("--worker-id", metavar="ID", help="Name of this worker's claims (default: HOST:PID).")
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
@click.argument("article", required=False)
@pass_app
def manifest(app: App, article: str | None) -> None:
    """Rewrite manifests/ (JSON, CSV, HTML and index.html) for one article or all.

    \b
    Examples:
      archive manifest
      archive manifest prosecuting-social-media
    """
    from archiver.manifest import refresh

    paths = refresh(app, [article] if article else app.store.article_ids())
    click.echo(f"Wrote {len(paths)} files in {app.settings.manifests_path}")


def _login_name() -> str | None:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry / no login name in a container
        return None


@cli.command()
@click.argument("citation", metavar="ARTICLE:N")
@click.option("--approve", is_flag=True, help="The citation and its archived copy are fine.")
@click.option("--flag", "flag_", is_flag=True, help="The citation needs attention (say why).")
@click.option("--note", metavar="TEXT", help="Why; replaces the previous note.")
@click.option("--by", metavar="NAME", help="Who reviewed (default: your login name).")
@pass_app
def review(
    app: App, citation: str, approve: bool, flag_: bool, note: str | None, by: str | None
) -> None:
    """Approve or flag one citation (N as in the manifest, or a raw citation id).

    Updates the review, the article's manifests, and adds a ledger line.

    \b
    Examples:
      archive review prosecuting-social-media:3 --approve
      archive review prosecuting-social-media:5 --flag --note "copy is a cookie wall"
    """
    from archiver.manifest.review import review_citation

    if approve == flag_:
        raise click.UsageError("give exactly one of --approve or --flag")
    state = "approved" if approve else "flagged"
    r = review_citation(app, citation, state, note=note, by=by or _login_name())
    click.echo(
        f"{r['article']}:{r['citation']} {state}"
        + (f" by {r['by']}" if r["by"] else "")
        + (f": {note}" if note else "")
    )


@cli.command("verify")
@click.option("--json", "as_json", is_flag=True, help="One JSON report on stdout.")
@pass_app
def verify_cmd(app: App, as_json: bool) -> None:
    """Re-hash every WARC file and record, check each snapshot and the ledger chain.

    Prints one line per problem (FILE:OFFSET: what) and a summary; exits 8 if any.

    \b
    Examples:
      archive verify
      archive verify --json > verify-report.json
    """
    from archiver.errors import VerifyFailed
    from archiver.manifest.verify import verify

    report = verify(app)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        for problem in report.problems:
            click.echo(str(problem))
        click.echo(report.summary())
    if not report.ok:
        raise VerifyFailed(f"verify found {len(report.problems)} problem(s)")


@cli.command()
@click.argument("article", required=False)
@click.option("--csv", "as_csv", is_flag=True, help="One row per citation.")
@click.option("--json", "as_json", is_flag=True, help="The full per-article document.")
@click.option(
    "--wacz",
    "wacz_path",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a WACZ 1.1.1 package (WARCs, index, pages) that ReplayWeb.page opens.",
)
@click.option(
    "--all",
    "all_warcs",
    is_flag=True,
    help="With --wacz: every WARC file of the archive (no ARTICLE: every article's pages).",
)
@click.option(
    "--robust-links", is_flag=True, help="A Robust Links <a> snippet per citation, to paste."
)
@pass_app
def export(
    app: App,
    article: str | None,
    as_csv: bool,
    as_json: bool,
    wacz_path: Path | None,
    all_warcs: bool,
    robust_links: bool,
) -> None:
    """Export one article's manifest (CSV, JSON), captures (WACZ) or Robust Links.

    A .wacz opens in ReplayWeb.page: https://replayweb.page, "Choose File" (read in
    the browser, not uploaded). Robust Links cite each URL with its archived copy.

    \b
    Examples:
      archive export prosecuting-social-media --csv > citations.csv
      archive export prosecuting-social-media --json | jq '.citations[].rot'
      archive export prosecuting-social-media --wacz prosecuting.wacz
      archive export --all --wacz whole-archive.wacz
      archive export prosecuting-social-media --robust-links
    """
    from archiver.manifest import export as export_text

    if wacz_path or all_warcs or robust_links:
        _export_interop(app, article, as_csv or as_json, wacz_path, all_warcs, robust_links)
        return
    if article is None:
        raise click.UsageError("Missing argument 'ARTICLE'.")
    if as_csv == as_json:
        raise click.UsageError("give exactly one of --csv, --json, --wacz FILE or --robust-links")
    click.echo(export_text(app, article, "csv" if as_csv else "json"), nl=False)


def _print_added(results) -> None:
    for r in results:
        verb = "added" if r.created else "updated"
        click.echo(
            f"{r.article_id}\t{verb}: {r.citations} citations ({r.new_citations} new) "
            f"from {r.source}"
        )


def _add_from_warc(
    app: App, sources: tuple[str, ...], warcs: tuple[Path, ...], queue: bool
) -> None:
    """`add [SOURCE...] --from-warc FILE`: store the articles, import, capture the rest."""
    from archiver.capture.run import capture_pending
    from archiver.interop.importer import import_warc
    from archiver.service import AddReport, add_sources

    report = add_sources(app, list(sources), capture=False) if sources else AddReport([], [])
    _print_added(report.results)
    for path in warcs:
        click.echo(import_warc(app, path).line())
    ids = sorted({r.article_id for r in report.results})
    if ids and not queue:  # what the WARCs did not hold is captured now, as `add` does
        targets = app.store.target_ids_for_articles(ids)
        _print_capture_summary(capture_pending(app, progress=_progress(), target_ids=targets))
    elif ids:
        click.echo("Queued: run `archive capture` (or the daemon) to capture the rest.")
    for message in report.errors:
        click.echo(f"Error: {message}", err=True)
    if report.errors:
        raise SystemExit(SourceError.exit_code)


def _export_interop(
    app: App,
    article: str | None,
    as_text: bool,
    wacz_path: Path | None,
    all_warcs: bool,
    robust_links: bool,
) -> None:
    """`export --wacz FILE [--all]` and `export --robust-links`."""
    if sum((as_text, wacz_path is not None, robust_links)) != 1:
        raise click.UsageError("give exactly one of --csv, --json, --wacz FILE or --robust-links")
    if all_warcs and wacz_path is None:
        raise click.UsageError("--all goes with --wacz FILE")
    if article is None and not all_warcs:
        raise click.UsageError("Missing argument 'ARTICLE' (or --all with --wacz).")
    if robust_links:
        from archiver.interop.robust import replay_prefix, robust_links_text

        doc = app.store.article_doc(article)
        prefix = replay_prefix(app.settings.replay.base_url)
        click.echo(robust_links_text(doc, prefix), nl=False)
        return
    from archiver.interop.wacz import build_wacz

    report = build_wacz(app, wacz_path, article, all_warcs=all_warcs)
    click.echo(report.line())
    if report.skipped_open:
        click.echo(
            f"Skipped {len(report.skipped_open)} WARC files still being written: "
            f"{', '.join(report.skipped_open)}",
            err=True,
        )


@cli.command("index")
@pass_app
def index_cmd(app: App) -> None:
    """Update warcs/index.cdxj, the sorted CDXJ replay index, with newly closed WARCs.

    Only WARC files not indexed yet are read; request and metadata records are left
    out. pywb, `archive replay` and other replay tools read this index.

    \b
    Example:
      archive index
    """
    from archiver.interop.cdxj import index_closed

    click.echo(index_closed(app).line())


@cli.command()
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help="Port to listen on (default: [replay] port in config.toml, 8080).",
)
@click.option("--bind", default="127.0.0.1", show_default=True, help="Address to listen on.")
@pass_app
def replay(app: App, port: int | None, bind: str) -> None:
    """Browse the archive's snapshots locally with pywb (`pip install 'archiver[replay]'`).

    Updates warcs/index.cdxj first, then serves each snapshot at
    http://localhost:PORT/archive/<14-digit timestamp>/<url> until Ctrl-C. Set
    [replay] base_url in config.toml to link manifests to these URLs.

    \b
    Examples:
      archive replay
      archive replay --port 8090
    """
    from archiver.interop.replay import require_pywb, serve

    require_pywb()
    port = port or app.settings.replay.port
    host = "localhost" if bind in ("127.0.0.1", "0.0.0.0", "::") else bind
    click.echo(f"Replaying {app.root} at http://{host}:{port}/archive/ (Ctrl-C to stop)")
    code = serve(app, port, bind)
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
    from archiver.intake import run_intake

    if not (app.settings.intake.folders or app.settings.intake.feeds):
        raise UsageError("no intake sources: set folders or feeds under [intake] in config.toml")
    with _quiet("archiver.intake"):  # its warnings are the errors printed below
        summary = run_intake(app, force=force)
    for source in summary.sources:
        click.echo(f"{source.kind} {source.location}: {source.note}")
        for r in source.results:
            verb = "added" if r.created else "updated"
            click.echo(
                f"  {r.article_id}\t{verb}: {r.citations} citations ({r.new_citations} new) "
                f"from {r.source}"
            )
    click.echo(summary.line())
    ids = summary.article_ids
    if ids and not queue:
        from archiver.capture.run import capture_pending

        targets = app.store.target_ids_for_articles(ids)
        _print_capture_summary(capture_pending(app, progress=_progress(), target_ids=targets))
    elif ids:
        click.echo("Queued: run `archive capture` (or the daemon) to capture.")
    for message in summary.errors:
        click.echo(f"Error: {message}", err=True)
    if summary.errors:
        raise SystemExit(SourceError.exit_code)


@contextlib.contextmanager
def _quiet(name: str):
    """Only errors from logger ``name`` unless -v/--debug asked for more."""
    log = logging.getLogger(name)
    level = log.level
    if not logging.getLogger().isEnabledFor(logging.INFO):
        log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _print_intake(app: App) -> None:
    """`archive status`: one row per configured intake source."""
    if not (app.settings.intake.folders or app.settings.intake.feeds):
        return  # nothing configured: not even the feed reader's imports
    from archiver.intake import intake_status

    rows = intake_status(app)
    if not rows:
        return
    table = Table(title="Intake: watched folders and feeds (UTC)")
    for col in ("source", "last poll", "next poll", "new articles", "last error"):
        table.add_column(col, overflow="fold")
    for r in rows:
        when = [
            f"{r[k]:%Y-%m-%d %H:%M:%S}Z" if r[k] else "" for k in ("last_poll_at", "next_poll_at")
        ]
        if r["kind"] == "folder":
            when[1] = "each pass"
        error = r["last_error"] or ""
        if r["failures"]:
            error += f" ({r['failures']} in a row)"
        table.add_row(
            f"{r['kind']} {r['location']}",
            when[0] or "never",
            when[1],
            str(r["new_articles"]),
            error,
        )
    out.print(table)


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
    table = Table(title=f"{safe_url(source)} → {safe_url(dest)}")
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
    click.echo(
        f"Copied {copied} rows; {len(reports)} tables match. To use the copy, set "
        f'database = "{safe_url(dest)}" in config.toml (or $ARCHIVER_DATABASE).'
    )


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
    from archiver.check.run import check_due

    summary = check_due(app, all_targets=all_targets, article_id=article, progress=_progress())
    if summary.checked:
        table = Table(title="Link check")
        table.add_column("classification")
        table.add_column("targets", justify="right")
        for name, count in summary.table_rows():
            table.add_row(name, str(count))
        out.print(table)
    for f in summary.findings:
        dead = " DEAD" if f.dead else ""
        cited = f" (cited by {', '.join(f.articles)})" if f.articles else ""
        click.echo(f"  {f.rot.value}{dead}: {f.url}: {f.reason}{cited}")
    click.echo(summary.line())


def main() -> None:
    try:
        cli(obj={}, prog_name="archive")
    except BrokenPipeError:
        # the reader went away (`archive status | head`): not an error, nothing to say
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)


if __name__ == "__main__":
    main()
