"""Slack Connect: whether a channel is shared with another organisation (pure), and whether a person is an
admin of their own workspace (`users.info`).

Notes are internal and hold customer details, so a channel that people of another organisation can read
(or are invited to) never receives them. `conversations.info` says so in several fields: `is_ext_shared`,
`is_pending_ext_shared`, `is_shared` (which alone, without `is_org_shared`, means another organisation),
`shared_team_ids` / `pending_connected_team_ids` / `pending_shared` (team ids) and `conversation_host_id`.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.service.types import Actor


def other_organisations(info: dict[str, Any], team_id: str) -> list[str]:
    """The team ids of the other organisations in (or invited to) the channel; `["another organisation"]`
    when Slack says it is shared without naming them; `[]` when only `team_id`'s own organisation is in."""
    flagged = bool(
        info.get("is_ext_shared")
        or info.get("is_pending_ext_shared")
        or (info.get("is_shared") and not info.get("is_org_shared"))
    )
    own = {team_id, *(info.get("internal_team_ids") or ())}
    ids: list[str] = []
    for key in ("shared_team_ids", "pending_connected_team_ids", "pending_shared"):
        for team in info.get(key) or ():
            if isinstance(team, str) and team not in own and team not in ids:
                ids.append(team)
    host = info.get("conversation_host_id")
    if isinstance(host, str) and host and host not in own and host not in ids:
        ids.append(host)
    if ids:
        return ids
    return ["another organisation"] if flagged else []


def external_person(user: dict[str, Any], team_id: str) -> bool:
    """A person of another organisation (`users.info` gives their own organisation's `team_id`)."""
    return user.get("team_id") not in (None, team_id)


async def is_workspace_admin(slack: AsyncWebClient, actor: Actor) -> bool:
    """A Slack admin or owner of the actor's own workspace. A person of another organisation (in a shared
    channel) is an admin of theirs at most: `users.info` says so with their own `team_id`."""
    try:
        user = (await slack.users_info(user=actor.user_id)).get("user") or {}
    except SlackApiError:
        return False
    if external_person(user, actor.team_id):
        return False
    return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
