"""The store: SQLAlchemy Core tables and queries (SQLite by default, PostgreSQL to scale)."""

from archiver.store.core import Store, open_store

__all__ = ["Store", "open_store"]
