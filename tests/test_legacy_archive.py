"""An archive made by the release before ledger pairs (schema v2, issue #22) still
verifies after the upgrade, and tampering with its old rows is still found.

`tests/legacy/pre-v5-archive.tar.gz` was made by that release (commit d2fb6b3) against
the offline web: `archive init`, `add` of an article citing two pages, `check --all`,
`review …:1 --approve`; its store, WARC file and ledger are kept as they were written.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import insert, select, update

from archiver.app import load_app
from archiver.cli import cli
from archiver.ledger import ledger_for
from archiver.ledger.pairs import complete_pairs
from archiver.manifest.verify import verify
from archiver.store import schema as t

LEGACY = Path(__file__).parent / "legacy" / "pre-v5-archive.tar.gz"


@pytest.fixture
def legacy(tmp_path):
    with tarfile.open(LEGACY) as tar:
        tar.extractall(tmp_path, filter="data")
    app = load_app(str(tmp_path / "config.toml"))
    yield app
    app.close()


def _problems(app) -> list[str]:
    return [str(p) for p in verify(app).problems]


def test_an_upgraded_archive_verifies_as_it_did_before(legacy):
    result = CliRunner().invoke(
        cli, ["--config", str(legacy.root / "config.toml"), "verify"], obj={}
    )
    assert result.exit_code == 0, result.output
    assert "all hold" in result.output


def test_a_changed_old_check_row_is_found(legacy):
    with legacy.store.tx() as conn:
        conn.execute(update(t.check).where(t.check.c.id == 1).values(classification="gone"))
    problems = _problems(legacy)
    assert any("disagrees with the store on classification" in p for p in problems), problems


def test_an_invented_old_check_row_is_found(legacy):
    with legacy.store.tx() as conn:
        row = conn.execute(select(t.check).where(t.check.c.id == 1)).mappings().one()
        when = row["checked_at"].replace(year=2025)
        conn.execute(insert(t.check).values({**row, "id": 99, "checked_at": when}))
    problems = _problems(legacy)
    assert any(p.startswith("check 99") and "no ledger line" in p for p in problems), problems


def test_a_changed_old_snapshot_row_is_still_found(legacy):
    with legacy.store.tx() as conn:
        conn.execute(
            update(t.snapshot).where(t.snapshot.c.id == 1).values(length=t.snapshot.c.length + 1)
        )
    assert any("disagrees with the store on length" in p for p in _problems(legacy))


def test_the_next_writer_gives_old_rows_their_lines_and_verify_still_holds(legacy):
    ledger = ledger_for(legacy.settings)
    before = len(ledger.path.read_bytes().splitlines())
    added = complete_pairs(ledger, legacy.store)
    lines = [json.loads(x) for x in ledger.path.read_bytes().splitlines()]
    assert added == len(lines) - before > 0
    assert all(obj.get("recovered") for obj in lines[before:])
    assert _problems(legacy) == []
