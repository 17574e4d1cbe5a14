"""Channels posted side by side: each conversation keeps its order in every channel, a 429 on one channel
holds up no other, and 429s on several channels at once (Slack's workspace-wide `chat.postMessage` limit) make
the whole workspace wait instead of each channel running into its own. The notifier is driven directly
against the RingCentral emulator and the Slack stand-in over HTTP."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.metrics import Metrics
from bot.notify import Notifier
from bot.service.clients import ClientFactory
from bot.store import Store, TokenCipher
from tests.kit.rc import RcAdmin, RcSandbox
from tests.kit.slack import SlackStandin
from tests.notify.helpers import SUPPORT_THREAD, SUPPORT_THREAD_2, Handler, all_messages, note_id_of
from tests.notify.test_feed import World

CHANNELS = ("handoffs", "general", "support")
INTERVAL = 0.2  # the bot's pace per channel here (Slack's is 1 s): short, so that the tests take seconds


@pytest.fixture
async def world(rc_sandbox: RcSandbox, slack_standin: SlackStandin, tmp_path: Path) -> AsyncIterator[World]:
    store = await Store.open(f"sqlite:///{tmp_path / 'sender.db'}", [TokenCipher.generate_key()])
    service = rc_sandbox.service_user.jwt
    clients = ClientFactory(rc_sandbox.url, rc_sandbox.client_id, rc_sandbox.client_secret, jwt=service)
    notifier = Notifier(
        store, clients.service, slack_standin.client(), Metrics(), poll_interval=1, channel_interval=INTERVAL
    )
    admin = RcAdmin(rc_sandbox.url)
    try:
        yield World(rc_sandbox, admin, slack_standin, store, notifier)
    finally:
        admin.close()
        await clients.aclose()
        await store.close()


@pytest.fixture
def ana(rc_sandbox: RcSandbox) -> Any:
    handler = Handler(rc_sandbox, "Ana Alvarez")
    yield handler
    handler.close()


def conversation(slack: SlackStandin, channel: str, parent_note: str) -> list[str]:
    """The note ids of the Slack thread whose parent shows `parent_note`: the parent, then its replies."""
    for message in slack.messages(slack.channel_id(channel)):
        if note_id_of(message) == parent_note:
            return [str(note_id_of(m)) for m in [message, *(message.get("replies") or [])]]
    return []


def post_times(slack: SlackStandin, channel: str, status: int = 200) -> list[float]:
    channel_id = slack.channel_id(channel)
    return [
        float(c["time"])
        for c in slack.calls("chat.postMessage")
        if c["args"].get("channel") == channel_id and c["status"] == status
    ]


async def subscribe_everywhere(world: World) -> None:
    support = world.rc.resource("Support")
    for channel in CHANNELS:
        await world.subscribe(support, channel)
    await world.notifier.run_once()


SERVE_WAIT = 30.0  # seconds a served notifier gets to show what was written (seconds when all is well)


async def shown_everywhere(world: World, notes: list[str]) -> None:
    """Wait (not blocking the notifier's event loop) until each channel shows `notes` as one conversation."""
    deadline = time.monotonic() + SERVE_WAIT
    while not all(conversation(world.slack, channel, notes[0]) == notes for channel in CHANNELS):
        if time.monotonic() > deadline:
            shown = {channel: conversation(world.slack, channel, notes[0]) for channel in CHANNELS}
            raise AssertionError(f"after {SERVE_WAIT} s the channels show {shown}, not {notes}")
        await asyncio.sleep(0.1)


async def test_channels_post_side_by_side_and_each_conversation_keeps_its_order_in_each(
    world: World, ana: Handler
) -> None:
    await subscribe_everywhere(world)
    written: dict[str, list[str]] = {SUPPORT_THREAD: [], SUPPORT_THREAD_2: []}
    for i in range(8):
        thread = (SUPPORT_THREAD, SUPPORT_THREAD_2)[i % 2]
        written[thread].append(ana.add(thread, f"note {i}")["id"])
    await world.notifier.run_once(send_seconds=10)

    for channel in CHANNELS:
        notes = [note_id_of(m) for m in all_messages(world.slack, channel)]
        assert sorted(n for n in notes if n) == sorted(written[SUPPORT_THREAD] + written[SUPPORT_THREAD_2])
        for ids in written.values():
            assert conversation(world.slack, channel, ids[0]) == ids, f"order in #{channel}"
    # Side by side: the 24 posts took about as long as one channel's 8 at the channel's pace (7 intervals),
    # not 24 of them in turn (23). The stand-in times a post when it reads it: on a loaded host (CI runs three
    # workers on two cores) a post may reach it tens of milliseconds late, hence the margins.
    times = sorted(t for channel in CHANNELS for t in post_times(world.slack, channel))
    assert len(times) == 24
    assert times[-1] - times[0] < 20 * INTERVAL, f"side by side: {times[-1] - times[0]:.2f} s"
    for channel in CHANNELS:
        own = post_times(world.slack, channel)
        gap = min(b - a for a, b in itertools.pairwise(own))
        assert gap >= INTERVAL * 0.75, f"#{channel} paced: {gap:.3f} s between two posts"


async def test_a_429_on_one_channel_holds_up_no_other_and_that_channel_goes_on_in_order_after_it(
    world: World, ana: Handler
) -> None:
    await subscribe_everywhere(world)
    world.slack.fault("chat.postMessage", "ratelimited", channel="handoffs", retry_after=3)
    notes = [ana.add(SUPPORT_THREAD, f"note {i}")["id"] for i in range(3)]
    await world.notifier.run_once(send_seconds=1.5)

    for channel in ("general", "support"):
        assert conversation(world.slack, channel, notes[0]) == notes, f"#{channel} did not wait for #handoffs"
    assert conversation(world.slack, "handoffs", notes[0]) == [], "#handoffs waits out Retry-After"

    await world.notifier.send(max_seconds=5)
    assert conversation(world.slack, "handoffs", notes[0]) == notes
    limited = post_times(world.slack, "handoffs", status=429)
    assert len(limited) == 1 and post_times(world.slack, "handoffs")[0] - limited[0] >= 2.9


async def test_429s_on_several_channels_at_once_make_the_whole_workspace_wait_not_each_channel_in_turn(
    world: World, ana: Handler
) -> None:
    world.slack.channel("create", name="escalations", bot=True)
    channels = (*CHANNELS, "escalations")
    support = world.rc.resource("Support")
    for channel in channels:
        await world.subscribe(support, channel)
    await world.notifier.run_once()
    # The conversation's first note opens its Slack thread in each channel (not limited) …
    first = ana.add(SUPPORT_THREAD, "opens the Slack threads")["id"]
    await world.notifier.run_once(send_seconds=2)
    assert all(conversation(world.slack, c, first) == [first] for c in channels)
    # … then Slack answers 429 in three channels at once: its workspace-wide limit, not theirs.
    for channel in CHANNELS:
        world.slack.fault("chat.postMessage", "ratelimited", channel=channel, retry_after=3)
    replies = [ana.add(SUPPORT_THREAD, f"reply {i}")["id"] for i in range(2)]
    await world.notifier.run_once(send_seconds=8)

    for channel in channels:
        assert conversation(world.slack, channel, first) == [first, *replies], f"#{channel}"
    limited = sorted(t for c in channels for t in post_times(world.slack, c, status=429))
    assert len(limited) == 3, "one 429 per channel Slack limited, no storm"
    # #escalations was never limited itself, yet its second reply (due 0.2 s after its first) waited with
    # the workspace.
    assert post_times(world.slack, "escalations")[-1] - limited[-1] >= 2.9


async def test_serve_posts_each_channel_in_order_and_takes_up_what_later_polls_queue_for_the_same_channels(
    world: World, ana: Handler
) -> None:
    """The way `serve` sends: the scheduled jobs, a task per channel woken when a poll queues its rows."""
    await subscribe_everywhere(world)
    world.notifier.start()
    try:
        first = [ana.add(SUPPORT_THREAD, f"first {i}")["id"] for i in range(4)]
        await shown_everywhere(world, first)
        later = [ana.add(SUPPORT_THREAD, f"later {i}")["id"] for i in range(3)]
        await shown_everywhere(world, first + later)
    finally:
        await world.notifier.stop()

    for channel in CHANNELS:
        notes = [note_id_of(m) for m in all_messages(world.slack, channel)]
        assert notes == first + later, f"#{channel}: each note once, in order"
    assert sum((await world.store.outbox_depths()).values()) == 0
