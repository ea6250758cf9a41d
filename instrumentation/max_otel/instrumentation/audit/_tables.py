"""SQLAlchemy Core descriptions of the audit tables (created by ``schema.sql``, not here)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, DateTime, FetchedValue, MetaData, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

conversation_events = Table(
    "conversation_events",
    metadata,
    # id, created_at and the hashes are set by the database (default and chain trigger).
    Column("id", BigInteger, primary_key=True, server_default=FetchedValue()),
    Column("event_type", Text, nullable=False),
    Column("actor_type", Text, nullable=False),
    Column("actor_id", Text),
    Column("conversation_id", Text),
    # none_as_null: a Python None is SQL NULL, not the JSON value null.
    Column("old_value", JSONB(none_as_null=True)),
    Column("new_value", JSONB(none_as_null=True)),
    Column("created_at", DateTime(timezone=True), primary_key=True, server_default=FetchedValue()),
    Column("prev_hash", Text, nullable=False, server_default=FetchedValue()),
    Column("row_hash", Text, nullable=False, server_default=FetchedValue()),
)

chain_heads = Table(
    "conversation_events_chain_heads",
    metadata,
    Column("chain_month", Date, primary_key=True),
    Column("last_id", BigInteger),
    Column("last_hash", Text, nullable=False),
    Column("row_count", BigInteger, nullable=False),
)

archive_log = Table(
    "conversation_events_archive_log",
    metadata,
    Column("chain_month", Date, primary_key=True),
    Column("partition_name", Text, nullable=False),
    Column("file_name", Text, nullable=False),
    Column("file_sha256", Text, nullable=False),
    Column("row_count", BigInteger, nullable=False),
    Column("first_id", BigInteger),
    Column("last_id", BigInteger),
    Column("last_row_hash", Text, nullable=False),
    Column("archived_at", DateTime(timezone=True)),
    Column("archived_by", Text),
)
