"""Who may act on a conversation: an agent may reply only to conversations of their team.

Every check is audited, granted or denied (spec, section 9), and a denial is logged as
``auth.permission_denied``::

    decision = check_reply(conversation, agent_id)
    if not decision.granted:
        raise HTTPException(403, decision.reason)
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from max_service import audit_trail
from max_service.models import Conversation
from max_service.triage import team_of

logger = logging.getLogger(__name__)

REPLY = "conversation.reply"
"""The permission to reply to a conversation's customer."""


@dataclass(frozen=True)
class Decision:
    """The result of a permission check, with the reason given to the caller and the audit."""

    granted: bool
    reason: str


def may_reply(conversation: Conversation, agent_id: uuid.UUID) -> Decision:
    """Granted when ``agent_id`` is an agent of the team the conversation was routed to."""
    team = team_of(agent_id)
    if team is None:
        return Decision(False, "unknown agent")
    if conversation.team_id is None:
        return Decision(False, "conversation is not routed to a team yet")
    if conversation.team_id != team.id:
        return Decision(
            False, f"agent of team {team.name}, conversation of team {conversation.team}"
        )
    return Decision(True, f"agent of team {team.name}")


def check_reply(conversation: Conversation, agent_id: uuid.UUID) -> Decision:
    """Decide whether ``agent_id`` may reply, audit the decision, log a denial; return it."""
    decision = may_reply(conversation, agent_id)
    audit_trail.permission_checked(
        conversation.id,
        agent_id=agent_id,
        permission=REPLY,
        granted=decision.granted,
        reason=decision.reason,
    )
    if not decision.granted:
        logger.warning(
            "auth.permission_denied",
            extra={
                "conversation_id": str(conversation.id),
                "user_id": str(agent_id),
                "permission": REPLY,
                "reason": decision.reason,
            },
        )
    return decision
