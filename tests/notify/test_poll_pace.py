"""The poll interval the bot keeps: on average never shorter than half of RingCentral's Medium budget allows
(3 s at 40 requests a minute), in bursts of up to 5 polls, whatever THREAD_NOTE_POLL_INTERVAL says and however
often webhooks poke. The notifier is scheduled as `serve` schedules it (`Notifier.start()`), against the
emulator at RingCentral's real limits; polls are counted in the emulator's request log, against what the pace
allows by the time of each reading (a count, not the gaps between polls: a loaded machine only slows them)."""

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


async def polls_within_the_pace(
    world: World, polls: int, *, poke_every: float | None = None, limit: float = 120.0
) -> None:
    """Run the notifier until the emulator has seen `polls` entries/sync requests (a poll each here), and
    check at every reading that it has seen no more than the pace allows by then: the burst, plus one per
    interval since the notifier started. Readings come late on a loaded machine, which loosens the check,
    never breaks it; the count is reached however slowly polls go (within `limit` seconds)."""
    interval = world.notifier.feed.min_interval()
    assert interval == pytest.approx(3.0), "half of RingCentral's 40 requests a minute"
    world.admin.reset_requests()
    started = poked = time.monotonic()
    world.notifier.start()
    try:
        while True:
            seen = world.admin.requests()["byRoute"].get(SYNC_ROUTE, 0)
            elapsed = time.monotonic() - started
            assert seen <= BURST + elapsed / interval, f"{seen} polls in {elapsed:.1f} s"
            if seen >= polls:
                return
            assert elapsed < limit, f"only {seen} polls in {limit} s"
            if poke_every is not None and time.monotonic() - poked >= poke_every:
                world.notifier.poke()  # what a webhook delivery does
                poked = time.monotonic()
            await asyncio.sleep(0.1)
    finally:
        await world.notifier.stop()


async def test_an_interval_of_1_s_is_kept_at_3_s_half_of_40_requests_a_minute(world: World) -> None:
    await polls_within_the_pace(world, BURST + 4)


async def test_webhook_pokes_do_not_poll_faster_than_the_budget(world: World) -> None:
    await polls_within_the_pace(world, BURST + 4, poke_every=0.2)


async def test_each_push_after_a_quiet_spell_is_read_within_the_burst(world: World) -> None:
    world.notifier.poll_interval = 3600  # only pushes bring notes in: any poll after the first is a push's
    world.admin.reset_requests()
    world.notifier.start()
    try:
        for polls in range(1, BURST + 1):  # the first poll, then a poll for each push, none held back
            started = poked = time.monotonic()
            while world.admin.requests()["byRoute"].get(SYNC_ROUTE, 0) < polls:
                assert time.monotonic() - started < 60, f"push {polls - 1} was not read"
                if polls > 1 and time.monotonic() - poked >= 1:  # again: a push while a poll runs is dropped
                    world.notifier.poke()
                    poked = time.monotonic()
                await asyncio.sleep(0.1)
    finally:
        await world.notifier.stop()
