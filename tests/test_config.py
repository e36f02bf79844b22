"""config.toml: defaults in one place, clear one-line errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from archiver import config
from archiver.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_repository_config_is_the_rendered_default():
    """The repo root is a ready archive: its config.toml is exactly what `init` writes."""
    assert (ROOT / "config.toml").read_text(encoding="utf-8") == config.render_default_config()


def test_defaults_round_trip(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(config.render_default_config(), encoding="utf-8")
    loaded = config.load_settings(path)
    assert loaded == config.defaults(tmp_path)
    assert loaded.capture.page_timeout == 120.0
    assert loaded.check.interval == 7 * 86400
    assert loaded.daemon.capture_every == 60.0


def test_rendered_config_with_overrides(tmp_path):
    path = tmp_path / "config.toml"
    text = config.render_default_config(
        {
            "top": {"database": "sqlite:///other.db"},
            "capture": {"workers": 3, "proxy": "http://p:1"},
        }
    )
    path.write_text(text, encoding="utf-8")
    loaded = config.load_settings(path)
    assert loaded.capture.workers == 3 and loaded.capture.proxy == "http://p:1"
    assert loaded.database == "sqlite:///other.db"
    assert loaded.check == config.defaults(tmp_path).check  # the rest stays the default
    with pytest.raises(KeyError, match="no setting 'workerz' in \\[capture\\]"):
        config.render_default_config({"capture": {"workerz": 3}})
    with pytest.raises(KeyError, match="no section \\[captur\\]"):
        config.render_default_config({"captur": {"workers": 3}})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bogus = 1\n", "unknown key 'bogus'"),
        ("[capture]\nworkerz = 2\n", "unknown key 'capture.workerz'"),
        ("[capture]\nworkers = 'four'\n", "capture.workers must be int"),
        ("[capture]\nallow_private = 1\n", "capture.allow_private must be bool"),
        ("[capture]\npage_timeout = 'soon'\n", "capture.page_timeout: not a duration"),
        ("[check]\ndrift_threshold = 2.0\n", "check.drift_threshold must be 0..1"),
        ("[intake]\nfeeds = 'x'\n", "intake.feeds must be list[str]"),
        ("capture = 3\n", "[capture] must be a table"),
        ("[capture\n", "not valid TOML"),
        ("[daemon]\nunknown = true\n", "unknown key 'daemon.unknown'"),
        ("[capture]\ncapture_time = '0s'\n", "capture.capture_time must be positive"),
        ("[capture]\ncapture_time = 'forever'\n", "capture.capture_time: not a duration"),
        ("[capture]\ncapture_bytes = -1\n", "capture.capture_bytes must be positive"),
        ("[capture]\ncapture_bytes = '1G'\n", "capture.capture_bytes must be int"),
    ],
)
def test_bad_config_is_one_clear_error(tmp_path, text, message):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        config.load_settings(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_and_binary_config(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        config.load_settings(tmp_path / "nope.toml")
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not UTF-8"):
        config.load_settings(path)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("7d", 604800),
        ("250ms", 0.25),
        (12, 12),
        ("1.5h", 5400),
    ],
)
def test_durations(value, seconds):
    assert config.parse_duration(value) == seconds


def test_paths_are_relative_to_the_config_file(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    path = tmp_path / "a" / "config.toml"
    path.write_text('warcs_dir = "w"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    s = config.load_settings(Path("a/config.toml"))
    assert s.warcs_path == (tmp_path / "a" / "w").resolve()
    assert s.database_url == "sqlite:///" + str((tmp_path / "a" / "archive.db").resolve())


def test_config_lookup_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert config.find_config(None) == tmp_path / "config.toml"
    monkeypatch.setenv("ARCHIVER_CONFIG", "/env/config.toml")
    assert config.find_config(None) == Path("/env/config.toml")
    assert config.find_config("/explicit.toml") == Path("/explicit.toml")


def test_database_env_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHIVER_DATABASE", "postgresql+psycopg://u@h/db")
    assert config.defaults(tmp_path).database_url == "postgresql+psycopg://u@h/db"


def test_secret_settings_are_not_in_repr():
    s = config.CaptureSettings(proxy="http://user:secret@proxy:3128")
    assert "secret" not in repr(s)
