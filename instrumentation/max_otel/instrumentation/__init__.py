"""What produces telemetry inside a Max service: the distro, conversation context and events.

Run a service under the distro (see ``docs/instrumentation.md``)::

    OTEL_SERVICE_NAME=core-api opentelemetry-instrument uvicorn max_service.app:app

and, in its code, bind a conversation or log one of the spec's events::

    from max_otel.instrumentation import Events, conversation, emit

    with conversation(conversation_id):
        emit(Events.CONVERSATION_ASSIGNED, conversation_id=conversation_id, assigned_to=agent)

The distro and configurator live in ``max_otel.instrumentation.distro`` and
``max_otel.instrumentation.configurator`` (loaded by ``opentelemetry-instrument``).
"""

from __future__ import annotations

from max_otel.instrumentation.conversation import conversation, current_conversation_id
from max_otel.instrumentation.events import Events, emit

__all__ = ["Events", "conversation", "current_conversation_id", "emit"]
