"""Triage: which team handles a conversation, and which of its agents gets it.

Routing reads the customer's words (billing words go to billing, account trouble to support,
the rest to sales); agents of a team take conversations in turn (a Redis counter shared by
all worker processes)::

    team = route("My card was charged twice")      # TEAMS["billing"]
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

_NAMESPACE = uuid.UUID("6f1c3c1e-3f0d-4d8e-9a51-7a0c2b0c6e11")

AGENT_CAPACITY = 5
"""Conversations an agent handles at once (``agent_utilization_ratio`` = active / capacity)."""


@dataclass(frozen=True)
class Team:
    """A team and its agents (ids are stable across restarts)."""

    name: str
    id: uuid.UUID
    agents: tuple[uuid.UUID, ...]


def _team(name: str, agents: int) -> Team:
    return Team(
        name=name,
        id=uuid.uuid5(_NAMESPACE, f"team:{name}"),
        agents=tuple(uuid.uuid5(_NAMESPACE, f"agent:{name}:{n}") for n in range(agents)),
    )


TEAMS: dict[str, Team] = {
    team.name: team
    for team in (
        _team("sales", 3),
        _team("billing", 2),
        _team("support", 2),
    )
}

_ROUTES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(card|charge[ds]?|refund|invoice|payment|bill)\b", re.I), "billing"),
    (re.compile(r"\b(password|log ?in|account|error|broken|reset)\b", re.I), "support"),
)


def route(text: str) -> Team:
    """The team for a conversation whose latest customer message is ``text``."""
    for pattern, team in _ROUTES:
        if pattern.search(text):
            return TEAMS[team]
    return TEAMS["sales"]


def team_of(agent_id: uuid.UUID) -> Team | None:
    """The team ``agent_id`` belongs to, or None for an unknown agent."""
    for team in TEAMS.values():
        if agent_id in team.agents:
            return team
    return None
