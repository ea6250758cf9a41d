"""Archiving old months: exported with checksums, verified, then dropped; nothing is lost."""

from __future__ import annotations

import gzip
import json
import subprocess
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from max_otel.instrumentation.audit import (
    ArchiveError,
    archive_partitions,
    create_partitions,
    list_partitions,
    verify_archive,
    verify_chain,
)
from max_otel.instrumentation.audit._chain import format_created_at
from max_otel.instrumentation.audit._schema import month_bounds, month_rows_query
from max_otel.instrumentation.audit.archive import read_archive
from max_otel.instrumentation.audit.cli import main as audit_main
from tests.instrumentation.audit.conftest import AuditDatabase

pytestmark = pytest.mark.integration

OLD_MONTHS = [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)]


def _fill_old_months(audit_db: AuditDatabase, rows_per_month: int = 25) -> None:
    """Backdated events (only the owner may set created_at: imports, and this test)."""
    with audit_db.owner.begin() as connection:
        create_partitions(connection, OLD_MONTHS[0], months=len(OLD_MONTHS))
        for month in OLD_MONTHS:
            connection.execute(
                text(
                    "INSERT INTO conversation_events "
                    "(event_type, actor_type, actor_id, conversation_id, old_value, new_value, "
                    " created_at) "
                    "SELECT 'conversation.state_changed', 'user', 'u-' || (n % 3), "
                    "       'c-' || (n % 5), '{\"state\": \"open\"}', "
                    "       jsonb_build_object('state', 'closed', 'n', n, 'note', 'é \"q\"'), "
                    "       CAST(:start AS timestamptz) + n * interval '1 hour' "
                    "FROM generate_series(1, :rows) AS n"
                ),
                {"start": month.isoformat() + "T00:00:00Z", "rows": rows_per_month},
            )


def _month_rows(audit_db: AuditDatabase, month: date) -> list[dict[str, object]]:
    with audit_db.owner.connect() as connection:
        rows = connection.execute(month_rows_query(), month_bounds(month)).mappings().all()
    return [{**row, "created_at": format_created_at(row["created_at"])} for row in rows]


def test_archive_then_drop_loses_nothing(audit_db: AuditDatabase, tmp_path: Path):
    _fill_old_months(audit_db)
    before = {month: _month_rows(audit_db, month) for month in OLD_MONTHS}

    archived = archive_partitions(audit_db.owner, before=date(2024, 3, 1), out_dir=tmp_path)

    assert [item.partition for item in archived] == [
        "conversation_events_y2024m01",
        "conversation_events_y2024m02",
    ]
    for item, month in zip(archived, OLD_MONTHS, strict=False):
        assert list(read_archive(tmp_path / item.file)) == before[month]
        assert item.rows == 25
        manifest = json.loads((tmp_path / f"{item.partition}.manifest.json").read_text())
        assert manifest["sha256"] == item.sha256 and manifest["rows"] == 25
    checked = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    with audit_db.app.connect() as connection:
        remaining = [p.month for p in list_partitions(connection)]
        report = verify_chain(connection)
    assert OLD_MONTHS[0] not in remaining and OLD_MONTHS[1] not in remaining
    assert _month_rows(audit_db, OLD_MONTHS[2]) == before[OLD_MONTHS[2]]
    assert report.ok, report.problems  # archived months match the archive log
    assert verify_archive(tmp_path) == []


def test_a_changed_archive_file_is_found(audit_db: AuditDatabase, tmp_path: Path, capsys):
    _fill_old_months(audit_db)
    assert (
        audit_main(
            [
                "archive",
                "--database-url",
                audit_db.owner_url,
                "--before",
                "2024-02",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    path = tmp_path / "conversation_events_y2024m01.jsonl.gz"
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    lines[3] = lines[3].replace('"u-', '"u-x')
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    capsys.readouterr()
    assert audit_main(["verify-archive", str(tmp_path)]) == 1
    assert "SHA-256 differs" in capsys.readouterr().err


def test_months_inside_the_retention_period_are_never_archived(
    audit_db: AuditDatabase, tmp_path: Path
):
    with audit_db.owner.connect() as connection:
        partitions_before = list_partitions(connection)
    with pytest.raises(ArchiveError, match="retention"):
        archive_partitions(audit_db.owner, before=date.today().replace(day=1), out_dir=tmp_path)
    with audit_db.owner.connect() as connection:
        assert list_partitions(connection) == partitions_before


def test_a_broken_chain_is_not_archived_and_nothing_is_dropped(
    audit_db: AuditDatabase, tmp_path: Path
):
    _fill_old_months(audit_db)
    with audit_db.superuser.begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(
            text(
                "UPDATE conversation_events SET actor_id = 'u-other' WHERE id = "
                "(SELECT min(id) + 3 FROM conversation_events "
                " WHERE created_at < '2024-02-01T00:00:00Z')"
            )
        )
    with pytest.raises(ArchiveError, match="chain breaks at row id"):
        archive_partitions(audit_db.owner, before=date(2024, 2, 1), out_dir=tmp_path)
    with audit_db.owner.connect() as connection:
        assert OLD_MONTHS[0] in [p.month for p in list_partitions(connection)]
    assert list(tmp_path.iterdir()) == []
