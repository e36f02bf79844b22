"""Shared fixtures: a clean environment, archives wired to the offline fixture web."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from archiver import config
from archiver.app import App, init_archive

pytest_plugins = ["tests.web.fixtures"]

_LEAKY = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE",
          "CURL_CA_BUNDLE", "SSL_CERT_FILE")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch):
    """No developer proxy, CA or ARCHIVER_* setting may leak into a test (httpx's habit)."""
    for name in list(os.environ):
        if name.upper() in _LEAKY or name.upper().startswith("ARCHIVER_"):
            monkeypatch.delenv(name, raising=False)


def write_config(root: Path, **sections) -> Path:
    """Rewrite root/config.toml from the defaults with overrides: capture={"workers": 2}."""
    text = config.render_default_config()
    for section, values in sections.items():
        for key, value in values.items():
            rendered = _toml(value)
            prefix = "" if section == "top" else f"[{section}]"
            text = _set(text, prefix, key, rendered)
    path = root / config.CONFIG_NAME
    path.write_text(text, encoding="utf-8")
    return path


def _toml(value) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | list):
        return json.dumps(value)
    return repr(value)


def _set(text: str, section: str, key: str, rendered: str) -> str:
    lines = text.split("\n")
    current = ""
    for i, line in enumerate(lines):
        if line.startswith("["):
            current = line.strip()
        elif current == section and line.startswith(f"{key} = "):
            lines[i] = f"{key} = {rendered}"
            return "\n".join(lines)
    raise KeyError(f"{section} {key}")


def make_archive(root: Path, web=None, **sections) -> App:
    """An initialised archive at ``root``; with ``web``, fetching goes through its proxy."""
    init_archive(root)
    capture = {"per_host_delay": "0s", "connect_timeout": "5s", "read_timeout": "5s",
               "page_timeout": "30s", "workers": 4}
    if web is not None:
        capture.update(proxy=web.proxy_url, ca_bundle=str(web.ca_path))
    capture.update(sections.pop("capture", {}))
    path = write_config(root, capture=capture, **sections)
    return App(settings=config.load_settings(path))


@pytest.fixture
def archive(tmp_path, web):
    """An archive in tmp_path whose fetches go through the fixture web's proxy."""
    app = make_archive(tmp_path / "archive", web)
    yield app
    app.close()


@pytest.fixture
def sample_article() -> Path:
    return Path(__file__).resolve().parent.parent / "samples" / "seed-article.txt"
