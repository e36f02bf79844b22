"""pytest plugin: ``pytest_plugins = ["tests.web.fixtures"]``.

``fixture_web`` is started once per session; ``web`` hands the same servers to one test
in a known state ("now", no hits, fresh counters), so a test may switch the world freely.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.web import Web, start_web


@pytest.fixture(scope="session")
def fixture_web() -> Iterator[Web]:
    with start_web() as web:
        yield web


@pytest.fixture
def web(fixture_web: Web) -> Iterator[Web]:
    fixture_web.reset()
    yield fixture_web
    fixture_web.reset()  # tests using fixture_web directly see "now" too


@pytest.fixture
def web_env(web: Web, monkeypatch: pytest.MonkeyPatch) -> Web:
    """``web``, with the proxy and CA variables set in ``os.environ`` for this test."""
    for name, value in web.env().items():
        monkeypatch.setenv(name, value)
    return web
