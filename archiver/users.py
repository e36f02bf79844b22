"""Accounts of `archive serve`: roles, argon2 password hashes, sign-in checks.

Passwords are hashed with argon2id (argon2-cffi's ``PasswordHasher`` defaults, the
RFC 9106 low-memory profile); only the PHC hash string is stored. Signing in with an
unknown name still runs one verification against a dummy hash, so the response time
does not tell which names exist.
"""

from __future__ import annotations

import enum
import functools
import hashlib
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from archiver.errors import UsageError

NAME_MAX = 128  # the store's column; also the reviewer names the ledger carries
PASSWORD_MIN = 8
PASSWORD_MAX = 1024  # argon2 hashes any length; a megabyte "password" is an attack

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the name is unknown (evens out the time of a failed
    sign-in). Made on first need, not at import: one argon2 hash costs ~60 ms of CPU and
    64 MiB of memory, which every `archive` command paid at start-up."""
    return _hasher.hash("not a real password; evens out the time of a failed sign-in")


class Role(enum.StrEnum):
    EDITOR = "editor"  # sees everything, approves and flags citations
    VIEWER = "viewer"  # sees everything, changes nothing


@dataclass(frozen=True, kw_only=True)
class User:
    name: str
    role: Role
    created_at: datetime
    password_changed_at: datetime
    # what a signed-in session must match: a digest of the password hash (new salt, new
    # epoch), so a password change ends sessions even within the same second
    epoch: str = ""

    @property
    def can_review(self) -> bool:
        return self.role is Role.EDITOR


def check_name(name: str) -> str:
    """A user name the store and the ledger can keep: 1–128 printable characters."""
    name = name.strip()
    if not name or len(name) > NAME_MAX or not name.isprintable():
        raise UsageError(f"a user name is 1 to {NAME_MAX} printable characters")
    return name


def check_password(password: str) -> str:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise UsageError(f"a password is {PASSWORD_MIN} to {PASSWORD_MAX} characters")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_password(password))


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _user(row) -> User:
    password_hash = row._mapping.get("password_hash")
    return User(
        name=row.name,
        role=Role(row.role),
        created_at=row.created_at,
        password_changed_at=row.password_changed_at,
        epoch=hashlib.sha256(password_hash.encode()).hexdigest()[:32] if password_hash else "",
    )


def add_user(store, name: str, password: str, role: Role = Role.EDITOR) -> User:
    name = check_name(name)
    hashed = hash_password(password)
    at = store.add_user(name, role.value, hashed)
    return User(name=name, role=role, created_at=at, password_changed_at=at)


def list_users(store) -> list[User]:
    return [_user(r) for r in store.user_rows()]


def get_user(store, name: str) -> User | None:
    row = store.user_row(name)
    return None if row is None else _user(row)


def remove_user(store, name: str) -> None:
    store.remove_user(name)


def change_password(store, name: str, password: str) -> None:
    store.set_password_hash(name, hash_password(password))


def authenticate(store, name: str, password: str) -> User | None:
    """The account if the name and password match, else None (in about the same time)."""
    row = store.user_row(name) if 0 < len(name) <= NAME_MAX else None
    if len(password) > PASSWORD_MAX:
        return None
    if row is None:
        password_matches(_dummy_hash(), password)
        return None
    return _user(row) if password_matches(row.password_hash, password) else None
