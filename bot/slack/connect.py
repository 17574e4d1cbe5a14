"""Telling the person in Slack how connecting went, and offering to finish what they were doing.

The Home tab needs no push here: it is rebuilt from the store every time the person opens it.
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import get_logger
from bot.service.accounts import Connected
from bot.service.types import Actor
from bot.slack import blocks

log = get_logger(__name__)


async def announce_connected(client: AsyncWebClient, connected: Connected) -> None:
    ext = connected.extension
    pending = connected.pending or {}
    finish = pending.get("text") if pending.get("kind") == "command" else None
    await _dm(client, connected.actor, blocks.connected(ext.name or ext.id, ext.id, finish=finish),
              f"You are connected to RingCentral as {ext.name or ext.id}")


async def announce_failed(client: AsyncWebClient, actor: Actor, reason: str) -> None:
    await _dm(client, actor, blocks.connect_failed(reason), "Your RingCentral account was not connected")


async def _dm(client: AsyncWebClient, actor: Actor, out: list, text: str) -> None:  # type: ignore[type-arg]
    try:
        await client.chat_postMessage(channel=actor.user_id, blocks=out, text=text)
    except SlackApiError as exc:  # the browser page already told them; Slack is a courtesy
        log.warning("connect.announce_failed", error=exc.response.get("error"))
