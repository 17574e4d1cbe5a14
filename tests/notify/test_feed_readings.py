"""The change feed under each reading of RingCentral's sync docs (profiles), driven directly
(`notifier.run_once()` / `notifier.poll()`) against the emulator over HTTP and the Slack stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.notify.feed import TOKEN_KEY
from bot.notify.health import FAILING_AFTER
from bot.sandbox.profiles import DEFAULT
from tests.kit.bot import texts
from tests.kit.rc import RcSandbox
from tests.kit.slack import SlackStandin
from tests.notify.helpers import SUPPORT_THREAD, SUPPORT_THREAD_2, Handler, shown, with_note
from tests.notify.test_feed import World, make_world

SYNC_PATH = "/restapi/v1.0/account/~/message-threads/entries/sync"


@pytest.fixture
async def world(rc_sandbox: RcSandbox, slack_standin: SlackStandin, tmp_path: Path) -> AsyncIterator[World]:
    async for w in make_world(rc_sandbox, slack_standin, tmp_path):
        yield w


@pytest.fixture
def ana(rc_sandbox: RcSandbox) -> Handler:
    return Handler(rc_sandbox, "Ana Alvarez")


def _dms(world: World, user: str) -> list[str]:
    uid = world.slack.user_id(user)
    return [
        texts(c["args"]) for c in world.slack.calls("chat.postMessage") if c["args"].get("channel") == uid
    ]


@pytest.mark.parametrize("sandbox_profile", ["unknown-sync-records"], indirect=True)
async def test_unknown_records_and_system_entries_are_skipped_and_counted_and_the_feed_goes_on(
    world: World, ana: Handler
) -> None:
    await world.subscribe(world.rc.resource("Support"))
    await world.notifier.run_once()
    try:
        first = ana.add(SUPPORT_THREAD, "next to an unknown record")
        result = await world.notifier.run_once()
        second = ana.add(SUPPORT_THREAD_2, "and the poll after")
        again = await world.notifier.run_once()
    finally:
        ana.close()
    assert result is not None and result.requests_ok and again is not None and again.requests_ok
    assert result.skipped.get("unknown_type") and result.skipped.get("system_entry")
    for note in (first, second):
        assert len(with_note(world.slack, "handoffs", note["id"])) == 1


@pytest.mark.parametrize("sandbox_profile", ["capped-sync"], indirect=True)
async def test_a_capped_sync_is_followed_within_the_poll_and_nothing_is_lost_or_queued_twice(
    world: World, ana: Handler
) -> None:
    world.admin.config(rateLimits={"Medium": {"limit": 100_000}})  # the handler writes 300 notes at once
    sub = await world.subscribe(world.rc.resource("Support"))
    await world.notifier.poll()
    try:
        ids = [ana.add((SUPPORT_THREAD, SUPPORT_THREAD_2)[i % 2], f"note {i}")["id"] for i in range(300)]
    finally:
        ana.close()
    result = await world.notifier.poll()
    assert result.requests_ok and result.syncs == 2, "250 records, then the rest with the token handed back"
    again = await world.notifier.poll()
    assert again.syncs == 1 and again.queued == 0
    queued = [r.note_id for r in await world.store.outbox_rows(sub.id) if r.kind == "note"]
    assert sorted(queued) == sorted(ids)


@pytest.mark.parametrize(
    "sandbox_profile", [replace(DEFAULT, name="cap-1000", sync_record_cap=1000)], indirect=True
)
async def test_the_full_sync_asks_for_250_records_as_ringcentrals_clients_do(
    world: World, ana: Handler
) -> None:
    """A server that would give 1,000 at once gives the 250 asked for; the rest follows with the token handed
    back, on the next poll here: the first poll's sign-in and full sync spend its budget of 2 requests."""
    world.admin.config(rateLimits={"Medium": {"limit": 100_000}})
    try:
        for i in range(300):  # open notes for the full sync, before the first poll
            ana.add((SUPPORT_THREAD, SUPPORT_THREAD_2)[i % 2], f"old note {i}")
    finally:
        ana.close()
    await world.subscribe(world.rc.resource("Support"))
    result = await world.notifier.poll()
    assert result.requests_ok and result.full_resync
    assert result.records == 250, "the 250 asked for, not the 1,000 the server would give"
    rest = await world.notifier.poll()
    assert rest.requests_ok and not rest.full_resync, "the rest with the token handed back, not a new sync"
    assert 300 <= result.records + rest.records < 250 * 2
    assert max(result.requests, rest.requests) <= 2


