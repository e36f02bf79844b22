"""The archive as the CLI and the daemon see it: settings + store, opened once."""

from __future__ import annotations

import dataclasses
import logging
from functools import cached_property
from pathlib import Path

from archiver import config
from archiver.errors import ArchiveNotFound, ArchiveWriteError
from archiver.evidence import signing
from archiver.store import Store, open_store
from archiver.times import Clock, now

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class App:
    settings: config.Settings
    clock: Clock = now

    @cached_property
    def store(self) -> Store:
        store = open_store(self.settings.database_url, clock=self.clock)
        store.signing_fingerprint = signing.key_fingerprint(
            self.root, self.settings.evidence.signing_key
        )
        return store

    @property
    def root(self) -> Path:
        return self.settings.root

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()


def load_app(config_path: str | None) -> App:
    path = config.find_config(config_path)
    if not path.exists():
        raise ArchiveNotFound(
            f"no archive here: {path} not found (run `archive init`, or pass --config)"
        )
    return App(settings=config.load_settings(path))


def init_archive(directory: Path) -> tuple[Path, list[str]]:
    """Create config.toml, warcs/, manifests/ and the store; change nothing that exists.

    Returns (config path, what was created).
    """
    created: list[str] = []
    cfg = directory / config.CONFIG_NAME
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if not cfg.exists():
            cfg.write_text(config.render_default_config(), encoding="utf-8")
            created.append(config.CONFIG_NAME)
        settings = config.load_settings(cfg)
        for folder in (settings.warcs_path, settings.manifests_path):
            if not folder.exists():
                folder.mkdir(parents=True)
                created.append(folder.name + "/")
    except OSError as exc:  # a read-only disk, a path through a file, no permission
        raise ArchiveWriteError(
            f"cannot create an archive in {directory}: {exc.strerror or exc}"
        ) from exc
    store = open_store(settings.database_url, create=True)
    try:
        if getattr(store, "created_steps", 0):
            created.append("store")
    finally:
        store.close()
    try:  # issue 21: the signing key, never replaced (an archive made before has none)
        if signing.create_key(signing.key_path(settings.root, settings.evidence.signing_key)):
            created.append(settings.evidence.signing_key)
    except OSError as exc:
        raise ArchiveWriteError(f"cannot create the signing key: {exc.strerror or exc}") from exc
    return cfg, created
