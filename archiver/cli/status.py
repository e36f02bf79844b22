"""`archive status`: what is archived, rotted and drifted."""

from __future__ import annotations

import click
from rich.table import Table

from archiver.app import App
from archiver.cli.base import cli, echo, echo_json, out, pass_app
from archiver.manifest.articles import article_doc
from archiver.manifest.view import why
from archiver.states import CitationRole, Rot
from archiver.terminal import cell, one_line

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
        doc = article_doc(app.store, article)
        if as_json:
            echo_json(doc)
            return
        _print_article(doc)
        return
    rows = app.store.status_rows()
    if as_json:
        keys = ("id", "title", "source_url", "citations")
        echo_json([{k: r[k] for k in keys} for r in rows])
        return
    if show_all:
        _print_plain_table(
            [
                (r["id"], one_line(r["title"])[:60], *(str(r[k]) for k in STATUS_COUNTS))
                for r in rows
            ]
        )
    else:
        shown = rows[-limit:] if limit else []
        table = Table(title=cell(f"Archive {app.root}"))
        for col in STATUS_COLUMNS:
            table.add_column(col, overflow="fold")
        for r in shown:
            table.add_row(
                cell(r["id"]), cell(one_line(r["title"])[:60]), *(str(r[k]) for k in STATUS_COUNTS)
            )
        if shown:
            out.print(table)
        if len(shown) < len(rows):
            echo(
                f"Showing the {len(shown):,} most recently added of {len(rows):,} articles"
                " (--all for every one, --json for tools)."
            )
    if rows:
        totals = {k: sum(r[k] for r in rows) for k in STATUS_COUNTS}
        echo(
            f"Totals: {len(rows):,} articles, {totals['citations']:,} citations:"
            f" {totals['archived']:,} archived, {totals['failed']:,} failed,"
            f" {totals['rotted']:,} rotted, {totals['dead']:,} dead."
        )
    else:
        echo("No articles yet: `archive add ARTICLE`.")
    _print_queue(app)
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
            jobs.add_row(cell(b["job"]), cell(b["worker"]), *when, cell(b["last_error"]))
        out.print(jobs)
    _print_intake(app)


IN_FLIGHT_SHOWN = 20


def _print_queue(app: App) -> None:
    """Targets being worked on now (claimed by whom, until when) apart from those waiting."""
    shown, total = app.store.in_flight(IN_FLIGHT_SHOWN)
    waiting = app.store.count_capture_waiting(max_attempts=app.settings.capture.max_attempts)
    if not (total or waiting):
        return
    click.echo(f"Work: {total:,} targets in flight, {waiting:,} waiting to be captured.")
    if not shown:
        return
    table = Table(title="In flight: claimed by a worker (UTC)")
    for col in ("target", "claimed by", "until"):
        table.add_column(col, overflow="fold")
    for r in shown:
        until = f"{r['claimed_until']:%Y-%m-%d %H:%M:%S}Z"
        # a worker id or URL with [brackets] or controls is shown literally, never as markup
        table.add_row(cell(_short_url(r["url"])), cell(r["claimed_by"]), until)
    out.print(table)
    if total > len(shown):
        click.echo(f"… and {total - len(shown):,} more in flight.")


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
    echo("\n".join(lines))


def _short_url(url: str, width: int = 64) -> str:
    """scheme dropped, middle elided: enough to recognise a citation in a terminal."""
    text = url.split("://", 1)[-1]
    if len(text) <= width:
        return text
    keep = (width - 1) // 2
    return text[:keep] + "…" + text[-(width - 1 - keep) :]


def _stand_in(c: dict) -> bool:
    """The latest judgement of a citation is not the page (a check, else a capture)."""
    if c["checks"]:
        return c["rot"] not in (Rot.OK, Rot.REDIRECTED)
    return bool(c["snapshots"]) and not c["snapshots"][-1]["good"]


def _print_article(doc: dict) -> None:
    art = doc["article"]
    table = Table(title=cell(f"{art['id']}: {art['title']}"), title_justify="left")
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
        if c["role"] == CitationRole.SOURCE:
            note = ("own URL. " + note).strip()
        table.add_row(
            str(c["id"]),
            cell(_short_url(c["url"], url_width)),
            c["capture_state"],
            rot,
            str(len(c["snapshots"])),
            str(last or ""),
            cell(note),
        )
    out.print(table)
    for c in doc["citations"]:  # one line for each stand-in: why it was judged so
        if _stand_in(c) and (reasons := why(c)):
            echo(f"#{c['id']} why: {one_line(reasons)}")
    echo(f"Manifest: manifests/{art['id']}.html (JSON: archive status {art['id']} --json)")


def _print_intake(app: App) -> None:
    """`archive status`: one row per configured intake source."""
    if not (app.settings.intake.folders or app.settings.intake.feeds):
        return  # nothing configured: not even the feed reader's imports
    from archiver.runs.intake import intake_status

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
            cell(f"{r['kind']} {r['location']}"),
            when[0] or "never",
            when[1],
            str(r["new_articles"]),
            cell(error),
        )
    out.print(table)
