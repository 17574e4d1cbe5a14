"""Direct messages to the people who created subscriptions: one when their subscription pauses, one when the
change feed starts failing and one when it recovers. A workspace that uninstalled the app or a person who
cannot be messaged is logged and skipped: a notice must never stop the job that sends it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block

from bot.logs import get_logger
from bot.notify import messages
from bot.notify.workspaces import NotInstalled, SlackClients
from bot.store.subscriptions import Subscription

log = get_logger(__name__)


async def tell_creator(clients: SlackClients, sub: Subscription, reason: str) -> None:
    """The subscription `sub` paused for `reason`: tell the person who created it."""
    blocks, text = messages.paused_notice(sub.channel_id, sub.resource_name, reason)
    await _dm(clients, sub.team_id, sub.created_by, blocks, text, subscription_id=sub.id)


async def tell_creators(
    clients: SlackClients, subs: Sequence[Subscription], failing: bool, detail: str
) -> None:
    """One DM per subscription creator (per workspace), naming their subscriptions."""
    watched: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for sub in subs:
        watched.setdefault((sub.team_id, sub.created_by), []).append((sub.channel_id, sub.resource_name))
    for (team_id, user_id), theirs in watched.items():
        blocks, text = messages.feed_notice(failing, theirs, detail)
        await _dm(clients, team_id, user_id, blocks, text, user_id=user_id)


async def _dm(
    clients: SlackClients, team: str, person: str, blocks: Sequence[Block], text: str, **about: Any
) -> None:
    try:
        slack = await clients.for_team(team)
        await slack.chat_postMessage(channel=person, blocks=messages.as_dicts(blocks), text=text)
    except NotInstalled:
        log.info("notifier.tell_creator_failed", error="not_installed", **about)
    except SlackApiError as exc:
        log.info("notifier.tell_creator_failed", error=exc.response.get("error"), **about)
