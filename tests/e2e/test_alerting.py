"""Alert rules and Alertmanager routing: static checks with promtool/amtool, the rule unit
tests, and alerts fired by a real Prometheus delivered by a real Alertmanager to local
stand-ins for PagerDuty and Slack."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.prometheus import (
    AlertmanagerServer,
    MetricsEndpoint,
    PrometheusServer,
    WebhookRecorder,
    wait_for,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO_ROOT / "docker" / "prometheus"
RULES_DIR = PROMETHEUS_DIR / "rules"
ALERT_RULES = RULES_DIR / "max-otel-alerts.yml"
RECORDING_RULES = RULES_DIR / "max-otel-recording.yml"
RULE_TESTS = PROMETHEUS_DIR / "tests" / "max-otel-alerts.test.yml"
ALERTMANAGER_CONFIG = REPO_ROOT / "docker" / "alertmanager" / "alertmanager.yml"

SPEC_ALERTS = {
    # name: (severity, for)
    "DatabaseDown": ("critical", "1m"),
    "HighErrorRate": ("critical", "5m"),
    "IntegrationDown": ("critical", "10m"),
    "QueueBacklog": ("warning", "15m"),
    "SlowFRT": ("warning", "15m"),
    "HighAgentLoad": ("warning", "30m"),
}


def _run(*argv: str, cwd: Path = REPO_ROOT, stdout_only: bool = False) -> str:
    completed = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, f"{' '.join(argv)} failed:\n{output}"
    return completed.stdout if stdout_only else output


def _alert_rules() -> dict[str, dict[str, Any]]:
    groups = yaml.safe_load(ALERT_RULES.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"] if "alert" in rule}


@pytest.mark.unit
def test_rule_files_pass_promtool_check() -> None:
    output = _run("promtool", "check", "rules", str(RECORDING_RULES), str(ALERT_RULES))
    assert "SUCCESS: 6 rules found" in output
    assert "SUCCESS: 4 rules found" in output


@pytest.mark.unit
def test_alert_rule_unit_tests_pass() -> None:
    """Fires / does not fire for every alert, including several replicas (promtool test)."""
    output = _run("promtool", "test", "rules", str(RULE_TESTS))
    assert "SUCCESS" in output


@pytest.mark.unit
def test_every_spec_alert_exists_with_its_severity_duration_summary_and_runbook() -> None:
    rules = _alert_rules()
    assert set(rules) == set(SPEC_ALERTS)
    for name, (severity, duration) in SPEC_ALERTS.items():
        rule = rules[name]
        assert (rule["labels"]["severity"], rule["for"]) == (severity, duration), name
        assert rule["annotations"]["summary"], name
        assert f"docs/alerts.md#{name.lower()}" in rule["annotations"]["runbook"], name


@pytest.mark.unit
def test_every_alert_is_documented_with_how_it_was_tested() -> None:
    docs = (REPO_ROOT / "docs" / "alerts.md").read_text()
    for name in SPEC_ALERTS:
        assert f"## {name}" in docs, name
    assert "How it was tested" in docs


@pytest.mark.unit
def test_compose_prometheus_config_passes_promtool_check() -> None:
    output = _run("promtool", "check", "config", "prometheus.yml", cwd=PROMETHEUS_DIR)
    assert "SUCCESS: 2 rule files found" in output


@pytest.mark.unit
def test_alertmanager_config_passes_amtool_check_and_holds_no_secret() -> None:
    _run("amtool", "check-config", str(ALERTMANAGER_CONFIG))
    receivers = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())["receivers"]
    (pagerduty,) = next(r for r in receivers if r["name"] == "pagerduty-critical")[
        "pagerduty_configs"
    ]
    (slack,) = next(r for r in receivers if r["name"] == "slack-warnings")["slack_configs"]
    assert "routing_key" not in pagerduty and "service_key" not in pagerduty
    assert pagerduty["routing_key_file"].startswith("/etc/alertmanager/secrets/")
    assert "api_url" not in slack
    assert slack["api_url_file"].startswith("/etc/alertmanager/secrets/")


@pytest.mark.unit
@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=DatabaseDown", "severity=critical"], "pagerduty-critical"),
        (["alertname=QueueBacklog", "severity=warning", "team=sales"], "slack-warnings"),
        (["alertname=Unknown"], "slack-warnings"),
    ],
)
def test_alertmanager_routes_critical_to_pagerduty_and_warnings_to_slack(
    labels: list[str], receiver: str
) -> None:
    output = _run(
        "amtool",
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER_CONFIG}",
        *labels,
        stdout_only=True,
    )
    assert output.strip() == receiver


def _fast_alert_rules(directory: Path) -> Path:
    """The real alert rules with every ``for`` set to 0s, so they fire at once."""
    document = yaml.safe_load(ALERT_RULES.read_text())
    for group in document["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = "0s"
    path = directory / "alerts-fast.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _alertmanager_config_for_test(directory: Path, recorder: WebhookRecorder) -> dict[str, Any]:
    """The real config with its secret files in ``directory``, PagerDuty's events URL on the
    recorder, and short grouping waits; the routes and receivers are unchanged."""
    config: dict[str, Any] = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    routing_key_file = directory / "pagerduty_routing_key"
    routing_key_file.write_text("test-routing-key-0123456789abcdef")
    slack_url_file = directory / "slack_webhook_url"
    slack_url_file.write_text(recorder.url("/slack"))
    config["route"].update(group_wait="1s", group_interval="1s")
    for receiver in config["receivers"]:
        for pagerduty in receiver.get("pagerduty_configs", []):
            pagerduty["routing_key_file"] = str(routing_key_file)
            pagerduty["url"] = recorder.url("/pagerduty")
        for slack in receiver.get("slack_configs", []):
            slack["api_url_file"] = str(slack_url_file)
    return config


def _slack_texts(recorder: WebhookRecorder) -> list[str]:
    return [
        f"{attachment.get('title', '')} {attachment.get('text', '')}"
        for body in recorder.received("/slack")
        for attachment in body.get("attachments", [])
    ]


def _pagerduty_events(recorder: WebhookRecorder) -> list[dict[str, Any]]:
    return [body for body in recorder.received("/pagerduty") if isinstance(body, dict)]


@pytest.mark.e2e
def test_fired_alerts_reach_slack_and_pagerduty_through_real_alertmanager(tmp_path: Path) -> None:
    queue_backlog = (
        'conversations_active{job="core-api",instance="a",team="sales",status="queued"} 25\n'
    )
    with (
        WebhookRecorder() as recorder,
        MetricsEndpoint(
            queue_backlog + 'dependency_up{job="core-api",instance="a",dependency="database"} 1\n'
        ) as endpoint,
        AlertmanagerServer(
            tmp_path / "alertmanager", _alertmanager_config_for_test(tmp_path, recorder)
        ) as alertmanager,
        PrometheusServer(
            tmp_path / "prometheus",
            scrape=[endpoint.target],
            rule_files=[RECORDING_RULES, _fast_alert_rules(tmp_path)],
            alertmanager=alertmanager.target,
        ),
    ):
        # A warning: QueueBacklog goes to Slack.
        texts = wait_for(
            lambda: [t for t in _slack_texts(recorder) if "QueueBacklog" in t],
            60,
            "QueueBacklog in the Slack stand-in",
        )
        assert "sales queue has 25 conversations" in texts[0]
        assert "docs/alerts.md#queuebacklog" in texts[0]

        # A critical alert: the database goes down everywhere; DatabaseDown pages.
        endpoint.text = (
            queue_backlog + 'dependency_up{job="core-api",instance="a",dependency="database"} 0\n'
        )
        events = wait_for(
            lambda: [e for e in _pagerduty_events(recorder) if e.get("event_action") == "trigger"],
            60,
            "a trigger event in the PagerDuty stand-in",
        )
        event = events[0]
        assert event["routing_key"] == "test-routing-key-0123456789abcdef"
        assert "PostgreSQL database is down" in event["payload"]["summary"]
        assert event["payload"]["severity"] == "critical"

    assert not any("DatabaseDown" in text for text in _slack_texts(recorder))
    assert not any("queue has" in e["payload"]["summary"] for e in _pagerduty_events(recorder))
