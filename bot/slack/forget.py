""" "Forget this workspace": a Slack admin deletes everything the bot keeps of their workspace (issue 16,
item 2), from App Home's admin block or `/thread-note forget-workspace`.

Who may is asked of Slack at every step (`is_workspace_admin`: the button, the command and the submission
each ask again; a button or a submission sent by anyone else is refused in one sentence). The modal names
what goes, counted per kind (`TenantStore.workspace_rows`), and asks for the workspace's name (Slack's
`auth.test` for the bot's token: the workspace the request came from); then `forget_workspace(team, by=<the
admin's user id>)` deletes it all in one transaction (bot/store/tenants.py), and the modal's last view says
what was deleted. The workspace is always the payload's own (`Actor.team_id`, checked against the token's
team before any listener runs): nothing a person sends names another one.
"""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.blockkit import ids
from bot.logs import get_logger
from bot.service.types import Actor
from bot.slack.admins import is_workspace_admin
from bot.slack.deps import Deps
from bot.slack.modals import loading_modal
from bot.slack.replies import update_view
from bot.slack.views.forget import (
    NOT_ADMIN,
    TITLE,
    forget_modal,
    forgotten_modal,
    mistyped,
    notice_modal,
)
from bot.slack.views.modals import progress_modal

log = get_logger(__name__)


async def workspace_name(client: AsyncWebClient, team_id: str) -> str:
    """The workspace's name as Slack shows it (`auth.test`), or its team id when Slack does not say."""
    try:
        return str((await client.auth_test()).get("team") or team_id)
    except SlackApiError:
        return team_id


async def open_forget(deps: Deps, actor: Actor, client: AsyncWebClient, trigger_id: str) -> None:
    """The modal opens at once (a trigger lives 3 s); then, for an admin, the confirmation, counted; for
    anyone else, one sentence in it."""

    async def form() -> View:
        if not await is_workspace_admin(client, actor.user_id, actor.team_id):
            log.info("slack.forget_refused", team_id=actor.team_id, user_id=actor.user_id)
            return notice_modal(NOT_ADMIN)
        rows = await deps.tenants.workspace_rows(actor.team_id)
        return forget_modal(await workspace_name(client, actor.team_id), rows)

    await loading_modal(client, trigger_id, TITLE, "Counting what is stored…", form)


async def forget_open(
    deps: Deps, actor: Actor, ack: Any, body: dict[str, Any], client: AsyncWebClient
) -> None:
    """App Home's "Forget this workspace…" button."""
    await ack()
    deps.metrics.slack_requests.labels("action").inc()
    await open_forget(deps, actor, client, body["trigger_id"])


async def forget_submit(
    deps: Deps, actor: Actor, ack: Any, view: dict[str, Any], client: AsyncWebClient
) -> None:
    """The confirmation, submitted: the name typed must be the workspace's (else the reason beside the
    field); the person must still be an admin; then everything goes, and the modal says what did."""
    deps.metrics.slack_requests.labels("view_submission").inc()
    values = (view.get("state") or {}).get("values") or {}
    typed = str(
        (values.get(ids.FORGET_CONFIRM_BLOCK) or {}).get(ids.FORGET_CONFIRM_INPUT, {}).get("value") or ""
    )
    try:
        name = str(json.loads(view.get("private_metadata") or "{}").get("name") or "")
    except (ValueError, AttributeError):
        name = ""
    if not name or typed.strip().casefold() != name.strip().casefold():
        await ack(
            response_action="errors", errors={ids.FORGET_CONFIRM_BLOCK: mistyped(name or actor.team_id)}
        )
        return
    await ack(response_action="update", view=progress_modal(TITLE, "Deleting…"))
    if not await is_workspace_admin(client, actor.user_id, actor.team_id):
        log.warning("slack.forget_refused", team_id=actor.team_id, user_id=actor.user_id, step="submit")
        await update_view(client, view["id"], notice_modal(NOT_ADMIN))
        return
    forgotten = await deps.tenants.forget_workspace(actor.team_id, by=actor.user_id)
    await update_view(client, view["id"], forgotten_modal(name, forgotten.rows))
