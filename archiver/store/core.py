"""Opening the store, migrations, transactions; `Store` gathers the query mixins."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, event, func, inspect, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DatabaseError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import QueuePool

from archiver.errors import StoreError
from archiver.store import schema as t
from archiver.store.articles import ArticlesMixin
from archiver.store.audit import AuditMixin
from archiver.store.browse import BrowseMixin
from archiver.store.captures import CapturesMixin
from archiver.store.checks import ChecksMixin
from archiver.store.daemon import DaemonMixin
from archiver.store.histories import HistoriesMixin
from archiver.store.imports import ImportsMixin
from archiver.store.intake import IntakeMixin
from archiver.store.ledgered import LedgeredMixin
from archiver.store.migrations import MIGRATIONS
from archiver.store.overview import OverviewMixin
from archiver.store.recovery import RecoveryMixin
from archiver.store.reviews import ReviewsMixin
from archiver.store.schedule import ScheduleMixin
from archiver.store.screenshots import ScreenshotsMixin
from archiver.store.stamps import StampsMixin
from archiver.store.users import UsersMixin
from archiver.store.warcs import WarcFilesMixin
from archiver.store.work import WorkMixin
from archiver.times import Clock, now

logger = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
    dbapi_conn.isolation_level = None


def _sqlite_begin(conn: Connection) -> None:
    # pysqlite's own transaction handling is off (isolation_level=None); a write
    # transaction takes the lock at BEGIN so two writers queue (busy_timeout) instead
    # of failing with "database is locked" when a reader upgrades to a writer.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")


def make_engine(url: str) -> Engine:
    try:
        if url.startswith("sqlite"):
            # A pool of connections, each used by one thread at a time (as SQLAlchemy does
            # for file databases); opening one per query (NullPool) cost ~1 ms of CPU each,
            # once per fetched response during a capture. max_overflow=-1: a busy moment
            # opens extra connections instead of waiting for one. WAL lets readers run
            # beside the one writer and busy_timeout queues writers instead of failing.
            engine = create_engine(
                url,
                poolclass=QueuePool,
                pool_size=8,
                max_overflow=-1,
                connect_args={"timeout": 60, "check_same_thread": False},
            )
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin)
            return engine
        # PostgreSQL: up to 16 connections kept open (opened as needed); a busier moment
        # opens more rather than waiting, since a thread holding a politeness slot keeps
        # its connection for the whole request (about two per busy capture/check thread).
        # The server's max_connections is the limit; pre-ping survives a server restart.
        return create_engine(url, pool_pre_ping=True, pool_size=16, max_overflow=-1)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StoreError(f"store: cannot open {url!r}: {exc}") from exc


class BaseStore:
    def __init__(self, engine: Engine, *, clock: Clock = now) -> None:
        self.engine = engine
        self.clock = clock
        # the archive's signing key, named in manifests' evidence summaries (set by the
        # App that opened the store: the store does not know the archive's folder)
        self.signing_fingerprint: str | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def upsert(self, table):
        """The dialect's INSERT (with on_conflict_do_*), imported only for the store in use."""
        if self.is_sqlite:
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        return insert(table)

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        """One short transaction; SQLAlchemy errors become StoreError."""
        try:
            with self.engine.connect() as conn:
                conn.info["write"] = True
                try:
                    with conn.begin():
                        yield conn
                finally:
                    conn.info["write"] = False
        except OperationalError as exc:
            raise StoreError(f"store: {exc.orig}") from exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except OperationalError as exc:
            raise StoreError(f"store: {exc.orig}") from exc

    def lock(self, conn: Connection, name: str) -> None:
        """Serialise this write transaction with every other one taking lock ``name``.

        SQLite needs nothing: BEGIN IMMEDIATE already gives a write transaction the
        database's one write lock. PostgreSQL: a transaction-level advisory lock, held
        across every worker on every machine until COMMIT/ROLLBACK.
        """
        if not self.is_sqlite:
            conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"archiver:{name}"))))

    # ------------------------------------------------------------ schema

    def schema_version(self) -> int:
        with self.read() as conn:
            return _version_in(conn)

    def migrate(self) -> int:
        """Bring the schema to SCHEMA_VERSION; returns the number of steps applied."""
        current = self.schema_version()
        if current > t.SCHEMA_VERSION:
            raise StoreError(
                f"store: schema version {current} is newer than this archiver "
                f"({t.SCHEMA_VERSION}); upgrade archiver"
            )
        steps = 0
        for version in range(current + 1, t.SCHEMA_VERSION + 1):
            with self.tx() as conn:
                # workers starting together on an old store: one migrates, the rest wait
                self.lock(conn, "migrate")
                if _version_in(conn) >= version:
                    continue
                MIGRATIONS[version](conn)
                conn.execute(t.meta.delete().where(t.meta.c.key == "schema_version"))
                conn.execute(t.meta.insert().values(key="schema_version", value=str(version)))
            steps += 1
            logger.info("store migrated to schema %d", version)
        return steps

    def require_schema(self) -> None:
        version = self.schema_version()
        if version == 0:
            raise StoreError("store: no archive schema here (run `archive init`)")
        if version != t.SCHEMA_VERSION:
            self.migrate()

    def close(self) -> None:
        self.engine.dispose()


def _version_in(conn: Connection) -> int:
    if not inspect(conn).has_table("meta"):
        return 0
    row = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "schema_version"))
    value = row.scalar()
    return int(value) if value else 0


class Store(
    ArticlesMixin,
    HistoriesMixin,
    OverviewMixin,
    AuditMixin,
    WarcFilesMixin,
    ScheduleMixin,
    ReviewsMixin,
    WorkMixin,
    CapturesMixin,
    RecoveryMixin,
    ChecksMixin,
    DaemonMixin,
    IntakeMixin,
    ImportsMixin,
    LedgeredMixin,
    StampsMixin,
    UsersMixin,
    BrowseMixin,
    ScreenshotsMixin,
    BaseStore,
):
    """The archive's database: articles, citations, targets, snapshots, checks, reviews,
    and the accounts of `archive serve`."""


def open_store(url: str, *, clock: Clock = now, create: bool = False) -> Store:
    store = Store(make_engine(url), clock=clock)
    try:
        if create:
            store.created_steps = store.migrate()
        else:
            store.require_schema()
    except DatabaseError as exc:  # OperationalError, or "file is not a database"
        raise StoreError(f"store: cannot open {url!r}: {exc.orig}") from exc
    return store
