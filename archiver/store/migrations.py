"""The versioned migration steps: each brings a store from version N-1 to N.

Only portable SQL: the same steps run on SQLite (default) and PostgreSQL. A step adds
what is missing and nothing else, so a store created at v1 from today's tables (which
already has every column) passes through them unchanged.
"""

from __future__ import annotations

from sqlalchemy import JSON, inspect, text

from archiver.store.schema import (
    check,
    host_gate,
    ix_article_added,
    metadata,
    review,
    screenshot,
    snapshot,
    snapshot_reuse,
    timestamp_token,
    user_account,
    warc_file,
)


def _v1(conn) -> None:
    metadata.create_all(conn)


def _v2(conn) -> None:
    host_gate.create(conn, checkfirst=True)


def _v3(conn) -> None:
    if "stat" not in {c["name"] for c in inspect(conn).get_columns("intake_seen")}:
        conn.execute(text("ALTER TABLE intake_seen ADD COLUMN stat VARCHAR(96)"))


def _v4(conn) -> None:
    """Judgement reasons on snapshot and check rows (issue 17): a nullable JSON column,
    added where missing (a store created at v1 by this code already has it)."""
    kind = JSON().compile(dialect=conn.dialect)
    quote = conn.dialect.identifier_preparer.quote
    for table in ("snapshot", "check"):
        have = {c["name"] for c in inspect(conn).get_columns(table)}
        if "reasons" not in have:
            conn.execute(text(f"ALTER TABLE {quote(table)} ADD COLUMN reasons {kind}"))


def _v5(conn) -> None:
    """`ledger_seq` on every row the ledger describes (issue #22): the seq of the row's
    ledger line. Rows stored before have none; the next recovery gives them one."""
    existing = inspect(conn)
    quote = conn.dialect.identifier_preparer.quote
    for table in (snapshot, check, review, warc_file):
        if "ledger_seq" not in {c["name"] for c in existing.get_columns(table.name)}:
            conn.exec_driver_sql(f"ALTER TABLE {quote(table.name)} ADD COLUMN ledger_seq BIGINT")
        for index in table.indexes:
            if index.name == f"ix_{table.name}_ledger_seq":
                index.create(conn, checkfirst=True)


def _v6(conn) -> None:
    """`archive serve`: its accounts and its article-list index."""
    user_account.create(conn, checkfirst=True)
    ix_article_added.create(conn, checkfirst=True)


def _v7(conn) -> None:
    """Requisite reuse: resource.status (what may be reused) and snapshot_reuse."""
    columns = {c["name"] for c in inspect(conn).get_columns("resource")}
    if "status" not in columns:  # a store created at version 1 from today's tables has it
        conn.execute(text("ALTER TABLE resource ADD COLUMN status INTEGER"))
    snapshot_reuse.create(conn, checkfirst=True)


def _v8(conn) -> None:
    """intake_source.claimed_by: a killed intake's feed is given back at once."""
    if "claimed_by" not in {c["name"] for c in inspect(conn).get_columns("intake_source")}:
        conn.execute(text("ALTER TABLE intake_source ADD COLUMN claimed_by VARCHAR(128)"))


def _v9(conn) -> None:
    """Trusted timestamps (issue 21): the timestamp_token table."""
    timestamp_token.create(conn, checkfirst=True)


def _v10(conn) -> None:
    """Screenshots of snapshots (issue 20)."""
    screenshot.create(conn, checkfirst=True)
    # a development store made before screenshot rows carried their line's seq
    if "ledger_seq" not in {c["name"] for c in inspect(conn).get_columns("screenshot")}:
        conn.execute(text("ALTER TABLE screenshot ADD COLUMN ledger_seq BIGINT"))
    for index in screenshot.indexes:
        index.create(conn, checkfirst=True)


def _v11(conn) -> None:
    """The snapshot's evidence summary (issue 21): a nullable JSON column, added where
    missing (a store created at v1 by this code already has it). Snapshots stored
    before have none: their WARCs hold no connection evidence."""
    if "evidence" not in {c["name"] for c in inspect(conn).get_columns("snapshot")}:
        kind = JSON().compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE snapshot ADD COLUMN evidence {kind}"))


# Each entry brings a store from version N-1 to N; append, never edit.
MIGRATIONS = {
    **{1: _v1, 2: _v2, 3: _v3, 4: _v4, 5: _v5, 6: _v6, 7: _v7},
    **{8: _v8, 9: _v9, 10: _v10, 11: _v11},
}
