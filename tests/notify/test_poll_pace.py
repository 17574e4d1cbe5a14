"""The poll interval the bot keeps: never shorter than half of RingCentral's Medium budget allows (3 s at 40
requests a minute), whatever THREAD_NOTE_POLL_INTERVAL says and however often webhooks poke.
The notifier is scheduled as `serve` schedules it (`Notifier.start()`), against the emulator at RingCentral's
real limits; polls are read from the emulator's request log."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

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


async def test_an_interval_of_1_s_is_kept_at_3_s_half_of_40_requests_a_minute(world: World) -> None:
    times = await poll_times(world, 10.0)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert 3 <= len(times) <= 5, times
    assert min(gaps) >= 2.7, gaps


async def test_webhook_pokes_do_not_poll_faster_than_the_budget(world: World) -> None:
    times = await poll_times(world, 10.0, poke_every=0.2)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert 3 <= len(times) <= 5, times
    assert min(gaps) >= 2.7, gaps
