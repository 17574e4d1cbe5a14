"""The buttons on channel notifications: "Take over" (`notify_take_over`) and "Resolve" (`notify_resolve`),
value the thread id. ("Add note", `add_note_open`, is handled in actions.py.)

Each acknowledges at once, then acts with the clicking person's own RingCentral token; the parent message then
shows the new state. Refusals (not connected, not a handler, already resolved) are raised to the one error
handler, which tells only that person.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock
from slack_sdk.web.async_client import AsyncWebClient

from bot.blockkit.ids import RESOLVE, TAKE_OVER
from bot.blockkit.text import escape
from bot.blockkit.threads import thread_label
from bot.service.types import Actor
from bot.slack.deps import Deps
from bot.slack.replies import tell_user


def _actor(body: dict[str, Any]) -> Actor:
    team = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id")
    return Actor(str(team), str((body.get("user") or {}).get("id")))


def register(app: AsyncApp, deps: Deps) -> None:
    async def done(client: AsyncWebClient, body: dict[str, Any], actor: Actor, text: str) -> None:
        channel = (body.get("channel") or {}).get("id")
        message = body.get("message") or {}
        blocks = [SectionBlock(text=MarkdownTextObject(text=escape(text), verbatim=True))]
        await tell_user(
            client, actor.user_id, blocks, text, channel_id=channel, thread_ts=message.get("thread_ts")
        )

    @app.action(TAKE_OVER)
    async def take_over(
        ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        deps.metrics.slack_requests.labels("action").inc()
        actor = _actor(body)
        thread = await deps.notes.take_over(actor, str(action["value"]))
        await deps.notifier.thread_changed(thread)
        await done(client, body, actor, f"You took over {thread_label(thread)}.")

    @app.action(RESOLVE)
    async def resolve(ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        deps.metrics.slack_requests.labels("action").inc()
        actor = _actor(body)
        thread = await deps.notes.resolve(actor, str(action["value"]))
        await deps.notifier.thread_changed(thread)
        await done(client, body, actor, f"Resolved {thread_label(thread)}.")
