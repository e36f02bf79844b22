"""`archive migrate`: copy an archive's store to another database, and prove the copy.

The usual move is SQLite → PostgreSQL when an archive outgrows one machine::

    archive migrate --from sqlite:///archive.db --to postgresql+psycopg://archiver@db/archive

The destination gets the schema first (the same migrations `archive init` runs). Then
every table is copied in foreign-key order, each in primary-key order, in batches, one
transaction per batch. A row whose key is already there is skipped, so a second run
copies nothing and an interrupted run can simply be started again. PostgreSQL sequences
are moved past the copied ids, so new rows get new ids. Finally both sides are compared
table by table: the row count, and a SHA-256 over every row (canonical JSON, in key
order). Any difference — a row that was already there with other values, say — is
reported, and the command fails.

Stop the workers first: rows written during the copy are missed, and the comparison
says so. Opening the source brings its schema up to date, as every command does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import String, Table, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError

from archiver.errors import StoreError, UsageError
from archiver.store import schema as t
from archiver.store.core import Store, open_store
from archiver.times import iso_micro

# runtime state of the workers, not part of the archive: never copied
TRANSIENT = frozenset({"host_gate"})


@dataclass(frozen=True, kw_only=True)
class TableReport:
    """One table after the copy: counts and checksums on both sides."""

    table: str
    source_rows: int
    dest_rows: int
    copied: int
    source_sha256: str
    dest_sha256: str

    @property
    def ok(self) -> bool:
        return self.source_rows == self.dest_rows and self.source_sha256 == self.dest_sha256


def safe_url(url: str) -> str:
    """The URL as it may be printed: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: the store will say so when opened
        return url


def tables() -> list[Table]:
    """Every archive table, parents before children (foreign keys)."""
    return [tbl for tbl in t.metadata.sorted_tables if tbl.name not in TRANSIENT]


def migrate_store(source_url: str, dest_url: str, *, batch: int = 1000) -> list[TableReport]:
    """Copy every table from ``source_url`` into ``dest_url``, then compare them."""
    if source_url == dest_url:
        raise UsageError("migrate: --from and --to are the same store")
    source = open_store(source_url)
    try:
        dest = open_store(dest_url, create=True)
        try:
            reports = [_migrate_table(source, dest, tbl, batch) for tbl in tables()]
            if not dest.is_sqlite:
                with dest.tx() as conn:
                    reset_sequences(conn)
            return reports
        finally:
            dest.close()
    finally:
        source.close()


def _migrate_table(source: Store, dest: Store, table: Table, batch: int) -> TableReport:
    before = _count(dest, table)
    _copy(source, dest, table, batch)
    src_rows, src_sha = digest(source, table)
    dst_rows, dst_sha = digest(dest, table)
    return TableReport(
        table=table.name,
        source_rows=src_rows,
        dest_rows=dst_rows,
        copied=dst_rows - before,
        source_sha256=src_sha,
        dest_sha256=dst_sha,
    )


# ---------------------------------------------------------------- copying


def _count(store: Store, table: Table) -> int:
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _copy(source: Store, dest: Store, table: Table, batch: int) -> None:
    insert = (postgresql if not dest.is_sqlite else sqlite).insert(table)
    insert = insert.on_conflict_do_nothing()  # a key already there: skipped, then compared
    query = select(table).order_by(*key_order(table, source.is_sqlite))
    with source.read() as src:
        result = src.execution_options(yield_per=batch).execute(query)
        for rows in result.partitions():
            try:
                with dest.tx() as dst:
                    dst.execute(insert, [row._asdict() for row in rows])
            except DBAPIError as exc:
                raise StoreError(f"migrate: table {table.name}: {exc.orig}") from exc


def reset_sequences(conn: Connection) -> None:
    """PostgreSQL: each serial id's sequence continues after the largest copied id."""
    prep = conn.dialect.identifier_preparer
    for table in tables():
        pk = table.autoincrement_column
        if pk is None:
            continue
        name, col = prep.format_table(table), prep.quote(pk.name)
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                f"coalesce((SELECT max({col}) FROM {name}), 0) + 1, false)"
            ),
            {"table": name, "column": pk.name},
        )


# ---------------------------------------------------------------- comparing


def key_order(table: Table, is_sqlite: bool) -> list:
    """ORDER BY for a table's key, the same on both backends: text compared byte-wise
    (SQLite's BINARY; PostgreSQL's "C" collation, which is UTF-8 byte order too)."""
    columns = list(table.primary_key.columns) or list(table.columns)
    if is_sqlite:
        return columns
    return [c.collate("C") if isinstance(c.type, String) else c for c in columns]


def _canonical(value):
    if isinstance(value, datetime):
        return iso_micro(value.astimezone(UTC))
    raise TypeError(f"cannot serialise {type(value).__name__}")


def row_line(row) -> bytes:
    """One row as canonical JSON: the values in column order, keys of JSON values sorted."""
    return json.dumps(
        list(row), default=_canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")


def digest(store: Store, table: Table, *, batch: int = 1000) -> tuple[int, str]:
    """(rows, SHA-256 over every row in key order) of one table."""
    sha = hashlib.sha256()
    rows = 0
    query = select(table).order_by(*key_order(table, store.is_sqlite))
    with store.read() as conn:
        for part in conn.execution_options(yield_per=batch).execute(query).partitions():
            for row in part:
                sha.update(row_line(row) + b"\n")
                rows += 1
    return rows, sha.hexdigest()
