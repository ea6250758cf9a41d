"""Triage routing and settings validation of the sample service (pure logic)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from max_service.settings import Settings
from max_service.triage import TEAMS, route

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "max_service"


@pytest.mark.parametrize(
    ("text", "team"),
    [
        ("My card 4111 1111 1111 1111 was charged twice", "billing"),
        ("I want a refund", "billing"),
        ("I can't log in, reset my password please", "support"),
        ("Do you sell 40 seats?", "sales"),
        ("", "sales"),
    ],
)
def test_conversation_is_routed_by_the_customers_words(text, team):
    assert route(text) is TEAMS[team]


def test_team_and_agent_ids_are_distinct_uuids():
    ids = [team.id for team in TEAMS.values()] + [a for t in TEAMS.values() for a in t.agents]
    assert len(set(ids)) == len(ids)


def test_settings_come_from_the_environment_with_defaults():
    settings = Settings.from_environment(
        {"MAX_REDIS_URL": "redis://127.0.0.1:1/2", "MAX_INTEGRATION_TIMEOUT": "0.5"}
    )
    assert settings.redis_url == "redis://127.0.0.1:1/2"
    assert settings.integration_timeout == 0.5
    assert settings.integration_url is None
    assert settings.database_url == "sqlite:///max_service.db"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"MAX_INTEGRATION_TIMEOUT": "soon"},
            "MAX_INTEGRATION_TIMEOUT must be a number of seconds; got 'soon'",
        ),
        (
            {"MAX_INTEGRATION_TIMEOUT": "-1"},
            "MAX_INTEGRATION_TIMEOUT must be a positive number of seconds; got -1.0",
        ),
        (
            {"MAX_REDIS_URL": "127.0.0.1:6379"},
            "MAX_REDIS_URL must be a redis:// URL; got '127.0.0.1:6379'",
        ),
        (
            {"MAX_LOG_LEVEL": "chatty"},
            "MAX_LOG_LEVEL must be a logging level such as INFO; got 'CHATTY'",
        ),
    ],
)
def test_bad_setting_names_the_variable_and_the_fix(env, message):
    with pytest.raises(ValueError) as raised:
        Settings.from_environment(env)
    assert str(raised.value) == message


def test_sample_service_contains_no_telemetry_code():
    """Telemetry must come from opentelemetry-instrument alone, as for a real Max service."""
    telemetry_import = re.compile(r"^\s*(from|import)\s+opentelemetry", re.MULTILINE)
    offenders = [
        path.name for path in EXAMPLES.glob("*.py") if telemetry_import.search(path.read_text())
    ]
    assert offenders == []
