"""The Logstash pipeline and the Kibana saved searches, checked as far as can be done here.

Logstash is not installed here (no Debian package; it ships as a tarball or an image), so
the pipeline is parsed with a grammar-following parser (``logstash_config.py``); the real
check is ``bin/logstash --config.test_and_exit`` (see docs/logs.md).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.logs.logstash_config import LogstashSyntaxError, parse_pipeline

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "docker" / "logstash" / "pipeline" / "max-logs.conf"
SAVED_OBJECTS = ROOT / "docker" / "kibana" / "max-saved-searches.ndjson"


@pytest.fixture(scope="module")
def pipeline():
    return parse_pipeline(PIPELINE.read_text(encoding="utf-8"))


def test_the_pipeline_reads_json_lines_from_the_log_files(pipeline):
    [source] = pipeline.plugins("input")
    assert source.name == "file"
    assert source.settings["codec"] == "json"
    assert source.settings["path"].endswith("/*.log")
    assert "/var/log/max" in source.settings["path"]


def test_the_pipeline_parses_iso8601_timestamps_and_tags_events(pipeline):
    dates = [p for p in pipeline.plugins("filter") if p.name == "date"]
    assert [d.settings["match"] for d in dates] == [["timestamp", "ISO8601"]]
    tags = {
        tag
        for plugin in pipeline.plugins("filter")
        if plugin.name == "mutate"
        for tag in plugin.settings.get("add_tag", [])
    }
    assert {"conversation", "integration", "integration_failure", "slow_query", "error"} <= tags
    assert any("[event] =~ /^conversation\\./" in c for c in pipeline.conditions("filter"))


def test_the_pipeline_writes_daily_max_logs_indices(pipeline):
    [sink] = pipeline.plugins("output")
    assert sink.name == "elasticsearch"
    assert sink.settings["index"] == "max-logs-%{+YYYY.MM.dd}"
    assert sink.settings["data_stream"] == "false"
    assert re.fullmatch(r"\$\{ELASTICSEARCH_HOSTS:https?://[^}]+\}", sink.settings["hosts"][0])


@pytest.mark.parametrize(
    "broken",
    [
        'input { file { path => "/x" }',  # missing brace
        'input { file { path "/x" } }',  # missing =>
        "inputs { }",  # unknown section
        "filter { if [a] == { mutate { } } }",  # comparison without a right-hand side
    ],
)
def test_the_parser_rejects_invalid_pipelines(broken: str):
    with pytest.raises(LogstashSyntaxError):
        parse_pipeline(broken)


def _saved_objects() -> list[dict]:
    return [json.loads(line) for line in SAVED_OBJECTS.read_text(encoding="utf-8").splitlines()]


def test_saved_searches_reference_the_max_logs_data_view():
    objects = _saved_objects()
    views = {o["id"]: o for o in objects if o["type"] == "index-pattern"}
    assert views["max-logs"]["attributes"]["title"] == "max-logs-*"
    assert views["max-logs"]["attributes"]["timeFieldName"] == "@timestamp"
    searches = [o for o in objects if o["type"] == "search"]
    assert len({o["id"] for o in objects}) == len(objects)
    for search in searches:
        source = json.loads(search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        [reference] = search["references"]
        assert reference["name"] == source["indexRefName"]
        assert reference["id"] in views and reference["type"] == "index-pattern"


def test_saved_searches_are_the_spec_queries():
    queries = {
        o["id"]: json.loads(o["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]
        for o in _saved_objects()
        if o["type"] == "search"
    }
    assert queries["max-errors-last-hour"] == {
        "query": "level:ERROR AND @timestamp:[now-1h TO now]",
        "language": "lucene",
    }
    assert queries["max-conversation-timeline"]["query"].startswith("conversation_id:")
    assert queries["max-failed-integrations"]["query"] == 'event:"integration.failure"'
    assert queries["max-slow-queries"]["query"] == 'event:"db.slow_query"'
    timeline = next(o for o in _saved_objects() if o["id"] == "max-conversation-timeline")
    assert timeline["attributes"]["sort"] == [["@timestamp", "asc"]]


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_the_documented_local_search_finds_one_conversation_in_order(tmp_path: Path):
    """The command of docs/logs.md, on log files as the services write them."""
    (tmp_path / "core-api.log").write_text(
        '{"timestamp": "2026-01-05T12:00:02.000Z", "event": "message.sent", '
        '"conversation_id": "c-1"}\n'
        '{"timestamp": "2026-01-05T12:00:00.000Z", "event": "conversation.created", '
        '"conversation_id": "c-1"}\n'
        "not json at all\n"
        '{"timestamp": "2026-01-05T12:00:01.000Z", "event": "message.sent", '
        '"conversation_id": "c-2"}\n'
    )
    (tmp_path / "worker.log").write_text(
        '{"timestamp": "2026-01-05T12:00:01.500Z", "event": "ai.tool_called", '
        '"conversation_id": "c-1"}\n'
    )
    command = _documented_command()
    result = subprocess.run(
        ["bash", "-c", command.replace("/var/log/max", str(tmp_path))],
        capture_output=True,
        text=True,
        timeout=30,
        env={"CONVERSATION_ID": "c-1", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    events = [json.loads(line)["event"] for line in result.stdout.splitlines()]
    assert events == ["conversation.created", "ai.tool_called", "message.sent"]


def _documented_command() -> str:
    docs = (ROOT / "docs" / "logs.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- local-search -->\n```bash\n(.+?)\n```", docs, re.S)
    assert match, "docs/logs.md must keep the local search command after <!-- local-search -->"
    return match.group(1)
