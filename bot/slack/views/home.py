"""App Home, and `/thread-note status`: both say who the person is connected to RingCentral as.

Home shows the person's open and assigned conversations with their latest note and an "Add note" button,
and the channels subscribed to their resources, within Slack's 100 blocks per view; status shows each health
check by name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from slack_sdk.models.blocks import Block, DividerBlock
from slack_sdk.models.views import View

from bot.blockkit import ids
from bot.blockkit.limits import VIEW_BLOCKS
from bot.blockkit.primitives import button, context, header, section
from bot.blockkit.text import clip, escape, fit
from bot.blockkit.threads import thread_label
from bot.ringcentral.models import Note, Thread
from bot.slack.views.notes import format_time

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")


def _channel_mention(channel_id: str) -> str:
    return f"<#{channel_id}>" if _CHANNEL_ID.match(channel_id) else escape(channel_id)


def _connected_name(connected_as: str | tuple[str, str] | None) -> str | None:
    if isinstance(connected_as, tuple):
        extension_id, name = connected_as
        return f"{name} (extension id {extension_id})" if name else f"extension id {extension_id}"
    return connected_as


def home_view(
    *,
    connected_as: str | tuple[str, str] | None,
    connect_url: str | None,
    threads: Sequence[tuple[Thread, Note | None]],
    subscriptions: Sequence[tuple[str, str]] = (),
    tz_name: str | None = None,
    admin: Sequence[Block] = (),
) -> View:
    """The App Home tab: connection state (a `connect_open` button when not connected), the person's open and
    assigned threads with their latest note and an "Add note" button (`add_note_open`, value thread id), and
    the channels subscribed to their resources as (channel id, resource name), and `admin` (a workspace
    admin's RingCentral account card) after the connection state. `connected_as` is a name or
    `Accounts.linked`'s (extension id, name)."""
    blocks: list[Block] = [header("Thread notes")]
    name = _connected_name(connected_as)
    if name:
        blocks.append(context(f":large_green_circle: Connected to RingCentral as *{escape(name)}*."))
    else:
        connect = (
            button("Connect RingCentral", ids.CONNECT_OPEN, style="primary", url=connect_url)
            if connect_url
            else None
        )
        blocks.append(
            section(
                "Connect your RingCentral account to add and see thread notes from Slack.", accessory=connect
            )
        )
    blocks += admin
    sub_blocks: list[Block] = [DividerBlock(), header("Subscribed channels")]
    if subscriptions:
        lines = [f"{_channel_mention(c)} · {escape(r)}" for c, r in subscriptions]
        shown = lines[:40]
        text = "\n".join(shown)
        if len(lines) > len(shown):
            text += f"\n… and {len(lines) - len(shown):,} more"
        sub_blocks.append(section(text))
    else:
        sub_blocks.append(
            context("No channel receives your queues' notes yet: `/thread-note subscribe` in a channel.")
        )

    blocks += [DividerBlock(), header("Your open conversations")]
    if not threads:
        blocks.append(context("No open conversations are assigned to you or waiting in your queues."))
    room = VIEW_BLOCKS - len(blocks) - len(sub_blocks) - 1
    shown_threads = threads if len(threads) <= room + 1 else threads[:room]
    for thread, latest in shown_threads:
        text = f"*{escape(thread_label(thread))}*"
        if latest is not None and latest.text:
            when = format_time(latest.creation_time, tz_name)
            text += f"\n_{escape(latest.author_name)} · {when}:_ {fit(' '.join(latest.text.split()), 300)}"
        else:
            text += "\n_No notes yet._"
        add = button("Add note", ids.ADD_NOTE_OPEN, thread.id) if thread.is_open else None
        blocks.append(section(text, accessory=add))
    if len(shown_threads) < len(threads):
        blocks.append(context(f"… and {len(threads) - len(shown_threads):,} more open conversations."))
    return View(type="home", blocks=[*blocks, *sub_blocks])


def _describe(value: object, tz_name: str | None) -> str:
    if isinstance(value, bool):
        return ":white_check_mark: ok" if value else ":x: failing"
    if isinstance(value, datetime):
        return format_time(value, tz_name)
    if value is None:
        return "—"
    return escape(clip(str(value), 300))


def status_card(
    *,
    connected_as: str | tuple[str, str] | None,
    health: Mapping[str, object] | None = None,
    tz_name: str | None = None,
) -> list[Block]:
    """`/thread-note status`: who you are connected as, and each health check by name (booleans as ok /
    failing, times in your zone, anything else as text)."""
    name = _connected_name(connected_as)
    who = (
        f"You're connected to RingCentral as *{escape(name)}*."
        if name
        else ("You're not connected to RingCentral: `/thread-note connect`.")
    )
    blocks: list[Block] = [header("thread-note status"), section(who)]
    if health:
        lines = [f"*{escape(str(k).replace('_', ' '))}*: {_describe(v, tz_name)}" for k, v in _items(health)]
        blocks.append(section("\n".join(lines[:30])))
    return blocks


def _items(health: Mapping[str, object]) -> Iterable[tuple[str, object]]:
    for key, value in health.items():
        if isinstance(value, Mapping):
            for sub, inner in value.items():
                yield f"{key} {sub}", inner
        else:
            yield key, value
