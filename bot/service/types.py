from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """A person in Slack: the workspace and the user. Every write is made as this person."""

    team_id: str
    user_id: str
