"""Telling the person in Slack how connecting went, and offering to finish what they were doing.

The Home tab needs no push here: it is rebuilt from the store every time the person opens it.
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import get_logger
from bot.service.accounts import Connected
from bot.service.types import Actor
from bot.slack.views import connect as views

log = get_logger(__name__)


async def announce_connected(client: AsyncWebClient, connected: Connected) -> None:
    ext = connected.extension
    pending = connected.pending or {}
    finish = pending.get("text") if pending.get("kind") == "command" else None
    await _dm(
        client,
        connected.actor,
        views.connected(ext.name or ext.id, ext.id, finish=finish),
        f"You are connected to RingCentral as {ext.name or ext.id}",
    )


async def announce_taken_over(client: AsyncWebClient, earlier: Actor, connected: Connected) -> None:
    """Tell a person linked to an extension that another Slack user has just linked it too."""
    ext = connected.extension
    name = ext.name or ext.id
    who = f"<@{connected.actor.user_id}>" if earlier.team_id == connected.actor.team_id else None
    out = views.link_taken_over(who, name, ext.id)
    await _dm(client, earlier, out, f"Your RingCentral user {name} was linked again")


async def announce_failed(client: AsyncWebClient, actor: Actor, reason: str) -> None:
    await _dm(client, actor, views.connect_failed(reason), "Your RingCentral account was not connected")


async def _dm(client: AsyncWebClient, actor: Actor, out: list, text: str) -> None:  # type: ignore[type-arg]
    try:
        await client.chat_postMessage(channel=actor.user_id, blocks=out, text=text)
    except SlackApiError as exc:  # the browser page already told them; Slack is a courtesy
        log.warning("connect.announce_failed", error=exc.response.get("error"))
