"""pywb on a free loopback port for one process: `archive serve` and `archive screenshots`.

pywb cannot run inside archiver: its front end talks to its own warcserver through a
gevent server, which only works in a gevent-patched process, and archiver never lets
gevent patch it (see `archiver.interop.replay`). So it runs as a child process on
127.0.0.1 with a generated config naming one collection, random per start (``r`` + 32
hex digits), over the archive's CDXJ index and WARC files.

Start failures (pywb missing, exits at start, never listens) are `ReplayStartError`: one
line naming what went wrong, with the last line pywb wrote to stderr.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import requests

from archiver.errors import ReplayStartError
from archiver.interop import replay as pywb
from archiver.interop.cdxj import index_closed
from archiver.manifest.robust import replay_url

STATIC_PREFIX = "pywb-static"
STDERR_NAME = "pywb.log"

# pywb listens on loopback: reached directly, never through HTTP(S)_PROXY (a user behind
# a proxy has those set; with them, requests would send loopback traffic to the proxy)
DIRECT = {"http": None, "https": None}
PORT_TRIES = 3  # ports tried when we pick the port (another program may take one first)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def last_line(path: Path, limit: int = 300) -> str:
    """The last non-empty line of pywb's stderr (a traceback ends with the error)."""
    try:
        lines = path.read_bytes()[-8192:].decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    tail = [x.strip() for x in lines if x.strip()]
    return tail[-1][:limit] if tail else ""


class ReplayServer:
    """pywb on a loopback port, configured for our index and WARCs, one random collection."""

    def __init__(self, archive, *, start_timeout: float = 30.0, port: int | None = None) -> None:
        self.archive = archive
        self.collection = "r" + secrets.token_hex(16)
        self.port = port or free_port()
        # a port we picked can be taken by another program before pywb binds it
        self._tries = 1 if port else PORT_TRIES
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen | None = None
        self._folder: tempfile.TemporaryDirectory | None = None
        self._index_lock = threading.Lock()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self, index: Path) -> dict:
        config = pywb.pywb_config(index, self.archive.settings.warcs_path)
        config["collections"] = {self.collection: config["collections"].popitem()[1]}
        config.update(framed_replay=False, static_prefix=STATIC_PREFIX)
        return config

    def start(self) -> ReplayServer:
        """Start pywb and wait until it listens; `ReplayStartError` when it cannot."""
        if not pywb.pywb_installed():
            raise ReplayStartError(f"pywb is not installed: {pywb.INSTALL_HINT}")
        report = index_closed(self.archive)
        attempt = 1
        while True:
            self._folder = tempfile.TemporaryDirectory(prefix="archiver-replay-")
            folder = Path(self._folder.name)
            pywb.write_config(folder, self.config(report.index))
            with open(folder / STDERR_NAME, "wb") as err:
                try:
                    self._proc = pywb.start(
                        folder, self.port, "127.0.0.1", stdout=subprocess.DEVNULL, stderr=err
                    )
                except OSError as exc:
                    self._cleanup()
                    raise ReplayStartError(f"pywb could not be started: {exc}") from exc
            try:
                self._wait_ready(folder / STDERR_NAME)
                return self
            except ReplayStartError as exc:
                self.stop()
                if attempt >= self._tries or "Address already in use" not in str(exc):
                    raise
            attempt += 1
            self.port = free_port()

    def _wait_ready(self, stderr: Path) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                why = last_line(stderr) or "no message"
                raise ReplayStartError(
                    f"pywb exited at start (code {self._proc.returncode}) on port "
                    f"{self.port}: {why}"
                )
            if self._answers():
                return
            time.sleep(0.2)
        raise ReplayStartError(
            f"pywb did not listen on 127.0.0.1:{self.port} within {self.start_timeout:.0f}s"
        )

    def _answers(self) -> bool:
        """pywb answers for our collection (random name): not merely something listening,
        which could be another program holding the port."""
        try:
            r = requests.get(
                f"{self.origin}/{self.collection}/",
                timeout=2,
                allow_redirects=False,
                proxies=DIRECT,
            )
        except requests.RequestException:
            return False
        return r.status_code == 200

    def refresh_index(self) -> None:
        """Index WARC files closed since the start (pywb re-reads the index per lookup)."""
        with self._index_lock:
            index_closed(self.archive)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._cleanup()

    def _cleanup(self) -> None:
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def path(self, captured_at: str, url: str) -> str:
        """The replay path of a snapshot (captured_at: ISO time; url: its final URL)."""
        return replay_url(f"/{self.collection}/", captured_at, url)

    def frame_url(self, snapshot: dict) -> str:
        return self.path(snapshot["captured_at"], snapshot["final_url"])

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
