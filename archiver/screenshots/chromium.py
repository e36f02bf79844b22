"""One screenshot: headless Chromium run as a subprocess on a replay URL, PNG bytes back.

Chromium is driven by its command line only (selenium is a test dependency, never a
run-time one): ``--headless --screenshot=FILE URL`` renders the page once it has
loaded and writes a PNG. The flags, and why each:

- ``--headless``: no display. ``--disable-gpu``, ``--hide-scrollbars``,
  ``--window-size=W,H``: a plain software rendering of a fixed viewport.
- ``--no-sandbox`` only when running as root: Chromium refuses to start as root with
  its sandbox on (a container, CI). Anywhere else the sandbox stays on.
- ``--user-data-dir=<temp>``: a fresh profile per run, deleted after (no cookies, cache
  or history shared between snapshots, none left behind).
- ``--proxy-server=127.0.0.1:9`` (the discard port: nothing listens) with
  ``--proxy-bypass-list=<-loopback>;127.0.0.1:PORT``: every request goes to a proxy that
  is not there, except those to the replay itself. ``<-loopback>`` removes Chromium's
  implicit bypass of localhost/127.0.0.1, so an archived script cannot reach other
  loopback services either. So the rendered page can never reach the live web, whatever
  the replay's rewriting misses.
- ``--no-first-run``, ``--disable-background-networking``, ``--disable-sync``,
  ``--disable-extensions``, ``--disable-component-update``, ``--mute-audio``: Chromium
  itself stays quiet (no update or safe-browsing calls, which the proxy would fail anyway).
- ``--virtual-time-budget``: let scripts and images settle before the picture (virtual
  time: a page's timers run ahead instead of being waited for).

The whole run is bounded by ``timeout`` seconds; past it the process group is killed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from archiver.errors import ArchiverError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_HINT = "apt-get install chromium"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NOWHERE_PROXY = "127.0.0.1:9"  # the discard port: nothing listens there


class RenderError(ArchiverError):
    """Chromium did not produce a screenshot of one page (timeout, crash, no PNG)."""


@dataclass(frozen=True, kw_only=True)
class Png:
    data: bytes
    width: int
    height: int


def find_chromium(configured: str = "") -> str | None:
    """The configured binary if it exists, else the first Chromium on PATH, else None."""
    if configured:
        return shutil.which(configured)
    for name in CANDIDATES:
        if found := shutil.which(name):
            return found
    return None


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; RenderError when it is not a PNG."""
    if len(data) < 24 or not data.startswith(PNG_MAGIC) or data[12:16] != b"IHDR":
        raise RenderError("Chromium wrote something that is not a PNG")
    return struct.unpack(">II", data[16:24])


def chromium_args(
    binary: str, url: str, out: Path, profile: Path, *, allow: str, width: int, height: int
) -> list[str]:
    """The command line: ``allow`` (host:port) is the only address the page may reach."""
    args = [
        binary,
        "--headless",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--window-size={width},{height}",
        f"--user-data-dir={profile}",
        f"--proxy-server={NOWHERE_PROXY}",
        f"--proxy-bypass-list=<-loopback>;{allow}",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-sync",
        "--disable-extensions",
        "--disable-component-update",
        "--mute-audio",
        "--virtual-time-budget=5000",
        f"--screenshot={out}",
    ]
    if os.geteuid() == 0:
        args.insert(2, "--no-sandbox")  # Chromium refuses to run as root with it
    return [*args, url]


def render(binary: str, url: str, *, allow: str, width: int, height: int, timeout: float) -> Png:
    """Render ``url`` (on the replay at ``allow``) to a PNG of width x height."""
    with tempfile.TemporaryDirectory(prefix="archiver-shot-") as folder:
        out = Path(folder) / "shot.png"
        args = chromium_args(
            binary, url, out, Path(folder) / "profile", allow=allow, width=width, height=height
        )
        _run(args, timeout)
        try:
            data = out.read_bytes()
        except FileNotFoundError:
            raise RenderError(f"Chromium wrote no screenshot of {url}") from None
    w, h = png_size(data)
    return Png(data=data, width=w, height=h)


def _run(args: list[str], timeout: float) -> None:
    proc = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: a timeout kills every helper
    )
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise RenderError(f"Chromium took longer than {timeout:.0f}s") from None
    finally:
        _kill_group(proc.pid)


def _kill_group(pgid: int) -> None:
    """Chromium's helpers can outlive the browser process: end the whole group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def chromium_version(binary: str) -> str:
    """What `chromium --version` says (the provenance of the pictures), or the path."""
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return binary
    return out.strip().splitlines()[-1][:200] if out.strip() else binary
