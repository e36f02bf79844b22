"""`archive replay`: pywb serves the archive so an editor can browse its snapshots.

pywb is an optional extra (``pip install 'archiver[replay]'``). It runs in its own
process (``python -m pywb.apps.cli``, its `wayback` command): pywb monkey-patches the
standard library with gevent at import, which must never happen inside archiver.

The collection is named ``archive``: a snapshot captured at 2026-11-20T09:30:00Z of
https://example.org/ replays at ``http://localhost:8080/archive/20261120093000/https://example.org/``
(``…/20261120093000id_/…`` gives the original bytes, unrewritten). The index is
`warcs/index.cdxj` (brought up to date first); pywb re-reads it on every lookup, so
`archive index` while replay runs makes new captures visible. The generated
``config.yaml`` lives in ``.replay/`` at the archive root.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

from archiver.errors import MissingExtra
from archiver.manifest.robust import REPLAY_COLLECTION

logger = logging.getLogger(__name__)

CONFIG_DIR = ".replay"
INSTALL_HINT = "pip install 'archiver[replay]'"


def pywb_installed() -> bool:
    return importlib.util.find_spec("pywb") is not None


def require_pywb() -> None:
    if not pywb_installed():
        raise MissingExtra(f"archive replay needs pywb (not installed): {INSTALL_HINT}")


def pywb_config(index: Path, archive_dir: Path) -> dict:
    """pywb's config.yaml as a dict: one collection, this index, WARCs under archive_dir.

    CDXJ ``filename`` fields are relative to ``archive_dir`` (pywb joins the two).
    """
    return {
        "collections": {
            REPLAY_COLLECTION: {
                "index": str(index.resolve()),
                "archive_paths": str(archive_dir.resolve()) + "/",
            }
        },
        "enable_auto_colls": False,  # no ./collections/ scanning: only our collection
        "framed_replay": True,
    }


def write_config(folder: Path, config: dict) -> Path:
    """Write ``folder/config.yaml`` (JSON is valid YAML, and needs no YAML writer)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return path


def wayback_command(port: int, bind: str) -> list[str]:
    """pywb's `wayback` server, run with this interpreter (the venv pywb lives in)."""
    return [sys.executable, "-m", "pywb.apps.cli", "--port", str(port), "--bind", bind]


# pywb's front end asks its own warcserver over loopback HTTP with requests, which would
# send that through HTTP(S)_PROXY: pywb runs without them (it reads only our WARC files)
PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "all_proxy"})


def start(folder: Path, port: int, bind: str = "127.0.0.1", **popen) -> subprocess.Popen:
    """Start pywb on ``folder/config.yaml``; the caller waits or stops it."""
    require_pywb()
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}
    return subprocess.Popen(wayback_command(port, bind), cwd=folder, env=env, **popen)


def prepare(app) -> Path:
    """Bring warcs/index.cdxj up to date and write the pywb config; returns its folder."""
    from archiver.interop.cdxj import index_closed

    report = index_closed(app)
    logger.info("%s", report.line())
    folder = app.root / CONFIG_DIR
    write_config(folder, pywb_config(report.index, app.settings.warcs_path))
    return folder


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def serve(app, port: int, bind: str = "127.0.0.1") -> int:
    """Run pywb in the foreground until Ctrl-C / SIGTERM; returns its exit code.

    SIGTERM is turned into the Ctrl-C path, so pywb is stopped with us, never orphaned.
    """
    require_pywb()
    proc = start(prepare(app), port, bind)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
