"""Who is a workspace admin: the one rule for every admin action in Slack (App Home's admin blocks,
`/thread-note forget-workspace`, `/thread-note setup`), as the listeners ask it.

An admin is a person whose Slack `users.info` says `is_admin`, `is_owner` or `is_primary_owner`, of this
workspace: a person of another organisation in a Slack Connect channel is an admin of theirs at most
(`users.info` gives their own organisation's `team_id`), so they are none here. Asked afresh each time (a
person demoted a minute ago is no admin now); when Slack cannot say, the answer is no. The rule itself lives
one layer down (bot/notify/shared.py `is_workspace_admin`), where the subscriptions' admin rights read it too.
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import get_logger
from bot.notify import shared
from bot.service.types import Actor

log = get_logger(__name__)


async def is_workspace_admin(client: AsyncWebClient, user_id: str, team_id: str | None = None) -> bool:
    """Whether `user_id` is an admin or owner of the workspace `client`'s token belongs to. `team_id` is
    that workspace (the payload's, as `Actor.team_id`); without it `auth.test` names it."""
    if team_id is None:
        try:
            team_id = str((await client.auth_test()).get("team_id") or "")
        except SlackApiError as exc:
            log.info("slack.admin_unknown", user_id=user_id, error=exc.response.get("error"))
            return False
    return bool(team_id) and await shared.is_workspace_admin(client, Actor(team_id, user_id))
