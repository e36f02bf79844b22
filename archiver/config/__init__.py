"""config.toml → typed, validated, frozen settings.

`settings`: the dataclasses and their defaults (the one place for each); `load`: reading
and validating a config.toml (`load_settings`, `find_config`); `render`: the commented
default config.toml that `archive init` writes (`render_default_config`).
"""

from archiver.config.load import CONFIG_NAME, ENV_CONFIG, defaults, find_config, load_settings
from archiver.config.render import render_default_config
from archiver.config.settings import (
    ENV_DATABASE,
    CaptureSettings,
    CheckSettings,
    DaemonSettings,
    EvidenceSettings,
    IntakeSettings,
    ReplaySettings,
    ScreenshotSettings,
    Settings,
    parse_duration,
)

__all__ = [
    "CONFIG_NAME",
    "ENV_CONFIG",
    "ENV_DATABASE",
    "CaptureSettings",
    "CheckSettings",
    "DaemonSettings",
    "EvidenceSettings",
    "IntakeSettings",
    "ReplaySettings",
    "ScreenshotSettings",
    "Settings",
    "defaults",
    "find_config",
    "load_settings",
    "parse_duration",
    "render_default_config",
]
