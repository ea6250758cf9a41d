"""``docker/compose.yaml`` and the Dockerfiles, checked without a Docker engine.

``composecheck`` (``docker/composecheck``, built by ``bash collector-config/build-tools.sh``)
loads the compose file with compose-go, the compose specification's reference loader:
interpolation, the compose JSON schema, consistency, then every bind-mounted file, build
context and Dockerfile. Secrets under ``docker/secrets/`` are git-ignored and created by the
operator before ``up`` (see the compose file's header), so they may be missing here. On top
of that: the configs mounted into the collector validate with ``otelcol-max`` under the
service's environment, the services' addresses for one another match where each listens,
and every ``COPY`` source of the Dockerfiles exists.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.collector_support import (
    CONFIG_DIR,
    DOCKER_DIR,
    ROOT,
    clean_env,
    otelcol_validate,
    tool,
)

pytestmark = pytest.mark.e2e

COMPOSE_FILE = DOCKER_DIR / "compose.yaml"
OPERATOR_FILES = "secrets"  # relative to the compose file; created before `up`
COLLECTOR_DOCKERFILE = "docker/collector.Dockerfile"
PASSWORDS = ("MAX_APP_PASSWORD", "MAX_AUDIT_OWNER_PASSWORD", "POSTGRES_PASSWORD")
_RAW = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
COLLECTOR_SERVICES = sorted(
    name
    for name, service in _RAW["services"].items()
    if isinstance(service.get("build"), dict)
    and service["build"].get("dockerfile") == COLLECTOR_DOCKERFILE
)
# Who calls whom, and where each side sets the address: "env:NAME" or "arg:--flag".
HOPS = [
    ("core-api", "env:OTEL_EXPORTER_OTLP_ENDPOINT", "otelcol-max", "env:MAX_OTEL_COLLECTOR_GRPC"),
    ("otelcol-max", "env:MAX_OTEL_PROCESSOR_ENDPOINT", "processor", "arg:--listen"),
    ("processor", "arg:--forward", "otelcol-max", "env:MAX_OTEL_REDACTED_GRPC"),
    ("otelcol-max", "env:MAX_OTEL_JAEGER_OTLP", "jaeger", "env:MAX_OTEL_JAEGER_OTLP"),
    (
        "otelcol-max",
        "env:MAX_OTEL_LOG_SHIPPER_OTLP",
        "log-shipper",
        "env:MAX_OTEL_LOG_SHIPPER_OTLP",
    ),
]


def _composecheck(
    compose_file: Path, *flags: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("composecheck"), *flags, str(compose_file)],
        env=clean_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _check_with_placeholders(compose_file: Path) -> subprocess.CompletedProcess[str]:
    return _composecheck(compose_file, "-placeholders", "-allow-missing", OPERATOR_FILES)


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    """The normalised project composecheck prints for the committed compose file."""
    result = _check_with_placeholders(COMPOSE_FILE)
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = yaml.safe_load(result.stdout)
    return loaded


def _copy_with(tmp_path: Path, change: Callable[[dict[str, Any]], None], omit: str = "") -> Path:
    """A copy of the compose file, changed by ``change``, in a tree of links to the real files
    (``docker/*`` and ``collector-config/*``, less ``omit``); returns its path."""
    docker, configs = tmp_path / "docker", tmp_path / "collector-config"
    docker.mkdir()
    configs.mkdir()
    for entry in DOCKER_DIR.iterdir():
        if entry.name != COMPOSE_FILE.name:
            (docker / entry.name).symlink_to(entry)
    for entry in CONFIG_DIR.iterdir():
        if entry.name != omit:
            (configs / entry.name).symlink_to(entry)
    compose = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    change(compose)
    copy = docker / COMPOSE_FILE.name
    copy.write_text(yaml.safe_dump(compose, sort_keys=False), encoding="utf-8")
    return copy


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("composecheck: error:")]


# --- composecheck -----------------------------------------------------------------------------


def test_committed_compose_file_passes_composecheck(project: dict[str, Any]) -> None:
    assert project["name"] == "max-otel"
    pipeline = {"otelcol-max", "processor", "jaeger", "log-shipper", "prometheus", "elasticsearch"}
    assert pipeline <= set(project["services"])


def test_operator_created_secrets_are_listed_as_notes() -> None:
    result = _check_with_placeholders(COMPOSE_FILE)
    notes = [line for line in result.stderr.splitlines() if line.startswith("composecheck: note:")]
    assert any("./secrets/pseudonym.key must be created" in note for note in notes), notes


def test_unset_passwords_are_reported_by_name() -> None:
    env = {k: v for k, v in clean_env().items() if k not in PASSWORDS}
    result = _composecheck(COMPOSE_FILE, "-allow-missing", OPERATOR_FILES, env=env)
    assert result.returncode == 1
    for password in PASSWORDS:
        assert f"required variable {password} is missing a value" in result.stderr


def test_unknown_key_fails_naming_the_key(tmp_path: Path) -> None:
    def misspell_restart(compose: dict[str, Any]) -> None:
        compose["services"]["otelcol-max"]["restart_policy"] = "always"

    result = _check_with_placeholders(_copy_with(tmp_path, misspell_restart))
    assert result.returncode == 1
    assert "restart_policy" in result.stderr, result.stderr
    assert "otelcol-max" in result.stderr, result.stderr


def test_missing_mounted_file_fails_naming_the_file_and_service(tmp_path: Path) -> None:
    copy = _copy_with(tmp_path, lambda compose: None, omit="logs-elasticsearch.yaml")
    result = _check_with_placeholders(copy)
    assert result.returncode == 1
    assert _errors(result.stderr) == [
        f'composecheck: error: {copy}: service "otelcol-max": bind mount source '
        "../collector-config/logs-elasticsearch.yaml does not exist"
    ]


def test_missing_dockerfile_fails_naming_it(tmp_path: Path) -> None:
    def rename_dockerfile(compose: dict[str, Any]) -> None:
        compose["services"]["processor"]["build"]["dockerfile"] = "docker/no-such.Dockerfile"

    result = _check_with_placeholders(_copy_with(tmp_path, rename_dockerfile))
    assert result.returncode == 1
    assert [e.split(": ", 3)[-1] for e in _errors(result.stderr)] == [
        'service "processor": Dockerfile ./no-such.Dockerfile does not exist'
    ]


# --- the collector's configs and the services' addresses ------------------------------------


def _config_files(service: dict[str, Any], dockerfile: Path) -> list[Path]:
    """The host files behind the service's --config=PATH arguments: bind mounts first, then
    the files the Dockerfile copies into the image."""
    mounted = {v["target"]: Path(v["source"]) for v in service["volumes"] if v["type"] == "bind"}
    copied = {dest: ROOT / sources[0] for sources, dest in _copies(dockerfile)}
    files = []
    for argument in service["command"]:
        if argument.startswith("--config="):
            path = argument.removeprefix("--config=")
            assert path in mounted or path in copied, f"{path} is neither mounted nor copied"
            files.append(mounted.get(path) or copied[path])
    return files


@pytest.mark.parametrize("name", COLLECTOR_SERVICES)
def test_collector_configs_validate_with_the_service_environment(
    project: dict[str, Any], name: str
) -> None:
    service = project["services"][name]
    files = _config_files(service, ROOT / COLLECTOR_DOCKERFILE)
    assert CONFIG_DIR / "logs-elasticsearch.yaml" in files
    environment = {k: v for k, v in service["environment"].items() if v is not None}
    result = otelcol_validate(files, clean_env() | environment)
    assert result.returncode == 0, result.stderr


def _address(project: dict[str, Any], service: str, where: str) -> tuple[str, int]:
    """(host, port) of the address set by ``env:NAME`` or ``arg:--flag`` of ``service``."""
    kind, _, key = where.partition(":")
    settings = project["services"][service]
    if kind == "env":
        value = settings["environment"][key]
    else:
        command = settings["command"]
        value = command[command.index(key) + 1]
    host, _, port = re.sub(r"^\w+://", "", value).rpartition(":")
    return host, int(port)


@pytest.mark.parametrize(
    ("client", "dials", "server", "listens"), HOPS, ids=[f"{h[0]}->{h[2]}" for h in HOPS]
)
def test_each_hop_dials_the_port_its_server_listens_on(
    project: dict[str, Any],
    client: str,
    dials: str,
    server: str,
    listens: str,
) -> None:
    assert _address(project, client, dials) == (server, _address(project, server, listens)[1])
    # Inside a container, a loopback listener is unreachable from the other services.
    assert _address(project, server, listens)[0] == "0.0.0.0"


# --- Dockerfiles ------------------------------------------------------------------------------


def _copies(dockerfile: Path) -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY/ADD from the build context (not ``--from``)."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text(encoding="utf-8"))
    copies = []
    for line in text.splitlines():
        match = re.match(r"\s*(?:COPY|ADD)\s+(.*)", line, re.IGNORECASE)
        if match is None:
            continue
        rest = match.group(1).strip()
        words = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
        if any(word.startswith("--from") for word in words):
            continue
        words = [word for word in words if not word.startswith("--")]
        copies.append((words[:-1], words[-1]))
    return copies


@pytest.mark.parametrize(
    "dockerfile", sorted(DOCKER_DIR.glob("*.Dockerfile")), ids=lambda p: p.name
)
def test_dockerfile_copy_sources_exist(project: dict[str, Any], dockerfile: Path) -> None:
    contexts = {
        Path(s["build"]["context"])
        for s in project["services"].values()
        if "build" in s and Path(s["build"]["context"], s["build"]["dockerfile"]) == dockerfile
    }
    # Built from the repository root, by compose and by the command in each header.
    assert contexts <= {ROOT}
    assert f"docker build -f docker/{dockerfile.name}" in dockerfile.read_text(encoding="utf-8")
    copies = _copies(dockerfile)
    assert copies
    for sources, _ in copies:
        for source in sources:
            assert list(ROOT.glob(source)), f"{dockerfile.name}: COPY source {source} is missing"