@pytest.mark.parametrize("sandbox_profile", ["no-deleted-listing", "strict"], indirect=True)
async def test_without_a_listing_of_deleted_notes_reconciliation_infers_deletions(
    world: World, ana: Handler
) -> None:
    await world.subscribe(world.rc.resource("Support"))
    await world.notifier.run_once()
    try:
        kept = ana.add(SUPPORT_THREAD, "still here")
        gone = ana.add(SUPPORT_THREAD_2, "deleted while the token was dead")
        await world.notifier.run_once()
        assert world.admin.expire_sync_tokens() >= 1
        ana.delete(gone["id"])
        result = await world.notifier.run_once()
        costs = await world.reconcile_after_loss()
    finally:
        ana.close()
    assert result is not None and result.full_resync
    assert all(cost <= 2 for cost in costs), costs
    struck = with_note(world.slack, "handoffs", gone["id"])
    assert len(struck) == 1 and "(deleted)" in shown(struck[0])
    alive = with_note(world.slack, "handoffs", kept["id"])
    assert len(alive) == 1 and "(deleted)" not in shown(alive[0])


@pytest.mark.parametrize("sandbox_profile", ["default", "strict"], indirect=True)
async def test_a_feed_failing_poll_after_poll_stops_resending_its_token_and_tells_the_creator_once(
    world: World, ana: Handler
) -> None:
    await world.subscribe(world.rc.resource("Support"))
    await world.notifier.run_once()
    token = await world.store.get_state(TOKEN_KEY)
    try:
        world.admin.fault("status", path=SYNC_PATH, status=500, retry_after=0)
        during = ana.add(SUPPORT_THREAD, "written while the feed fails")
        for poll in range(FAILING_AFTER + 1):
            failed = await world.notifier.run_once()
            assert failed is not None and not failed.requests_ok
            assert failed.token_dropped == (poll >= FAILING_AFTER), poll
        assert failed.health.failing and "failing since" in failed.health.describe()
        assert len(_dms(world, "alice")) == 1, "told once, not on every poll"
        assert "cannot read RingCentral" in _dms(world, "alice")[0]
        world.admin.clear_faults()
        recovered = await world.notifier.run_once()
        assert len(with_note(world.slack, "handoffs", during["id"])) == 1, "posted on the first good poll"
        await world.reconcile_after_loss()
    finally:
        ana.close()
    assert recovered is not None and recovered.requests_ok
    assert recovered.token_dropped and recovered.full_resync
    assert await world.store.get_state(TOKEN_KEY) != token
    assert len(with_note(world.slack, "handoffs", during["id"])) == 1
    dms = _dms(world, "alice")
    assert len(dms) == 2 and "again" in dms[1]


@pytest.mark.parametrize("sandbox_profile", ["default"], indirect=True)
async def test_a_cap_below_the_record_count_still_loses_nothing(
    slack_standin: SlackStandin, tmp_path: Path
) -> None:
    """A server capping below the 250 the bot asks for: what did not fit comes on the next polls."""
    from tests.kit.rc import sandbox_test_settings, start_rc_sandbox

    rc = start_rc_sandbox("demo", sandbox_test_settings(replace(DEFAULT, name="cap-2", sync_record_cap=2)))
    try:
        async for world in make_world(rc, slack_standin, tmp_path):
            ana = Handler(rc, "Ana Alvarez")
            try:
                await world.subscribe(rc.resource("Support"))
                await world.notifier.run_once()
                ids = [ana.add(SUPPORT_THREAD, f"capped {i}")["id"] for i in range(5)]
                for _ in range(30):  # the seed's open notes owed by the capped FSync, then these
                    result = await world.notifier.run_once()
                    assert result is not None and result.syncs == 1 and result.records <= 2
                    if all(with_note(world.slack, "handoffs", i) for i in ids):
                        break
            finally:
                ana.close()
            for note_id in ids:
                assert len(with_note(world.slack, "handoffs", note_id)) == 1
    finally:
        rc.server.stop()
