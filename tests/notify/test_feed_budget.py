"""What a poll costs RingCentral, counted where the requests land (the emulator's log of the service
identity's requests), with 25 subscribed call queues: idle polls and the periodic sweep, the recovery after a
lost sync token spread over polls, and the thread lookups of notes in conversations the bot has not seen.
Driven with `notifier.run_once()` against the emulator over HTTP and the Slack stand-in; nothing is posted
twice."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.sandbox.ringcentral.settings import SandboxSettings
from tests.kit.rc import RcSandbox, start_rc_sandbox
from tests.kit.slack import SlackStandin
from tests.notify.helpers import Handler, shown, with_note
from tests.notify.test_feed import SEEDS, World, make_world

QUEUES = 25  # three batches of reconciliation (10 owner ids a list)
FIRST_QUEUE = 63000000
ANA = "62001001"
SERVICE = "62001099"
MT_ROUTE = "GET /restapi/v1.0/account/{accountId}/message-threads"
LOOKUPS = (MT_ROUTE, MT_ROUTE + "/{threadId}")


def queue(i: int) -> str:
    return str(FIRST_QUEUE + i)


def old_thread(i: int) -> str:
    """A conversation of queue `i` started two hours ago, with no note yet."""
    return f"00000000-0000-4000-8000-{i:012d}"


def _seed() -> dict[str, Any]:
    seed: dict[str, Any] = yaml.safe_load((SEEDS / "demo.yml").read_text())
    for i in range(QUEUES):
        seed["resources"].append(
            {"id": queue(i), "name": f"Queue {i}", "extensionNumber": str(7000 + i),
             "phoneNumbers": [f"+1650555{2000 + i:04d}"], "handlers": [ANA, SERVICE]}
        )  # fmt: skip
        seed["threads"].append(
            {"id": old_thread(i), "resource": queue(i), "guest": f"+1415777{i:04d}",
             "messages": [{"direction": "Inbound", "text": "hello", "ago": "2h"}]}
        )  # fmt: skip
    return seed


@pytest.fixture
def rc_sandbox(rc_sandbox_settings: SandboxSettings) -> Iterator[RcSandbox]:
    sandbox = start_rc_sandbox(_seed(), rc_sandbox_settings)
    yield sandbox
    sandbox.server.stop()


@pytest.fixture
async def world(rc_sandbox: RcSandbox, slack_standin: SlackStandin, tmp_path: Path) -> AsyncIterator[World]:
    async for w in make_world(rc_sandbox, slack_standin, tmp_path):
        # Counting, not pacing: Ana's writes and the bot's polls stay clear of the Medium limit.
        w.admin.config(rateLimits={"Medium": {"limit": 100_000}})
        for i in range(QUEUES):
            await w.subscribe(queue(i))
        await w.notifier.run_once()
        yield w


@pytest.fixture
def ana(rc_sandbox: RcSandbox) -> Iterator[Handler]:
    handler = Handler(rc_sandbox, "Ana Alvarez")
    yield handler
    handler.close()


def lookups(world: World) -> int:
    """The service identity's thread lookups since the last reset: list pages and single threads."""
    by_route = world.admin.requests()["byRouteAndUser"]
    return sum(by_route.get(route, {}).get(SERVICE, 0) for route in LOOKUPS)


async def counted_poll(world: World) -> int:
    world.admin.reset_requests()
    result = await world.notifier.run_once()
    assert result is not None and result.requests_ok
    return world.api_requests()


def posted_once(world: World, note_ids: list[str]) -> bool:
    return all(len(with_note(world.slack, "handoffs", nid)) == 1 for nid in note_ids)


async def test_idle_polls_cost_one_request_and_the_periodic_sweep_one_more_every_12th(world: World) -> None:
    started = datetime.now(UTC)
    every = world.notifier.feed.reconciler.every
    polls = (2 * math.ceil(QUEUES / 10) + 1) * every  # a whole round (threads, then notes), and a step more
    costs = [await counted_poll(world) for _ in range(polls)]
    assert max(costs) <= 2, costs
    steps = sum(costs) - polls
    assert polls // every <= steps <= polls // every + 1, "one request a poll, one more every 12th"
    assert sum(costs) / polls <= 1.1
    states = await world.store.feed_resource_states(account="")
    reconciled = [states[queue(i)].last_reconciled_at for i in range(QUEUES)]
    assert all(at is not None and at >= started for at in reconciled), "the round covered every queue"


