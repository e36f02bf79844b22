"""The settings: frozen dataclasses, one per config.toml section, and their defaults.

Defaults live here and only here: every field carries its meaning in ``metadata["doc"]``
(`config.render` turns them into the commented config.toml; `config.load` reads one).
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_DATABASE = "ARCHIVER_DATABASE"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: str | int | float) -> float:
    """'30s', '5m', '1h', '7d' (or a bare number of seconds) → seconds."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 5m, 1h, 7d)")
    return float(m.group(1)) * _UNIT_SECONDS[m.group(2)]


def _opt(default: Any, doc: str, *, duration: bool = False, secret: bool = False) -> Any:
    meta = {"doc": doc, "duration": duration}
    kw: dict[str, Any] = {"metadata": meta, "repr": not secret}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), **kw)
    return field(default=default, **kw)


class _Durations:
    """Duration fields accept '30s', '5m', … however the settings are built."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.metadata.get("duration") and not isinstance(value, float):
                object.__setattr__(self, f.name, parse_duration(value))


@dataclass(frozen=True, kw_only=True)
class CaptureSettings(_Durations):
    workers: int = _opt(
        16,
        "Capture threads working at once; they share one HTTP client, so memory follows"
        " the hosts at work, not this number.",
    )
    max_bytes: int = _opt(
        256 * 2**20, "Largest response body kept; a longer one is cut and marked truncated."
    )
    warc_max_size: int = _opt(
        1_000_000_000, "Close the current WARC file and start a new one past this many bytes."
    )
    gzip_level: int = _opt(6, "gzip level (1-9) for each WARC record's gzip member.")
    connect_timeout: float = _opt("10s", "Time allowed to open a connection.", duration=True)
    read_timeout: float = _opt("30s", "Time allowed between two reads.", duration=True)
    page_timeout: float = _opt(
        "120s", "Time allowed for one page with all its redirect hops.", duration=True
    )
    max_redirects: int = _opt(10, "Redirect hops followed (each one recorded) before giving up.")
    requisites: bool = _opt(True, "Capture page requisites (images, CSS, JS, fonts, iframes).")
    max_requisites: int = _opt(300, "At most this many requisites per page.")
    capture_time: float = _opt(
        "10m",
        "Time allowed for one capture: the page, its redirect hops and every requisite"
        " together; what is left unfetched is recorded (snapshot marked truncated).",
        duration=True,
    )
    capture_bytes: int = _opt(
        1024 * 2**20,
        "Bytes received allowed for one capture, page and requisites together; past"
        " it the rest is left unfetched and the snapshot marked truncated.",
    )
    per_host_concurrency: int = _opt(2, "Requests in flight to one host at once (1 or 2).")
    per_host_delay: float = _opt(
        "0.5s",
        "Pause between two page visits to the same host (a visit's requisites load"
        " without it, per_host_concurrency at most at once).",
        duration=True,
    )
    reuse_window: float = _opt(
        "1h",
        "A requisite (stylesheet, script, font, image, media) captured with a 2xx this"
        " recently is reused, not fetched again; 0 = always fetch.",
        duration=True,
    )
    retry_backoff: float = _opt(
        "5m", "First wait before a failed capture is retried; doubles each time.", duration=True
    )
    retry_max: float = _opt("7d", "Longest wait between capture retries.", duration=True)
    max_attempts: int = _opt(8, "Give up capturing a target after this many failed attempts.")
    allow_private: bool = _opt(
        False,
        "Allow loopback, private, link-local and metadata addresses (intranet archives only).",
    )
    proxy: str = _opt(
        "",
        "Proxy for every fetch: http://host:port, https://…, socks5h://…"
        " (empty: use HTTP(S)_PROXY / NO_PROXY from the environment).",
        secret=True,
    )
    ca_bundle: str = _opt(
        "", "CA bundle (PEM) to trust (empty: REQUESTS_CA_BUNDLE or the system's)."
    )
    user_agent: str = _opt("", "User-Agent; empty gives 'archiver/VERSION (+contact)'.")
    contact: str = _opt(
        "https://github.com/archiver/archiver",
        "URL or e-mail named in the User-Agent so site owners can reach you.",
    )
    operator: str = _opt(
        "",
        "Who runs the captures, named in each snapshot's evidence (captured_by)"
        " (empty: the OS user of the process).",
    )


@dataclass(frozen=True, kw_only=True)
class CheckSettings(_Durations):
    interval: float = _opt("7d", "Re-check each live link this often.", duration=True)
    workers: int = _opt(8, "Check threads working at once.")
    drift_threshold: float = _opt(
        0.5,
        "Main-text similarity (0..1, word 3-gram Jaccard) below which a page counts as drifted.",
    )
    dead_after: int = _opt(3, "Consecutive failing checks before a link is called dead.")
    dead_min_days: float = _opt(3, "…and the failing checks must span at least this many days.")
    max_bytes: int = _opt(5 * 2**20, "Bytes of a page read when checking it.")
    recapture_on_drift: bool = _opt(True, "Capture a drifted page again (both versions kept).")


@dataclass(frozen=True, kw_only=True)
class DaemonSettings(_Durations):
    capture_every: float = _opt("1m", "Run pending captures this often.", duration=True)
    check_every: float = _opt("1h", "Run due link checks this often.", duration=True)
    manifest_every: float = _opt("5m", "Rewrite changed manifests this often.", duration=True)
    screenshot_every: float = _opt(
        "10m",
        "Render missing screenshots this often (skipped, one line, without Chromium or"
        " the replay extra).",
        duration=True,
    )
    intake_every: float = _opt(
        "5m",
        "Run intake at least this often (feed_every, if shorter, wins): poll [intake]"
        " folders, and feeds when due.",
        duration=True,
    )
    timestamp_every: float = _opt(
        "1m",
        "Ask the TSAs for queued timestamp tokens this often (only with [evidence] tsa_url;"
        " a failed one waits its own retry time).",
        duration=True,
    )
    shutdown_grace: float = _opt(
        "20s", "On SIGTERM, wait this long for in-flight work before exiting.", duration=True
    )
    lease: float = _opt(
        "10m", "A claimed target is reclaimable after this long without progress.", duration=True
    )


@dataclass(frozen=True, kw_only=True)
class IntakeSettings(_Durations):
    folders: list[str] = _opt(
        [],
        "Watched folders (relative to this file): each new or changed .txt/.md/.html file"
        ' in them is added as an article, e.g. ["inbox"].',
    )
    feeds: list[str] = _opt(
        [],
        "RSS/Atom feed URLs: each new entry's article page is fetched and added,"
        ' e.g. ["https://example.org/rss.xml"].',
    )
    feed_every: float = _opt(
        "15m",
        "Poll each feed this often, at the first intake pass once due (conditional GET;"
        " a failing feed backs off).",
        duration=True,
    )


@dataclass(frozen=True, kw_only=True)
class ReplaySettings(_Durations):
    base_url: str = _opt(
        "",
        "Where `archive replay` is reached, e.g. http://localhost:8080; manifests then link"
        " each snapshot to BASE_URL/archive/<14-digit timestamp>/<url> (empty: no replay links).",
    )
    port: int = _opt(8080, "Port `archive replay` listens on.")


@dataclass(frozen=True, kw_only=True)
class EvidenceSettings(_Durations):
    tsa_url: list[str] = _opt(
        [],
        "RFC 3161 time-stamping services, tried in order until one answers, e.g."
        ' ["https://freetsa.org/tsr"]; each closed WARC file and the ledger head get a'
        " token (empty: no trusted timestamps). Reached like every fetch ([capture]"
        " proxy, ca_bundle, the private-address guard).",
    )
    stamp_every: float = _opt(
        "1h", "Stamp the ledger's last line at most this often (when it changed).", duration=True
    )
    tsa_trust: str = _opt(
        "",
        "PEM file of the certificates trusted for TSA tokens (root and intermediates);"
        " `archive verify` checks each token's signer against it (empty: imprint only).",
    )
    tsa_timeout: float = _opt(
        "10s", "Time allowed for one TSA request (connect, and the whole reply).", duration=True
    )
    tsa_retry: float = _opt(
        "5m", "First wait before a failed stamp is tried again; doubles each time.", duration=True
    )
    tsa_retry_max: float = _opt("1d", "Longest wait between two stamp attempts.", duration=True)
    signing_key: str = _opt(
        "keys/archive-signing.pem",
        "The archive's signing key (ECDSA, PEM, mode 0600; `archive init` or `archive key"
        " create` makes it): signs exported WACZ packages.",
    )


@dataclass(frozen=True, kw_only=True)
class ScreenshotSettings(_Durations):
    chromium: str = _opt(
        "",
        "Chromium binary for `archive screenshots` (empty: chromium, chromium-browser or"
        " google-chrome on PATH; none: screenshots are skipped with one line).",
    )
    timeout: float = _opt("60s", "Time allowed to render one screenshot.", duration=True)
    width: int = _opt(1280, "Screenshot width in CSS pixels.")
    height: int = _opt(1600, "Screenshot height in CSS pixels (the top of the page).")
    batch: int = _opt(200, "Most screenshots one run (CLI or daemon job) renders.")


@dataclass(frozen=True, kw_only=True)
class Settings:
    root: Path = field(default=Path("."), metadata={"internal": True})
    database: str = _opt(
        "sqlite:///archive.db",
        "SQLAlchemy URL of the store; a relative SQLite path is relative to this file."
        " PostgreSQL: postgresql+psycopg://user@host/db (or $ARCHIVER_DATABASE).",
        secret=True,
    )
    warcs_dir: str = _opt("warcs", "Where WARC files are written (relative to this file).")
    manifests_dir: str = _opt("manifests", "Where manifests are written (relative to this file).")
    max_citations: int = _opt(
        5000,
        "Most distinct URLs one article may cite; an article citing more is refused (not"
        " cut short) with a message naming this setting.",
    )
    capture: CaptureSettings = field(default_factory=CaptureSettings)
    check: CheckSettings = field(default_factory=CheckSettings)
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    intake: IntakeSettings = field(default_factory=IntakeSettings)
    replay: ReplaySettings = field(default_factory=ReplaySettings)
    evidence: EvidenceSettings = field(default_factory=EvidenceSettings)
    screenshots: ScreenshotSettings = field(default_factory=ScreenshotSettings)

    @property
    def warcs_path(self) -> Path:
        return self.root / self.warcs_dir

    @property
    def manifests_path(self) -> Path:
        return self.root / self.manifests_dir

    @property
    def database_url(self) -> str:
        """The store URL with a relative SQLite path anchored at the archive root."""
        url = os.environ.get(ENV_DATABASE) or self.database
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/"):
            rel = url[len(prefix) :]
            if rel and rel != ":memory:":
                return prefix + str((self.root / rel).resolve())
        return url


SECTIONS = {  # [section] of config.toml → its settings
    "capture": CaptureSettings,
    "check": CheckSettings,
    "daemon": DaemonSettings,
    "intake": IntakeSettings,
    "replay": ReplaySettings,
    "evidence": EvidenceSettings,
    "screenshots": ScreenshotSettings,
}
