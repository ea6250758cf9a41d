"""``audit verify``: recompute the hash chain of every month and report where it breaks.

::

    with engine.connect() as connection:
        report = verify_chain(connection)
    if not report.ok:
        print(report.problems[0])      # partition, first broken row id, what is wrong

For each monthly partition, rows are read in id order (the chain's order) and each is checked
twice: its ``prev_hash`` must be the previous row's ``row_hash`` (the first row's must be the
genesis hash), and its ``row_hash`` must be the hash of its own contents. The last row must then
match the month's chain head (``conversation_events_chain_heads``: last id, last hash, row
count), which finds rows removed from the end; a month whose partition is gone must be in the
archive log with the same last hash and count.

What each finding means:

- *row_hash does not match the row's contents*: that row was changed after it was written.
- *prev_hash does not match*: the row before it in the chain was removed, or changed and
  re-hashed; the problem is reported on the first row after the gap.
- *chain head ...*: rows were removed from the end of the month, or added bypassing the
  trigger.

Verification reads only (any role with SELECT can run it) and streams rows, so memory stays
flat for a year of events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Connection, select

from max_otel.instrumentation.audit._chain import GENESIS_HASH, canonical_row, row_hash
from max_otel.instrumentation.audit._schema import (
    Partition,
    list_partitions,
    month_bounds,
    month_rows_query,
    partition_name,
)
from max_otel.instrumentation.audit._tables import archive_log, chain_heads

_DEFAULT_MAX_PROBLEMS = 100
_BATCH_ROWS = 10_000


@dataclass(frozen=True)
class ChainProblem:
    """One place where the chain is broken."""

    partition: str
    row_id: int | None
    reason: str

    def __str__(self) -> str:
        where = f"row id {self.row_id}" if self.row_id is not None else "partition"
        return f"{self.partition}: {where}: {self.reason}"


@dataclass
class ChainReport:
    """The result of a verification: what was read and what is broken."""

    partitions: int = 0
    rows: int = 0
    problems: list[ChainProblem] = field(default_factory=list)
    heads: dict[date, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class _Head:
    last_id: int | None
    last_hash: str
    row_count: int


def verify_chain(
    connection: Connection,
    *,
    months: set[date] | None = None,
    max_problems: int = _DEFAULT_MAX_PROBLEMS,
) -> ChainReport:
    """Verify the chains of all months (or of ``months``: first days) and return the report."""
    report = ChainReport()
    heads = {
        row.chain_month: _Head(row.last_id, row.last_hash, row.row_count)
        for row in connection.execute(select(chain_heads))
    }
    partitions = [p for p in list_partitions(connection) if months is None or p.month in months]
    for partition in partitions:
        _verify_partition(connection, partition, heads.get(partition.month), report, max_problems)
    present = {p.month for p in list_partitions(connection)}
    archived = {row.chain_month: row for row in connection.execute(select(archive_log))}
    for month, head in sorted(heads.items()):
        report.heads[month] = head.last_hash
        if month in present or (months is not None and month not in months):
            continue
        entry = archived.get(month)
        if entry is None:
            _add(
                report,
                max_problems,
                partition_name(month),
                None,
                f"partition is missing: its chain head records {head.row_count} rows and the "
                "archive log has no entry for it",
            )
        elif entry.last_row_hash != head.last_hash or entry.row_count != head.row_count:
            _add(
                report,
                max_problems,
                partition_name(month),
                None,
                f"archived with {entry.row_count} rows ending in {entry.last_row_hash[:16]}..., "
                f"but the chain head records {head.row_count} rows ending in "
                f"{head.last_hash[:16]}...",
            )
    return report


def _add(
    report: ChainReport, max_problems: int, partition: str, row_id: int | None, reason: str
) -> None:
    if len(report.problems) < max_problems:
        report.problems.append(ChainProblem(partition, row_id, reason))


def _verify_partition(
    connection: Connection,
    partition: Partition,
    head: _Head | None,
    report: ChainReport,
    max_problems: int,
) -> None:
    report.partitions += 1
    expected_prev = GENESIS_HASH
    count = 0
    last_id: int | None = None
    rows = connection.execute(
        month_rows_query(),
        month_bounds(partition.month),
        execution_options={"stream_results": True, "yield_per": _BATCH_ROWS},
    )
    for row in rows:
        count += 1
        last_id = row.id
        if row.prev_hash != expected_prev:
            _add(
                report,
                max_problems,
                partition.name,
                row.id,
                "prev_hash does not match the previous row's row_hash: the row before it was "
                "removed, or changed and re-hashed",
            )
        canonical = canonical_row(
            row.id,
            row.created_at,
            row.event_type,
            row.actor_type,
            row.actor_id,
            row.conversation_id,
            row.old_value,
            row.new_value,
        )
        if row_hash(row.prev_hash, canonical) != row.row_hash:
            _add(
                report,
                max_problems,
                partition.name,
                row.id,
                "row_hash does not match the row's contents: the row was changed after it was "
                "written",
            )
        expected_prev = row.row_hash
    report.rows += count
    if head is None:
        if count:
            _add(
                report,
                max_problems,
                partition.name,
                None,
                f"{count} rows but no chain head: rows were added bypassing the chain trigger",
            )
        return
    if head.row_count != count or head.last_id != last_id or head.last_hash != expected_prev:
        _add(
            report,
            max_problems,
            partition.name,
            last_id,
            f"the chain head records {head.row_count} rows ending at id {head.last_id}; the "
            f"partition has {count} ending at id {last_id}: rows were removed from the end, or "
            "written bypassing the chain trigger",
        )
