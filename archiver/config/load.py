"""Reading config.toml: TOML → checked values → `Settings`, validated once, at the edge."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path
from typing import Any

from archiver.config.settings import SECTIONS, Settings, parse_duration
from archiver.errors import ConfigError

CONFIG_NAME = "config.toml"
ENV_CONFIG = "ARCHIVER_CONFIG"


def _coerce(where: str, f: dataclasses.Field, value: Any) -> Any:
    """Check one TOML value against the field's type; durations become seconds."""
    if f.metadata.get("duration"):
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise ConfigError(f"config: {where}: {exc}") from None
    want = f.type if isinstance(f.type, str) else f.type.__name__
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
        "list[str]": isinstance(value, list) and all(isinstance(v, str) for v in value),
    }.get(want, False)
    if not ok:
        raise ConfigError(f"config: {where} must be {want}, got {type(value).__name__} {value!r}")
    return float(value) if want == "float" else value


def _build(cls: type, table: dict[str, Any], prefix: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        where = f"{prefix}{key}"
        if key in SECTIONS and cls is Settings:
            if not isinstance(value, dict):
                raise ConfigError(f"config: [{key}] must be a table")
            kwargs[key] = _build(SECTIONS[key], value, f"{key}.")
        elif key in fields and key not in SECTIONS:
            kwargs[key] = _coerce(where, fields[key], value)
        else:
            raise ConfigError(f"config: unknown key {where!r}")
    return cls(**kwargs)


def _validate(s: Settings) -> None:
    c = s.capture
    checks = [
        (c.workers >= 1, "capture.workers must be at least 1"),
        (1 <= c.gzip_level <= 9, "capture.gzip_level must be 1..9"),
        (c.per_host_concurrency >= 1, "capture.per_host_concurrency must be at least 1"),
        (c.max_bytes > 0, "capture.max_bytes must be positive"),
        (c.warc_max_size > 0, "capture.warc_max_size must be positive"),
        (c.capture_time > 0, "capture.capture_time must be positive"),
        (c.capture_bytes > 0, "capture.capture_bytes must be positive"),
        (0 <= c.max_redirects <= 50, "capture.max_redirects must be 0..50"),
        (s.check.workers >= 1, "check.workers must be at least 1"),
        (s.max_citations >= 1, "max_citations must be at least 1"),
        (0.0 <= s.check.drift_threshold <= 1.0, "check.drift_threshold must be 0..1"),
        (s.check.dead_after >= 1, "check.dead_after must be at least 1"),
        (1 <= s.replay.port <= 65535, "replay.port must be 1..65535"),
        (s.screenshots.timeout > 0, "screenshots.timeout must be positive"),
        (16 <= s.screenshots.width <= 4096, "screenshots.width must be 16..4096"),
        (16 <= s.screenshots.height <= 16384, "screenshots.height must be 16..16384"),
        (s.screenshots.batch >= 1, "screenshots.batch must be at least 1"),
        (
            s.replay.base_url == "" or s.replay.base_url.startswith(("http://", "https://")),
            "replay.base_url must be empty or an http(s) URL",
        ),
        (
            all(u.startswith(("http://", "https://")) for u in s.evidence.tsa_url),
            "evidence.tsa_url entries must be http(s) URLs",
        ),
        (s.evidence.tsa_timeout > 0, "evidence.tsa_timeout must be positive"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"config: {message}")


def load_settings(path: Path) -> Settings:
    """Read and validate one config.toml; the archive root is the file's folder."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config: {path} not found (run `archive init`)") from None
    except OSError as exc:
        raise ConfigError(f"config: cannot read {path}: {exc.strerror}") from None
    try:
        table = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"config: {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config: {path} is not valid TOML: {exc}") from None
    settings = dataclasses.replace(_build(Settings, table, ""), root=path.parent.resolve())
    _validate(settings)
    return settings


def defaults(root: Path) -> Settings:
    """Settings with every default, rooted at ``root`` (for tests and `init`)."""
    return dataclasses.replace(_build(Settings, {}, ""), root=root.resolve())


def find_config(explicit: str | None, cwd: Path | None = None) -> Path:
    """--config, then $ARCHIVER_CONFIG, then ./config.toml."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(ENV_CONFIG)
    if env:
        return Path(env)
    return (cwd or Path.cwd()) / CONFIG_NAME
