"""The buttons on channel notifications: "Take over" (`notify_take_over`) and "Resolve" (`notify_resolve`),
value the thread id. ("Add note", `add_note_open`, is handled in actions.py.)

Each acknowledges at once, then acts with the clicking person's own RingCentral token; the parent message then
shows the new state. Refusals (not connected, not a handler, already resolved) are raised to the one error
handler, which tells only that person.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock
from slack_sdk.web.async_client import AsyncWebClient

from bot.blockkit.ids import RESOLVE, TAKE_OVER
from bot.blockkit.text import escape
from bot.blockkit.threads import thread_label
from bot.service.types import Actor
from bot.slack.deps import Deps
from bot.slack.replies import tell_user

JSON = dict[str, Any]
DONE = {TAKE_OVER: "You took over {}.", RESOLVE: "Resolved {}."}


async def thread_button(
    deps: Deps, actor: Actor, ack: Any, body: JSON, action: JSON, client: AsyncWebClient, respond: Any
) -> None:
    """ "Take over" or "Resolve" (the button's value is the thread id), as the person who clicked. It takes
    `respond` so that a refusal goes back through the response_url (the guard's `report`)."""
    await ack()
    deps.metrics.slack_requests.labels("action").inc()
    change = deps.notes.take_over if action["action_id"] == TAKE_OVER else deps.notes.resolve
    thread = await change(actor, str(action["value"]))
    await deps.notifier.thread_changed(thread, actor.team_id)
    said = DONE[action["action_id"]].format(thread_label(thread))
    blocks = [SectionBlock(text=MarkdownTextObject(text=escape(said), verbatim=True))]
    channel = (body.get("channel") or {}).get("id")
    thread_ts = (body.get("message") or {}).get("thread_ts")
    await tell_user(client, actor.user_id, blocks, said, channel_id=channel, thread_ts=thread_ts)
