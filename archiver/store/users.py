"""Accounts of `archive serve`: a name, a role and an argon2 password hash.

Hashing and checking passwords is not the store's business (`archiver.users` does it);
the store keeps and returns the hash as given.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from archiver.errors import UsageError
from archiver.store import schema as t


class UsersMixin:
    def add_user(self, name: str, role: str, password_hash: str) -> datetime:
        """Create an account; a name already taken is a usage error. Returns its creation time."""
        now = self.clock()
        u = t.user_account
        with self.tx() as conn:
            self.lock(conn, "users")
            if conn.execute(select(u.c.name).where(u.c.name == name)).first():
                raise UsageError(f"user {name!r} already exists (see `archive user list`)")
            conn.execute(
                u.insert().values(
                    name=name,
                    role=role,
                    password_hash=password_hash,
                    created_at=now,
                    password_changed_at=now,
                )
            )
        return now

    def user_rows(self) -> list:
        """Every account (name, role, created_at, password_changed_at), by name."""
        u = t.user_account
        q = select(u.c.name, u.c.role, u.c.created_at, u.c.password_changed_at).order_by(u.c.name)
        with self.read() as conn:
            return conn.execute(q).all()

    def user_row(self, name: str):
        """One account with its password hash, or None."""
        with self.read() as conn:
            return conn.execute(select(t.user_account).where(t.user_account.c.name == name)).first()

    def user_count(self) -> int:
        with self.read() as conn:
            return conn.execute(select(func.count()).select_from(t.user_account)).scalar_one()

    def remove_user(self, name: str) -> None:
        u = t.user_account
        with self.tx() as conn:
            if conn.execute(u.delete().where(u.c.name == name)).rowcount == 0:
                raise UsageError(f"no user {name!r} (see `archive user list`)")

    def set_password_hash(self, name: str, password_hash: str) -> datetime:
        """Replace an account's hash; sessions signed in before now end. Returns now."""
        now = self.clock()
        u = t.user_account
        with self.tx() as conn:
            done = conn.execute(
                u.update()
                .where(u.c.name == name)
                .values(password_hash=password_hash, password_changed_at=now)
            )
            if done.rowcount == 0:
                raise UsageError(f"no user {name!r} (see `archive user list`)")
        return now