async def test_after_a_lost_token_new_notes_come_first_and_reconciliation_is_spread_within_2_a_poll(
    world: World, ana: Handler
) -> None:
    posted = ana.add(old_thread(3), "posted, then deleted while the token is dead")
    await world.notifier.run_once()
    assert world.admin.expire_sync_tokens() >= 1
    known = ana.add(old_thread(3), "in a conversation the bot knows")
    fresh = world.admin.new_thread(queue(14), "+14155550777")["id"]
    new = ana.add(fresh, "first note of a new conversation")
    ana.delete(posted["id"])
    in_resolved = ana.add(old_thread(22), "then the conversation was resolved")
    ana.http.post(f"/restapi/v1.0/account/~/message-threads/{old_thread(22)}/resolve").raise_for_status()

    first = await counted_poll(world)
    assert posted_once(world, [known["id"], new["id"]]), "the notes written meanwhile, on the first poll"
    assert not with_note(world.slack, "handoffs", in_resolved["id"]), "a full sync has no resolved thread"
    # The token refused, the full sync and the lookup of the new conversation; new notes come first.
    assert first <= 3

    costs = await world.reconcile_after_loss(max_polls=4 * math.ceil(QUEUES / 10) + 2)
    assert max(costs) <= 2, costs
    assert sum(costs) <= len(costs) + 4 * math.ceil(QUEUES / 10), "grows with the queues ÷ 10"
    assert posted_once(world, [known["id"], new["id"], in_resolved["id"]])
    struck = with_note(world.slack, "handoffs", posted["id"])
    assert len(struck) == 1 and "(deleted)" in shown(struck[0])
    again = [await counted_poll(world) for _ in range(3)]
    assert again == [1, 1, 1], "reconciled: back to one request a poll"


@pytest.mark.parametrize("sandbox_profile", ["default"], indirect=True)
async def test_a_restarted_bot_carries_on_with_the_recovery_where_it_stopped(
    world: World, rc_sandbox: RcSandbox, slack_standin: SlackStandin, tmp_path: Path
) -> None:
    lost = datetime.now(UTC)
    assert world.admin.expire_sync_tokens() >= 1
    costs = [await counted_poll(world) for _ in range(3)]  # the refused token and the full sync, two steps
    await world.notifier.stop()  # the process stops (its lease on the feed goes with it)
    async for other in make_world(rc_sandbox, slack_standin, tmp_path):  # a new process, the same database
        rest = [await counted_poll(other) for _ in range(2 * math.ceil(QUEUES / 10))]
        states = await other.store.feed_resource_states(account="")
    steps = sum(costs) + sum(rest) - len(costs) - len(rest) - 1  # less a sync a poll and the refused token
    assert steps == 2 * math.ceil(QUEUES / 10), "threads and notes of each batch once: the cursor was kept"
    assert max(costs + rest) <= 2, (costs, rest)
    assert rest[-2:] == [1, 1], "done"
    for i in range(QUEUES):
        at = states[queue(i)].last_reconciled_at
        assert at is not None and at >= lost


async def test_a_burst_of_notes_in_new_conversations_costs_one_listing_not_a_lookup_each(
    world: World, ana: Handler
) -> None:
    burst = 30
    notes = []
    for i in range(burst):
        thread = world.admin.new_thread(queue(i % QUEUES), f"+1415888{i:04d}")["id"]
        notes.append(ana.add(thread, f"burst {i}")["id"])
    world.admin.reset_requests()
    result = await world.notifier.run_once(send_seconds=10)
    assert result is not None and result.requests_ok
    assert lookups(world) <= 1 + math.ceil(burst / 250), lookups(world)
    assert posted_once(world, notes)


async def test_notes_in_older_conversations_never_seen_are_found_by_listing_the_open_ones(
    world: World, ana: Handler
) -> None:
    notes = [ana.add(old_thread(i), f"first note here {i}")["id"] for i in range(10)]
    world.admin.reset_requests()
    await world.notifier.run_once(send_seconds=10)
    # The listing of new conversations (none of these), then one of the Open ones: 2, not 10.
    assert lookups(world) <= 3, lookups(world)
    assert posted_once(world, notes)
    world.admin.reset_requests()
    more = [ana.add(old_thread(i), f"second note here {i}")["id"] for i in range(10)]
    await world.notifier.run_once(send_seconds=10)
    assert lookups(world) == 0, "their threads are cached"
    assert posted_once(world, more)
