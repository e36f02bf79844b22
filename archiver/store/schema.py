"""Tables (SQLAlchemy Core), as of SCHEMA_VERSION (the steps to it: `store.migrations`).

Only portable SQL: the same schema runs on SQLite (default) and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import DateTime, TypeDecorator

from archiver.states import CaptureState, CitationRole, ReviewState

# the version these tables are; `store.migrations.MIGRATIONS` has one step to each
SCHEMA_VERSION = 11


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

article = Table(
    "article",
    metadata,
    Column("id", String(48), primary_key=True),
    Column("source", Text, nullable=False),
    Column("source_url", Text, nullable=True),
    Column("kind", String(16), nullable=False),
    Column("title", Text, nullable=False, default=""),
    Column("added_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("manifest_dirty", Boolean, nullable=False, default=True),
    Index("ix_article_source_url", "source_url"),
    Index("ix_article_sha256", "sha256"),
)

target = Table(
    "target",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("url", Text, nullable=False, unique=True),
    Column("host", String(255), nullable=False),
    Column("capture_state", String(16), nullable=False, default=CaptureState.PENDING),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("next_capture_at", UTCDateTime, nullable=True),
    Column("next_check_at", UTCDateTime, nullable=True),
    Column("rot", String(16), nullable=True),
    Column("dead", Boolean, nullable=False, default=False),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("first_failure_at", UTCDateTime, nullable=True),
    Column("recapture", Boolean, nullable=False, default=False),
    Column("claimed_by", String(128), nullable=True),
    Column("claimed_until", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_target_capture_due", "capture_state", "next_capture_at"),
    Index("ix_target_check_due", "next_check_at"),
)

citation = Table(
    "citation",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("article_id", String(48), ForeignKey("article.id"), nullable=False),
    Column("n", Integer, nullable=False),
    Column("target_id", Integer, ForeignKey("target.id"), nullable=False),
    Column("url_as_written", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("context", Text, nullable=False, default=""),
    Column("role", String(16), nullable=False, default=CitationRole.CITED),
    UniqueConstraint("article_id", "target_id", name="uq_citation_article_target"),
    UniqueConstraint("article_id", "n", name="uq_citation_article_n"),
    Index("ix_citation_target", "target_id"),
)

snapshot = Table(
    "snapshot",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("target_id", Integer, ForeignKey("target.id"), nullable=False),
    Column("captured_at", UTCDateTime, nullable=False),
    Column("warc", Text, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("length", BigInteger, nullable=False),
    Column("record_id", String(64), nullable=False),
    Column("record_type", String(16), nullable=False, default="response"),
    Column("status", Integer, nullable=True),
    Column("final_url", Text, nullable=False),
    Column("redirects", JSON, nullable=False, default=list),
    Column("content_type", Text, nullable=True),
    Column("payload_digest", String(80), nullable=True),
    Column("warc_payload_digest", String(80), nullable=True),
    Column("size", BigInteger, nullable=False, default=0),
    Column("title", Text, nullable=True),
    Column("text", Text, nullable=True),
    Column("text_fingerprint", String(80), nullable=True),
    Column("resources", Integer, nullable=False, default=0),
    Column("revisit_of", Integer, ForeignKey("snapshot.id"), nullable=True),
    Column("truncated", Boolean, nullable=False, default=False),
    Column("good", Boolean, nullable=False, default=False),
    Column("quality", String(32), nullable=True),
    # the judgement's evidence: [{"rule": …, "detail": …}, …], strongest first (v4)
    Column("reasons", JSON, nullable=True),
    Column("ledger_seq", BigInteger, nullable=True),  # its ledger line's seq
    # the evidence summary (issue 21, v11): `evidence.summary.snapshot_evidence`
    Column("evidence", JSON, nullable=True),
    Index("ix_snapshot_target", "target_id", "captured_at"),
    Index("ix_snapshot_digest", "target_id", "payload_digest"),
    Index("ix_snapshot_ledger_seq", "ledger_seq"),
)

check = Table(
    "check",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("target_id", Integer, ForeignKey("target.id"), nullable=False),
    Column("checked_at", UTCDateTime, nullable=False),
    Column("status", Integer, nullable=True),
    Column("final_url", Text, nullable=True),
    Column("redirects", JSON, nullable=False, default=list),
    Column("classification", String(16), nullable=False),
    Column("similarity", Float, nullable=True),
    Column("error", Text, nullable=True),
    Column("reasons", JSON, nullable=True),  # as snapshot.reasons (v4)
    Column("ledger_seq", BigInteger, nullable=True),
    Index("ix_check_target", "target_id", "checked_at"),
    Index("ix_check_ledger_seq", "ledger_seq"),
)

# Every response record written (requisites included), for revisit de-duplication:
# the same URL with the same document digest is written again as a revisit record.
resource = Table(
    "resource",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("url", Text, nullable=False),
    Column("payload_digest", String(80), nullable=False),
    Column("warc_payload_digest", String(80), nullable=False),
    Column("record_id", String(64), nullable=False),
    Column("warc_date", String(40), nullable=False),
    Column("warc", Text, nullable=False),
    Column("offset", BigInteger, nullable=False),
    # HTTP status of a complete response (null: cut short, or stored before version 3);
    # a 2xx here is what a later capture may reuse (capture.reuse_window)
    Column("status", Integer, nullable=True),
    Index("ix_resource_url_digest", "url", "payload_digest"),
)

# The requisites a snapshot relies on without having fetched them (capture.reuse_window):
# the copy it uses, which may sit in another WARC file.
snapshot_reuse = Table(
    "snapshot_reuse",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("snapshot_id", Integer, ForeignKey("snapshot.id"), nullable=False),
    Column("url", Text, nullable=False),
    Column("record_id", String(64), nullable=False),
    Column("warc", Text, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("warc_date", String(40), nullable=False),
    Index("ix_snapshot_reuse_snapshot", "snapshot_id"),
)

review = Table(
    "review",
    metadata,
    Column("citation_id", Integer, ForeignKey("citation.id"), primary_key=True),
    Column("state", String(16), nullable=False, default=ReviewState.PENDING),
    Column("note", Text, nullable=True),
    Column("by", String(128), nullable=True),
    Column("at", UTCDateTime, nullable=True),
    Column("ledger_seq", BigInteger, nullable=True),  # the line of the current decision
    Index("ix_review_ledger_seq", "ledger_seq"),
)

warc_file = Table(
    "warc_file",
    metadata,
    Column("path", Text, primary_key=True),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("size", BigInteger, nullable=True),
    Column("sha256", String(64), nullable=True),
    Column("records", Integer, nullable=False, default=0),
    Column("writer", String(128), nullable=True),
    Column("ledger_seq", BigInteger, nullable=True),
    Index("ix_warc_file_ledger_seq", "ledger_seq"),
)

heartbeat = Table(
    "heartbeat",
    metadata,
    Column("job", String(32), primary_key=True),
    Column("worker", String(128), nullable=True),
    Column("last_run_at", UTCDateTime, nullable=True),
    Column("last_ok_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("summary", Text, nullable=True),
)

intake_source = Table(
    "intake_source",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("location", Text, nullable=False),
    Column("etag", Text, nullable=True),
    Column("last_modified", Text, nullable=True),
    Column("last_poll_at", UTCDateTime, nullable=True),
    Column("next_poll_at", UTCDateTime, nullable=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("new_articles", Integer, nullable=False, default=0),
    # the worker polling the feed now (its next_poll_at is the claim's lease end): a
    # worker found dead gives the feed back at once (schema 8)
    Column("claimed_by", String(128), nullable=True),
    UniqueConstraint("kind", "location", name="uq_intake_source"),
)

intake_seen = Table(
    "intake_seen",
    metadata,
    Column("source_id", Integer, ForeignKey("intake_source.id"), primary_key=True),
    Column("key", String(512), primary_key=True),
    Column("fingerprint", String(64), nullable=True),
    Column("seen_at", UTCDateTime, nullable=False),
    Column("article_id", String(48), nullable=True),
    Column("error", Text, nullable=True),
    # a folder file's size, mtime and inode when it was hashed: unchanged, it is not
    # read again (schema 3)
    Column("stat", String(96), nullable=True),
)

# Per-host politeness shared by every worker on a PostgreSQL store: when the next request
# to a host may start (seconds since the epoch, on the database server's clock). Only
# `archiver.store.hostgate` uses it; on SQLite the in-process gate is enough.
host_gate = Table(
    "host_gate",
    metadata,
    Column("host", String(255), primary_key=True),
    Column("next_start", Float, nullable=False),
)


# Accounts of `archive serve` (editors and viewers); `archive user` manages them. The
# password is an argon2 hash (PHC string); the plain password is never stored.
# `password_changed_at` ends every session signed in before a password change.
user_account = Table(
    "user_account",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("password_changed_at", UTCDateTime, nullable=False),
)

# RFC 3161 timestamp tokens (issue 21), one per subject: a closed WARC file (``name`` its
# root-relative path) or a ledger line (``name`` "ledger.jsonl#SEQ"); ``sha256`` is the
# subject's digest the token's message imprint must equal. A row without a token is
# queued: ``next_try`` says when the next attempt is due. ``token`` is the whole
# TimeStampResp (DER, base64: every table stays JSON-copyable by `archive migrate`).
timestamp_token = Table(
    "timestamp_token",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("name", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("queued_at", UTCDateTime, nullable=False),
    Column("tsa", Text, nullable=True),
    Column("token", Text, nullable=True),
    Column("gen_time", UTCDateTime, nullable=True),
    Column("file", Text, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_try", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("ledger_seq", BigInteger, nullable=True),  # the line naming the token
    UniqueConstraint("kind", "name", name="uq_timestamp_token_subject"),
)

# A screenshot of a snapshot as replayed from the archive (issue 20): a `resource`
# record in a WARC file of its own; one per snapshot at most.
screenshot = Table(
    "screenshot",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("snapshot_id", Integer, ForeignKey("snapshot.id"), nullable=False, unique=True),
    Column("taken_at", UTCDateTime, nullable=False),
    Column("warc", Text, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("length", BigInteger, nullable=False),
    Column("record_id", String(64), nullable=False),
    Column("digest", String(80), nullable=False),  # sha256 of the PNG bytes
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("ledger_seq", BigInteger, nullable=True),  # its ledger line's seq (issue 22's rule)
    Index("ix_screenshot_ledger_seq", "ledger_seq"),
)

# The editors' article list (`archive serve`) pages through articles newest first.
ix_article_added = Index("ix_article_added", article.c.added_at, article.c.id)
