"""The `archive` command group: parse, call one service function, print.

Errors a user can act on (ArchiverError) print one line on stderr and exit with the
error's code; anything else is a bug and shows a traceback only with --debug. Each
command lives in the module of its audience: capturing (add, capture, check), status,
editing (manifest, review, verify, export, index, replay), service (daemon, intake,
migrate).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import os
import sys
from pathlib import Path

import click
from rich.console import Console

from archiver import __version__
from archiver.app import init_archive, load_app
from archiver.errors import ArchiverError
from archiver.logs import CliFormatter
from archiver.terminal import clean, json_text, one_line

logger = logging.getLogger("archiver")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def echo(message: object = "", *, err: bool = False, nl: bool = True) -> None:
    """click.echo for text that holds what strangers wrote (titles, URLs, reasons, file
    names): control characters are dropped (tabs and newlines kept), so a page title
    cannot set the window title or rewrite the screen."""
    click.echo(clean(message), err=err, nl=nl)


def echo_json(value: object) -> None:
    """Indented JSON on stdout; C1 controls escaped as JSON escapes (see terminal)."""
    click.echo(json_text(value))


def echo_error(message: object) -> None:
    """One ``Error: …`` line on stderr, whatever the message holds."""
    click.echo(f"Error: {one_line(message)}", err=True)


class ArchiveGroup(click.Group):
    """Turns ArchiverError into one line on stderr and the error's exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ArchiverError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            echo_error(exc)
            ctx.exit(exc.exit_code)
        except BrokenPipeError:
            raise  # handled in main(): the reader of our output went away
        except Exception as exc:  # a bug: one line unless --debug
            if (ctx.obj and ctx.obj.get("debug")) or isinstance(exc, click.exceptions.Exit):
                raise
            if isinstance(exc, click.ClickException | click.exceptions.Abort):
                raise
            echo_error(
                f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)"
            )
            ctx.exit(70)
        finally:
            app = (ctx.obj or {}).get("app")
            if app is not None:
                app.close()


NAME_MAX = 128  # the store's columns for worker ids and reviewers' names


def short_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A click callback: a worker id or reviewer name the store can keep, or a usage error."""
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > NAME_MAX or not value.isprintable():
        raise click.BadParameter(f"1 to {NAME_MAX} printable characters, please")
    return value


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
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(CliFormatter())
    logging.basicConfig(level=level, handlers=[handler])


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
        echo(f"Initialised archive in {cfg.parent.resolve()} (created: {', '.join(created)})")
    else:
        echo(f"Archive already initialised in {cfg.parent.resolve()}; nothing changed")


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


def main() -> None:
    # what the imports made (~80,000 tracked objects) lives as long as the process: out of
    # the collector's reach, no full collection walks it again, nor the one at exit
    # (~0.1 s CPU of every command)
    gc.freeze()
    try:
        cli(obj={}, prog_name="archive")
    except BrokenPipeError:
        # the reader went away (`archive status | head`): not an error, nothing to say
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
