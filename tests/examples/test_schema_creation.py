"""The sample service's schema creation when several processes start at the same moment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy

from max_service.models import Base

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
_CREATE_AT_SIGNAL = """
import sys, time
from pathlib import Path
from max_service import db
go = Path(sys.argv[1])
while not go.exists():
    time.sleep(0.001)
db.create_schema()
"""


def test_processes_starting_together_all_get_the_schema(tmp_path: Path) -> None:
    """Like gunicorn's workers: each calls ``create_schema`` on the same new database at once,
    and each must start (a lost race to create a table is not a start-up failure)."""
    database = tmp_path / "max.db"
    go = tmp_path / "go"
    env = {
        **os.environ,
        "PYTHONPATH": str(EXAMPLES),
        "MAX_DATABASE_URL": f"sqlite:///{database}",
    }
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", _CREATE_AT_SIGNAL, str(go)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    go.touch()
    failures = [p.communicate(timeout=120)[1] for p in starters if p.wait(timeout=120) != 0]
    assert failures == []
    tables = set(
        sqlalchemy.inspect(sqlalchemy.create_engine(f"sqlite:///{database}")).get_table_names()
    )
    assert set(Base.metadata.tables) <= tables
