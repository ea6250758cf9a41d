"""Processor settings: YAML sections, precedence flag > env > file > default, exact errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from max_otel.processors import service
from max_otel.processors.service import ProcessorConfig, load_config_file, resolve_config

pytestmark = pytest.mark.unit

_TESTDATA = Path(__file__).parent / "testdata" / "processor.yaml"


def _section(name: str, tmp_path: Path) -> str:
    sections = yaml.safe_load(_TESTDATA.read_text(encoding="utf-8"))
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(sections[name]), encoding="utf-8")
    return str(path)


def test_a_full_config_file_is_loaded(tmp_path: Path) -> None:
    config = resolve_config({}, {}, _section("full", tmp_path))
    assert config.listen == "0.0.0.0:4320"
    assert config.forward_target == "collector.internal:4319" and config.forward_tls
    assert config.workers == 4 and config.forward_timeout == 2.5
    assert config.max_message_bytes == 8 * 1024 * 1024
    assert config.metrics_listen == ""


def test_an_empty_config_file_gives_the_defaults(tmp_path: Path) -> None:
    assert resolve_config({}, {}, _section("empty", tmp_path)) == ProcessorConfig()
    defaults = ProcessorConfig()
    assert defaults.listen == "127.0.0.1:4320"
    assert defaults.forward == "http://127.0.0.1:4319"
    assert defaults.max_message_bytes == 16 * 1024 * 1024


def test_flag_beats_environment_beats_file_beats_default(tmp_path: Path) -> None:
    path = _section("full", tmp_path)
    environment = {"MAX_OTEL_PROCESSOR_WORKERS": "3", "MAX_OTEL_PROCESSOR_FORWARD_TIMEOUT": "7"}
    config = resolve_config({"workers": 2}, environment, path)
    assert config.workers == 2  # flag
    assert config.forward_timeout == 7.0  # environment over file
    assert config.listen == "0.0.0.0:4320"  # file over default
    assert config.shutdown_grace == 20.0  # default


def test_the_config_file_can_come_from_the_environment(tmp_path: Path) -> None:
    config = resolve_config({}, {"MAX_OTEL_PROCESSOR_CONFIG": _section("full", tmp_path)})
    assert config.workers == 4


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("workers_zero", "workers must be at least 1; got 0"),
        (
            "bad_forward",
            "forward must be http://host:port or https://host:port; got 'collector:4319'",
        ),
        ("wrong_type", "workers must be int; got 'many' from "),
    ],
)
def test_invalid_sections_name_the_setting_and_the_fix(
    section: str, message: str, tmp_path: Path
) -> None:
    with pytest.raises(ValueError) as raised:
        resolve_config({}, {}, _section(section, tmp_path))
    assert str(raised.value).startswith(message)


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"config keys must be among \[.*\]; got unknown \['threads'\]"
    ):
        load_config_file(_section("unknown_key", tmp_path))


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"tls_cert": "/etc/hostname"}, "tls_cert and tls_key must be set together"),
        ({"forward_ca": "/etc/hostname"}, "forward must be an https:// URL when forward_ca"),
        ({"rules": "/nonexistent/rules.yaml"}, "rules must be a readable file; got"),
        ({"listen": "4320"}, "listen must be HOST:PORT with a port 0-65535; got '4320'"),
        ({"forward_timeout": 0.0}, "forward_timeout must be a positive number of seconds"),
    ],
)
def test_invalid_flags_are_refused(flags: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("?", r"\?")):
        resolve_config(flags, {})


def test_an_invalid_environment_value_names_the_variable() -> None:
    with pytest.raises(ValueError, match=r"max_message_bytes must be int; got 'lots' from \$MAX"):
        resolve_config({}, {"MAX_OTEL_PROCESSOR_MAX_MESSAGE_BYTES": "lots"})


def test_every_option_has_a_documented_environment_variable() -> None:
    from max_otel.processors.service import environment

    names = {
        f"MAX_OTEL_PROCESSOR_{field.upper()}" for field in ProcessorConfig.__dataclass_fields__
    }
    names.add("MAX_OTEL_PROCESSOR_CONFIG")
    assert {name for name in dir(environment) if name.startswith("MAX_OTEL_")} == names


def test_public_api_is_what_is_documented() -> None:
    assert service.__all__ == [
        "ForwardError",
        "ProcessorConfig",
        "load_config_file",
        "resolve_config",
    ]
