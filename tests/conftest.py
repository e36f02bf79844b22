"""Shared fixtures: a clean environment, archives wired to the offline fixture web."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from archiver import config
from archiver.app import App, init_archive
from tests import pg

pytest_plugins = ["tests.web.fixtures", "tests.faults_report"]

STORE = "sqlite"  # or "postgresql": `pytest --store=postgresql` (or $ARCHIVER_TEST_STORE)


def pytest_addoption(parser):
    parser.addoption(
        "--store",
        choices=("sqlite", "postgresql"),
        default=os.environ.get("ARCHIVER_TEST_STORE") or "sqlite",
        help="Store every test archive in SQLite (default) or in a fresh PostgreSQL database "
        "per archive (server: $ARCHIVER_TEST_PG, default the local one).",
    )


def pytest_configure(config):
    global STORE
    STORE = config.getoption("--store")
    config.addinivalue_line(
        "markers", "sqlite_only: checks SQLite itself; skipped under --store=postgresql"
    )


def pytest_report_header(config):
    return f"archive store: {STORE}"


_LEAKY = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch):
    """No developer proxy, CA or ARCHIVER_* setting may leak into a test (httpx's habit)."""
    for name in list(os.environ):
        if name.upper() in _LEAKY or name.upper().startswith("ARCHIVER_"):
            monkeypatch.delenv(name, raising=False)


class _FreshDatabaseConfig:
    """`archiver.config` as `init_archive` sees it under --store=postgresql: every new
    config.toml names a new PostgreSQL database (so every archive has its own)."""

    def __init__(self, new_database) -> None:
        self._new_database = new_database

    def __getattr__(self, name):
        return getattr(config, name)

    def render_default_config(self) -> str:
        return config.render_default_config({"top": {"database": self._new_database()}})


@pytest.fixture(autouse=True)
def store_backend(request, monkeypatch, clean_environ):
    """Under --store=postgresql, archives made in a test live in fresh PostgreSQL databases,
    dropped when the test ends; None with SQLite."""
    if STORE != "postgresql":
        yield None
        return
    if request.node.get_closest_marker("sqlite_only"):
        pytest.skip("checks SQLite itself (run without --store=postgresql)")
    import archiver.app

    databases = pg.Databases()
    monkeypatch.setattr(archiver.app, "config", _FreshDatabaseConfig(databases.new))
    yield databases
    databases.drop_all()


@pytest.fixture
def store_url(tmp_path, store_backend) -> str:
    """The URL of a new, empty store: an SQLite file, or a PostgreSQL database."""
    return store_backend.new() if store_backend else f"sqlite:///{tmp_path / 'store.db'}"


def open_archive_store(path: Path):
    """The store of the archive whose config.toml is ``path`` (or is in folder ``path``)."""
    from archiver.store import open_store

    cfg = path if path.suffix == ".toml" else path / config.CONFIG_NAME
    return open_store(config.load_settings(cfg).database_url)


def write_config(root: Path, **sections) -> Path:
    """Rewrite root/config.toml from the defaults with overrides: capture={"workers": 2}."""
    path = root / config.CONFIG_NAME
    path.write_text(config.render_default_config(sections), encoding="utf-8")
    return path


def make_archive(root: Path, web=None, **sections) -> App:
    """An initialised archive at ``root``; with ``web``, fetching goes through its proxy."""
    init_archive(root)
    capture = {
        "per_host_delay": "0s",
        "connect_timeout": "5s",
        "read_timeout": "5s",
        "page_timeout": "30s",
        "workers": 4,
    }
    if web is not None:
        capture.update(proxy=web.proxy_url, ca_bundle=str(web.ca_path))
    capture.update(sections.pop("capture", {}))
    # keep the store `init` made (a fresh PostgreSQL database under --store=postgresql)
    made = config.load_settings(root / config.CONFIG_NAME).database
    top = {"database": made, **sections.pop("top", {})}
    path = write_config(root, capture=capture, top=top, **sections)
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
