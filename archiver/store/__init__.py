"""The store: SQLAlchemy Core tables and queries (SQLite by default, PostgreSQL to scale)."""

from archiver.store.core import Store, open_store, utcnow

__all__ = ["Store", "open_store", "utcnow"]
