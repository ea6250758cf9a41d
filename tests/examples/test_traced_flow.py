"""The harness under the plain opentelemetry-distro: one inbound message is one trace.

The API's spans and the Celery worker's spans reach the OTLP test receiver with the same
trace id, the worker's task span a child of the API's publish span: the trace context
travelled in the Celery task headers. This proves the harness for the distro's end-to-end
tests.

The worker runs its tasks in its own process (``--pool=solo``): the plain distro's exporters
are not fork-safe. Under ``--pool=prefork`` its pool processes lost their spans (2 runs in 13)
and, with gRPC's fork support turned on, once did not run the task at all in a CI run. The
max_otel distro's prefork behaviour is what ``tests/e2e`` checks.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from max_service_launch.sample_service import SampleService

from tests.support.crm_endpoint import CrmEndpoint
from tests.support.otlp_receiver import OtlpReceiver, ReceivedSpan

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as otlp:
        yield otlp


@pytest.fixture(scope="module")
def service(tmp_path_factory, redis_server, receiver, crm: CrmEndpoint) -> Iterator[SampleService]:
    with SampleService(
        tmp_path_factory.mktemp("traced"),
        redis_url=redis_server.url,
        otlp_endpoint=receiver.endpoint,
        distro="plain",
        pool="solo",
        env={"MAX_INTEGRATION_URL": crm.url},
    ) as running:
        yield running


def _one(spans: list[ReceivedSpan], service: str, name: str) -> ReceivedSpan:
    matching = [s for s in spans if s.service_name == service and s.name == name]
    assert len(matching) == 1, (
        f"{service}:{name} in {sorted((s.service_name, s.name) for s in spans)}"
    )
    return matching[0]


def test_api_and_worker_spans_of_one_message_share_one_trace(service, receiver, crm):
    response = service.post_webhook("+5511987654321", "My card was charged twice", "Ana")
    [conversation_id] = response.json()["conversation_ids"]
    service.wait_until_assigned(conversation_id)

    def webhook_trace() -> list[ReceivedSpan] | None:
        for spans in receiver.traces().values():
            names = {(s.service_name, s.name) for s in spans}
            if ("core-api", "POST /webhooks/whatsapp") in names and (
                "core-worker",
                "run/max_service.triage_conversation",
            ) in names:
                return spans
        return None

    spans = receiver.wait_for(webhook_trace, timeout=20)

    server = _one(spans, "core-api", "POST /webhooks/whatsapp")
    publish = _one(spans, "core-api", "apply_async/max_service.triage_conversation")
    task = _one(spans, "core-worker", "run/max_service.triage_conversation")
    assert server.parent_span_id is None
    assert (server.kind, publish.kind, task.kind) == ("SERVER", "PRODUCER", "CONSUMER")
    assert task.parent_span_id == publish.span_id
    worker_children = {s.name for s in spans if s.parent_span_id == task.span_id}
    assert {"UPDATE", "POST", "SETEX"} <= {name.split()[0] for name in worker_children}
    # The CRM call carried the same trace onwards.
    call = crm.wait_for_call(lambda call: call.body["conversation_id"] == conversation_id)
    assert call.headers["traceparent"].split("-")[1] == server.trace_id


def test_each_process_reports_its_own_service_name(service, receiver):
    def names() -> set[str | None]:
        return {span.service_name for span in receiver.spans()}

    receiver.wait_for(lambda: {"core-api", "core-worker"} <= names())
    assert names() == {"core-api", "core-worker"}
