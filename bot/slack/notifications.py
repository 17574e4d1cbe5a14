"""The buttons on channel notifications: "Take over" (`notify_take_over`) and "Resolve" (`notify_resolve`),
value the thread id. ("Add note", `add_note_open`, is handled in actions.py.)

Each acknowledges at once, then acts with the clicking person's own RingCentral token; the parent message then
shows the new state. Refusals (not connected, not a handler, already resolved) are raised to the one error
handler, which tells only that person.

A button counts only on its own workspace's notifications (`own_notification`): the message's channel must
be one where the bot posts for the presser's workspace (a subscription of that workspace, or a conversation
it posted there for it). A payload of one workspace carrying another's channel and message (a channel seen
from two workspaces, or a forged payload) acts on nothing: with each workspace on its own RingCentral account,
the other's conversations are not the presser's to take over, resolve or write on.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock
from slack_sdk.web.async_client import AsyncWebClient

from bot.blockkit.ids import RESOLVE, TAKE_OVER
from bot.blockkit.text import escape
from bot.blockkit.threads import thread_label
from bot.service.errors import ForeignMessage
from bot.service.types import Actor
from bot.slack.deps import Deps
from bot.slack.replies import tell_user

JSON = dict[str, Any]
DONE = {TAKE_OVER: "You took over {}.", RESOLVE: "Resolved {}."}


async def own_notification(deps: Deps, actor: Actor, body: JSON) -> None:
    """Raise `ForeignMessage` when the button sits on a message in a channel where the bot posts nothing for
    the presser's workspace. A button outside a channel (App Home) is the person's own."""
    channel = (body.get("channel") or {}).get("id")
    message = body.get("message") or {}
    if not channel or not message:
        return
    parent = str(message.get("thread_ts") or message.get("ts") or "")
    if parent and await deps.subscriptions.thread_for_slack_thread(actor.team_id, channel, parent):
        return
    if await deps.store.list_subscriptions(team_id=actor.team_id, channel_id=channel):
        return  # digests and quiet-hours summaries, posted for the channel's subscriptions
    raise ForeignMessage(actor.team_id, str(channel))


async def thread_button(
    deps: Deps, actor: Actor, ack: Any, body: JSON, action: JSON, client: AsyncWebClient, respond: Any
) -> None:
    """ "Take over" or "Resolve" (the button's value is the thread id), as the person who clicked. It takes
    `respond` so that a refusal goes back through the response_url (the guard's `report`)."""
    await ack()
    deps.metrics.slack_requests.labels("action").inc()
    await own_notification(deps, actor, body)
    change = deps.notes.take_over if action["action_id"] == TAKE_OVER else deps.notes.resolve
    thread = await change(actor, str(action["value"]))
    await deps.notifier.thread_changed(thread, actor.team_id)
    said = DONE[action["action_id"]].format(thread_label(thread))
    blocks = [SectionBlock(text=MarkdownTextObject(text=escape(said), verbatim=True))]
    channel = (body.get("channel") or {}).get("id")
    thread_ts = (body.get("message") or {}).get("thread_ts")
    await tell_user(client, actor.user_id, blocks, said, channel_id=channel, thread_ts=thread_ts)
