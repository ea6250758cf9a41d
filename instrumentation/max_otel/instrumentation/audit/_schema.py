"""Installing the audit schema and managing its monthly partitions.

The schema (``schema.sql``, shipped with the package) is installed by the table owner::

    with owner_engine.begin() as connection:
        install_schema(connection, app_role="max_app", months_ahead=3)

Partitions cover one UTC month each and are named ``conversation_events_yYYYYmMM``;
:func:`create_partitions` adds the ones missing (run it monthly, e.g. from the same job that
archives, or rely on the store, which creates the month it needs on first write).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import resources

from sqlalchemy import Connection, TextClause, text

from max_otel.instrumentation.audit.errors import SchemaError

_ROLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_PARTITION_NAME = re.compile(r"^conversation_events_y(\d{4})m(\d{2})$")
_DEFAULT_MONTHS_AHEAD = 3


@dataclass(frozen=True)
class Partition:
    """One monthly partition: its table name and the first day of its month (UTC)."""

    name: str
    month: date


def schema_sql(app_role: str) -> str:
    """The packaged ``schema.sql`` with ``app_role`` substituted, as a quoted identifier."""
    if not _ROLE_NAME.match(app_role):
        raise ValueError(
            "app_role must be a plain role name (letters, digits, underscores, at most 63); "
            f"got {app_role!r}"
        )
    script = resources.files(__package__).joinpath("schema.sql").read_text(encoding="utf-8")
    return script.replace("{{app_role}}", f'"{app_role}"')


def month_start(moment: date | datetime) -> date:
    """The first day of the UTC month containing ``moment``."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError(f"moment must be timezone-aware; got {moment!r}")
        moment = moment.astimezone(UTC).date()
    return moment.replace(day=1)


def add_months(month: date, months: int) -> date:
    """``month`` (a first day) moved by ``months`` (may be negative)."""
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def install_schema(
    connection: Connection, *, app_role: str, months_ahead: int = _DEFAULT_MONTHS_AHEAD
) -> list[str]:
    """Install or upgrade the schema as the current (owner) role; return partitions created.

    The role ``app_role`` must exist. Creates this month's partition and ``months_ahead``
    more. Runs in the caller's transaction.
    """
    script = schema_sql(app_role)  # validates the name first
    exists = connection.execute(
        text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": app_role}
    ).first()
    if exists is None:
        raise SchemaError(
            f"role {app_role!r} does not exist: create it first "
            f"(CREATE ROLE {app_role} LOGIN PASSWORD '...'), then install again"
        )
    cursor = connection.connection.cursor()
    try:
        cursor.execute(script)
    finally:
        cursor.close()
    return create_partitions(connection, month_start(datetime.now(UTC)), months=months_ahead + 1)


def create_partitions(connection: Connection, first_month: date, *, months: int) -> list[str]:
    """Create the missing partitions of ``months`` months from ``first_month``; return names."""
    if not 1 <= months <= 120:
        raise ValueError(f"months must be between 1 and 120; got {months}")
    rows = connection.execute(
        text("SELECT conversation_events_create_partitions(:first, :months)"),
        {"first": month_start(first_month), "months": months},
    )
    return [row[0] for row in rows]


def list_partitions(connection: Connection) -> list[Partition]:
    """The partitions attached to ``conversation_events``, oldest month first."""
    rows = connection.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass('public.conversation_events')"
        )
    )
    partitions = []
    for (name,) in rows:
        match = _PARTITION_NAME.match(name)
        if match:
            partitions.append(Partition(name, date(int(match[1]), int(match[2]), 1)))
    return sorted(partitions, key=lambda partition: partition.month)


def partition_name(month: date) -> str:
    """The partition table name of ``month``."""
    return f"conversation_events_y{month.year:04d}m{month.month:02d}"


def month_bounds(month: date) -> dict[str, datetime]:
    """``{"start": ..., "end": ...}``: the UTC range of ``month``, for :func:`month_rows_query`."""
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    following = add_months(month, 1)
    return {"start": start, "end": datetime(following.year, following.month, 1, tzinfo=UTC)}


def month_rows_query() -> TextClause:
    """One month's rows in chain order, with the JSON values as their stored text.

    Read through the parent table (the application role has no privilege on partitions);
    the range on ``created_at`` prunes to the one partition.
    """
    return text(
        "SELECT id, created_at, event_type, actor_type, actor_id, conversation_id, "
        "old_value::text AS old_value, new_value::text AS new_value, prev_hash, row_hash "
        "FROM public.conversation_events "
        "WHERE created_at >= :start AND created_at < :end ORDER BY id"
    )
