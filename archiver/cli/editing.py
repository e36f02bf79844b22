"""Editors' and auditors' commands: manifest, review, verify, export, index, replay."""

from __future__ import annotations

from pathlib import Path

import click

from archiver.app import App, load_app
from archiver.cli.base import cli, echo, echo_json, pass_app, short_name
from archiver.manifest.articles import article_doc
from archiver.states import ReviewState
from archiver.terminal import one_line


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
    echo(f"Wrote {len(paths)} files in {app.settings.manifests_path}")


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
@click.option(
    "--by",
    metavar="NAME",
    callback=short_name,
    help="Who reviewed (default: your login name; at most 128 characters).",
)
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
    state = ReviewState.APPROVED if approve else ReviewState.FLAGGED
    r = review_citation(app, citation, state, note=note, by=by or _login_name())
    echo(
        f"{r['article']}:{r['citation']} {state}"
        + (f" by {r['by']}" if r["by"] else "")
        + (f": {note}" if note else "")
    )


@cli.command("verify")
@click.option("--json", "as_json", is_flag=True, help="One JSON report on stdout.")
@click.option(
    "--wacz",
    "wacz_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Check one WACZ package alone (no archive needed): hashes, signature, tokens.",
)
@click.option(
    "--tsa-trust",
    metavar="PEM",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --wacz: PEM certificates trusted for the package's timestamp tokens.",
)
@click.pass_context
def verify_cmd(ctx: click.Context, as_json: bool, wacz_file: Path | None, tsa_trust) -> None:
    """Re-hash every WARC file and record, check each snapshot, the ledger chain and
    every timestamp token; or, with --wacz, one exported package on its own.

    Also checks every connection evidence record (certificate hashes, the records it
    names) and each snapshot's stored certificate fingerprint against it.
    Prints one line per problem (FILE:OFFSET: what) and a summary; exits 8 if any.
    What this install cannot check (a brotli-coded body without a brotli binding) is
    one line each starting "not checked: ", and not a problem ("unchecked" in --json).
    A WACZ that is intact but unsigned says NOT SIGNED ("signature": "absent").

    \b
    Examples:
      archive verify
      archive verify --json > verify-report.json
      archive verify --wacz prosecuting.wacz --tsa-trust tsa-roots.pem
    """
    from archiver.errors import VerifyFailed

    if wacz_file is not None:
        from archiver.cli.evidence import verify_wacz_cmd

        verify_wacz_cmd(wacz_file, tsa_trust, as_json)
        return
    if tsa_trust is not None:
        raise click.UsageError("--tsa-trust goes with --wacz ([evidence] tsa_trust otherwise)")
    from archiver.manifest.verify import verify

    obj = ctx.ensure_object(dict)
    app = obj.get("app") or load_app(obj.get("config"))
    obj["app"] = app
    report = verify(app)
    if as_json:
        echo_json(report.as_dict())
    else:
        for problem in report.problems:
            echo(one_line(problem))
        for unchecked in report.unchecked:  # not a problem: its own first word says so
            echo(f"not checked: {one_line(unchecked)}")
        echo(report.summary())
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
        from archiver.manifest.robust import replay_prefix, robust_links_text

        doc = article_doc(app.store, article)
        prefix = replay_prefix(app.settings.replay.base_url)
        click.echo(robust_links_text(doc, prefix), nl=False)
        return
    from archiver.evidence.waczsign import make_signer
    from archiver.interop.wacz import build_wacz

    sign = make_signer(app)
    report = build_wacz(app, wacz_path, article, all_warcs=all_warcs, sign=sign)
    echo(report.line())
    if report.skipped_open:
        echo(
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

    echo(index_closed(app).line())


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
    echo(f"Replaying {app.root} at http://{host}:{port}/archive/ (Ctrl-C to stop)")
    code = serve(app, port, bind)
    if code:
        raise SystemExit(code)
