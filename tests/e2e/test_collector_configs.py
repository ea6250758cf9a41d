"""The configs in ``collector-config/`` checked as files: the pipeline rules, ``otelcol-max
validate`` and ``promtool``.

An otelcol-max config is either complete (``otelcol-max.yaml``) or an overlay that goes on top
of it (no ``receivers``: ``vendor-apm.example.yaml``, ``logs-elasticsearch.yaml``); overlays are
checked merged, as the collector merges its ``--config`` files. ``log-shipper.yaml`` is for the
upstream contrib collector, which is not built here: its structure is checked, and the parts
otelcol-max also has are validated by otelcol-max. The running pipeline is tested in
``test_collector_pipeline.py``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.collector_support import (
    BASE_CONFIG,
    CONFIG_DIR,
    clean_env,
    load_yaml,
    merge,
    otelcol_validate,
)

pytestmark = pytest.mark.e2e

LOGS_OVERLAY = CONFIG_DIR / "logs-elasticsearch.yaml"
LOG_SHIPPER_CONFIG = CONFIG_DIR / "log-shipper.yaml"
NOT_OTELCOL_MAX_CONFIGS = {"builder-config.yaml", "jaeger.yaml", LOG_SHIPPER_CONFIG.name}
INGRESS_RECEIVER = "otlp"
REDACTION_EXPORTER = "otlp_grpc/redaction"
# Exporter types that send to another process (old and new names).
NETWORK_EXPORTERS = {"otlp", "otlp_grpc", "otlphttp", "otlp_http"}
# `${env:MAX_OTEL_X:-default}` where the default is an address: [scheme://]host:port
_ADDRESS_DEFAULT = re.compile(r"\$\{env:(MAX_OTEL_\w+):-(?:\w+://)?([\w.-]+):\d+\}")
# Settings of the contrib `elasticsearch` exporter at the collector release of
# builder-config.yaml (its Config struct, confighttp's client settings squashed in).
_ELASTICSEARCH_SETTINGS = {
    "": {
        *("endpoint", "endpoints", "cloudid", "user", "password", "api_key", "auth", "tls"),
        *("headers", "timeout", "proxy_url", "read_buffer_size", "write_buffer_size"),
        *("logs_index", "metrics_index", "traces_index", "pipeline", "logstash_format"),
        *("logs_dynamic_id", "logs_dynamic_pipeline", "traces_dynamic_id", "mapping"),
        *("sending_queue", "retry", "discover", "telemetry", "include_source_on_error"),
        *("metadata_keys", "suppress_conflict_errors", "bulk_response_filter_path"),
    },
    "logstash_format": {"enabled", "prefix_separator", "date_format"},
    "retry": {"enabled", "max_retries", "initial_interval", "max_interval", "retry_on_status"},
}


def _otelcol_max_configs() -> list[Path]:
    return sorted(p for p in CONFIG_DIR.glob("*.yaml") if p.name not in NOT_OTELCOL_MAX_CONFIGS)


def _is_overlay(path: Path) -> bool:
    return "receivers" not in load_yaml(path)


def _effective(path: Path) -> dict[str, Any]:
    """The config otelcol-max runs with ``path``: merged on otelcol-max.yaml if an overlay."""
    return merge(load_yaml(BASE_CONFIG), load_yaml(path)) if _is_overlay(path) else load_yaml(path)


def _type(component_id: str) -> str:
    return component_id.split("/", 1)[0]


# --- otelcol-max configs ---------------------------------------------------------------------


def test_collector_configs_are_found() -> None:
    names = {p.name for p in _otelcol_max_configs()}
    assert names >= {"otelcol-max.yaml", "vendor-apm.example.yaml", LOGS_OVERLAY.name}


@pytest.mark.parametrize("config", _otelcol_max_configs(), ids=lambda p: p.name)
def test_ingress_pipelines_export_only_to_the_redaction_processor(config: Path) -> None:
    """No pipeline fed by the ingress receiver may reach Jaeger, Prometheus or a vendor."""
    pipelines = _effective(config)["service"]["pipelines"]
    ingress = {name: p for name, p in pipelines.items() if INGRESS_RECEIVER in p["receivers"]}
    assert ingress, "no pipeline reads the ingress receiver"
    for name, pipeline in ingress.items():
        assert pipeline["receivers"] == [INGRESS_RECEIVER], name
        assert pipeline["exporters"] == [REDACTION_EXPORTER], name


@pytest.mark.parametrize("config", _otelcol_max_configs(), ids=lambda p: p.name)
def test_exporters_to_other_processes_queue_on_disk_and_retry_forever(config: Path) -> None:
    """Data waiting for a back end that is down survives a restart and is never given up."""
    effective = _effective(config)
    used = {e for p in effective["service"]["pipelines"].values() for e in p["exporters"]}
    network = sorted(e for e in used if _type(e) in NETWORK_EXPORTERS)
    assert network
    for exporter_id in network:
        exporter = effective["exporters"][exporter_id]
        assert exporter["sending_queue"]["enabled"] is True, exporter_id
        assert exporter["sending_queue"]["storage"] == "file_storage", exporter_id
        assert exporter["retry_on_failure"]["max_elapsed_time"] == "0s", exporter_id


@pytest.mark.parametrize("config", sorted(CONFIG_DIR.glob("*.y*ml")), ids=lambda p: p.name)
def test_default_addresses_are_loopback(config: Path) -> None:
    for variable, host in _ADDRESS_DEFAULT.findall(config.read_text(encoding="utf-8")):
        assert host == "127.0.0.1", f"{variable} defaults to {host}, not loopback"


@pytest.mark.parametrize("config", _otelcol_max_configs(), ids=lambda p: p.name)
def test_collector_config_validates(config: Path) -> None:
    files = [BASE_CONFIG, config] if _is_overlay(config) else [config]
    result = otelcol_validate(files, clean_env())
    assert result.returncode == 0, result.stderr


def test_logs_overlay_sends_redacted_logs_only_to_the_log_shipper() -> None:
    pipelines = _effective(LOGS_OVERLAY)["service"]["pipelines"]
    base_pipelines = load_yaml(BASE_CONFIG)["service"]["pipelines"]
    assert pipelines["logs/redacted"]["exporters"] == ["otlp_grpc/log_shipper"]
    # Only that exporter list changes.
    assert pipelines["logs/redacted"]["receivers"] == base_pipelines["logs/redacted"]["receivers"]
    assert {k: v for k, v in pipelines.items() if k != "logs/redacted"} == {
        k: v for k, v in base_pipelines.items() if k != "logs/redacted"
    }


# --- the log shipper (upstream contrib collector) ------------------------------------------


def test_log_shipper_reads_only_otlp_and_writes_only_elasticsearch() -> None:
    config = load_yaml(LOG_SHIPPER_CONFIG)
    pipelines = config["service"]["pipelines"]
    assert list(pipelines) == ["logs"]
    assert [_type(r) for r in config["receivers"]] == ["otlp"]
    assert pipelines["logs"]["receivers"] == list(config["receivers"])
    assert [_type(e) for e in pipelines["logs"]["exporters"]] == ["elasticsearch"]


def test_log_shipper_writes_daily_indices_in_raw_mapping() -> None:
    """max-logs-otel-2026.01.05; attributes as top-level fields; errors go back upstream."""
    config = load_yaml(LOG_SHIPPER_CONFIG)
    exporter = config["exporters"]["elasticsearch/logs"]
    assert exporter["logs_index"] == "${env:MAX_OTEL_ELASTICSEARCH_LOGS_INDEX:-max-logs-otel}"
    assert exporter["logstash_format"] == {
        "enabled": True,
        "prefix_separator": "-",
        "date_format": "%Y.%m.%d",
    }
    assert exporter["endpoint"] == "${env:MAX_OTEL_ELASTICSEARCH_URL:-http://127.0.0.1:9200}"
    assert exporter["sending_queue"] == {"enabled": False}
    [transform] = [p for p in config["processors"] if _type(p) == "transform"]
    assert transform in config["service"]["pipelines"]["logs"]["processors"]
    assert config["processors"][transform]["log_statements"] == [
        {"context": "scope", "statements": ['set(attributes["elastic.mapping.mode"], "raw")']}
    ]


def test_log_shipper_uses_only_settings_the_elasticsearch_exporter_has() -> None:
    exporter = load_yaml(LOG_SHIPPER_CONFIG)["exporters"]["elasticsearch/logs"]
    assert set(exporter) <= _ELASTICSEARCH_SETTINGS[""], set(exporter) - _ELASTICSEARCH_SETTINGS[""]
    for section in ("logstash_format", "retry"):
        assert set(exporter[section]) <= _ELASTICSEARCH_SETTINGS[section], section


def test_log_shipper_hop_times_out_after_the_shippers_own_elasticsearch_timeout() -> None:
    """Otherwise otelcol-max resends a batch the shipper is still indexing (duplicates)."""
    hop = load_yaml(LOGS_OVERLAY)["exporters"]["otlp_grpc/log_shipper"]
    shipper = load_yaml(LOG_SHIPPER_CONFIG)["exporters"]["elasticsearch/logs"]
    assert int(hop["timeout"].removesuffix("s")) > int(shipper["timeout"].removesuffix("s"))


def test_log_shipper_config_validates_apart_from_its_contrib_components(tmp_path: Path) -> None:
    """Receivers, extensions, memory limiter and telemetry, by otelcol-max (which lacks the
    elasticsearch exporter and the transform processor, swapped for debug here)."""
    config = load_yaml(LOG_SHIPPER_CONFIG)
    config["exporters"] = {"debug": {}}
    config["processors"] = {k: v for k, v in config["processors"].items() if k == "memory_limiter"}
    logs = config["service"]["pipelines"]["logs"]
    logs["exporters"], logs["processors"] = ["debug"], ["memory_limiter"]
    stripped = tmp_path / "log-shipper-stripped.yaml"
    stripped.write_text(yaml.safe_dump(config), encoding="utf-8")
    result = otelcol_validate([stripped], clean_env())
    assert result.returncode == 0, result.stderr


# --- Prometheus -------------------------------------------------------------------------------


def test_prometheus_config_passes_promtool() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed: run `bash scripts/setup`")
    config = CONFIG_DIR / "prometheus.yml"
    result = subprocess.run(
        [promtool, "check", "config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
