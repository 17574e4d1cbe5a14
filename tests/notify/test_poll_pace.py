"""The poll interval the bot keeps: on average never shorter than half of RingCentral's Medium budget allows
(3 s at 40 requests a minute), in bursts of up to 5 polls, whatever THREAD_NOTE_POLL_INTERVAL says and however
often webhooks poke. The notifier is scheduled as `serve` schedules it (`Notifier.start()`), against the
emulator at RingCentral's real limits; polls are read from the emulator's request log."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.notify.pace import BURST
from tests.kit.rc import RcSandbox
from tests.kit.slack import SlackStandin
from tests.notify.test_feed import World, make_world

SYNC_ROUTE = "GET /restapi/v1.0/account/{accountId}/message-threads/entries/sync"
pytestmark = pytest.mark.parametrize("sandbox_profile", ["default"], indirect=True)


@pytest.fixture
async def world(rc_sandbox: RcSandbox, slack_standin: SlackStandin, tmp_path: Path) -> AsyncIterator[World]:
    async for w in make_world(rc_sandbox, slack_standin, tmp_path):  # THREAD_NOTE_POLL_INTERVAL=1
        await w.subscribe(w.rc.resource("Support"))
        yield w


async def poll_times(world: World, seconds: float, *, poke_every: float | None = None) -> list[float]:
    """When the emulator saw each entries/sync request (± 0.1 s), the notifier running meanwhile."""
    world.admin.reset_requests()
    world.notifier.start()
    times: list[float] = []
    seen, started, poked = 0, time.monotonic(), 0.0
    try:
        while (now := time.monotonic() - started) < seconds:
            syncs = world.admin.requests()["byRoute"].get(SYNC_ROUTE, 0)
            times += [now] * (syncs - seen)
            seen = syncs
            if poke_every is not None and now - poked >= poke_every:
                world.notifier.poke()  # what a webhook delivery does
                poked = now
            await asyncio.sleep(0.1)
    finally:
        await world.notifier.stop()
    return times


def paced(times: list[float], seconds: float) -> None:
    """At most the burst plus a poll per 3 s earned meanwhile; once the burst is spent, a poll every 3 s (on
    average: the log is read from this loop and a reading can be late, so single gaps are not judged)."""
    assert BURST + 2 <= len(times) <= BURST + seconds / 3 + 1, times
    last = times[-3:]
    assert (last[-1] - last[0]) / 2 >= 2.7, times


async def test_an_interval_of_1_s_is_kept_at_3_s_half_of_40_requests_a_minute(world: World) -> None:
    paced(await poll_times(world, 15.0), 15.0)


async def test_webhook_pokes_do_not_poll_faster_than_the_budget(world: World) -> None:
    paced(await poll_times(world, 15.0, poke_every=0.2), 15.0)


async def test_a_push_after_a_quiet_spell_is_read_at_once(world: World) -> None:
    world.notifier.poll_interval = 300  # only pushes bring notes in
    times = await poll_times(world, 4.0, poke_every=1.5)
    assert len(times) >= 3, times  # the first poll, then each push at once (within the burst)
