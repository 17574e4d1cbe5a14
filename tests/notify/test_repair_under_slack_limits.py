"""Exactly-once into Slack as Slack really behaves: tier-1 history limits for apps outside the Marketplace
(one request a minute, 15 messages a page, replies oldest first) and posts whose answer never comes but which
land anyway. The notifier is driven directly (`await notifier.run_once()`) on an injected clock that the test
moves, against the Slack stand-in over HTTP."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.notify import messages
from bot.notify.feed import note_json
from bot.notify.posting import CLOCK_SKEW
from bot.ringcentral.models import Note
from bot.store.outbox import OutboxEntry
from bot.store.quiet_hours import SUMMARY
from bot.store.subscriptions import Subscription
from tests.kit.bot import wait_for
from tests.kit.rc import RcSandbox
from tests.kit.slack import SlackRequests, SlackStandin
from tests.notify.helpers import SUPPORT_THREAD, Clock, Handler, with_note
from tests.notify.test_crash_restart import (  # noqa: F401 - bot_env is a fixture
    BotProcess,
    bot_env,
    subscribed_bot,
)
from tests.notify.test_feed import World, make_world

CLIENT_TIMEOUT = 2.0  # the bot's own is 10 s; shorter here so that a hang past it costs seconds, not tens


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def world(
    rc_sandbox: RcSandbox, slack_standin: SlackStandin, tmp_path: Path, clock: Clock
) -> AsyncIterator[World]:
    async for w in make_world(rc_sandbox, slack_standin, tmp_path, clock=clock, timeout=CLIENT_TIMEOUT):
        yield w


@pytest.fixture
def ana(rc_sandbox: RcSandbox) -> Any:
    handler = Handler(rc_sandbox, "Ana Alvarez")
    yield handler
    handler.close()


async def row_of(world: World, note_id: str, sub: Subscription) -> Any:
    return next(
        r for r in await world.store.outbox_rows() if r.note_id == note_id and r.subscription_id == sub.id
    )


@pytest.mark.parametrize("sandbox_profile", ["slack-tier1-history", "strict"], indirect=True)
async def test_a_crash_mid_post_in_a_thread_of_more_than_15_replies_is_repaired_not_posted_twice(
    world: World, ana: Handler, clock: Clock
) -> None:
    support = world.rc.resource("Support")
    handoffs = await world.subscribe(support, "handoffs")
    await world.subscribe(support, "general")
    await world.notifier.run_once()
    opening = ana.add(SUPPORT_THREAD, "opens the conversation's Slack thread")
    await world.notifier.run_once(send_seconds=3)
    parent = with_note(world.slack, "handoffs", opening["id"])
    assert len(parent) == 1 and len(with_note(world.slack, "general", opening["id"])) == 1
    for i in range(20):  # people talk in the Slack thread: the note's reply will be the 22nd message
        world.slack.post_as("bob", "handoffs", f"reply {i}", thread_ts=parent[0]["ts"])

    note = Note.model_validate(ana.add(SUPPORT_THREAD, "posted by a process that then died"))
    entry = OutboxEntry(handoffs.id, note.id, note.version, "note", note.thread_id, note_json(note))
    await world.store.enqueue([entry])
    row = await row_of(world, note.id, handoffs)
    await world.store.mark_attempt(row.id)  # what the dead process committed before posting …
    await world.slack.client().chat_postMessage(  # … and what it posted, as a reply, before dying
        channel=world.slack.channel_id("handoffs"),
        thread_ts=parent[0]["ts"],
        text="posted by a process that then died",
        metadata=messages.metadata(
            subscription_id=handoffs.id, note_id=note.id, version=note.version, thread_id=note.thread_id
        ),
    )

    # The look-up reads the thread oldest first, 15 a page: the second page meets the one-a-minute limit.
    await world.notifier.run_once(send_seconds=3)
    assert len(with_note(world.slack, "handoffs", note.id)) == 1, "posted again instead of looked up"
    assert len(with_note(world.slack, "general", note.id)) == 1, "another channel waited for the look-up"
    assert (await row_of(world, note.id, handoffs)).status == "pending"
    replies = world.slack.calls("conversations.replies")
    assert any(c.get("status") == 429 for c in replies), "the look-up was expected to meet the limit"

    world.slack.advance(61)  # a minute later, on both clocks
    clock.advance(61)
    await world.notifier.run_once(send_seconds=3)
    done = await row_of(world, note.id, handoffs)
    assert done.status == "done", done
    assert len(with_note(world.slack, "handoffs", note.id)) == 1
    recorded = await world.store.get_note_message(handoffs.team_id, handoffs.channel_id, note.id)
    assert recorded is not None and not recorded.is_parent
    assert recorded.ts == with_note(world.slack, "handoffs", note.id)[0]["ts"]


@pytest.mark.parametrize("land", [True, False])
async def test_a_post_whose_answer_never_came_is_looked_up_after_a_wait_never_posted_again_at_once(
    world: World,
    ana: Handler,
    clock: Clock,
    land: bool,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    handoffs = await world.subscribe(world.rc.resource("Support"), "handoffs")
    await world.notifier.run_once()
    # Slack holds the answer past the client's timeout; the message lands after (or, land=False, never).
    world.slack.fault("chat.postMessage", channel="handoffs", delay=3 * CLIENT_TIMEOUT, land=land)
    note = ana.add(SUPPORT_THREAD, "the answer to this post never comes")
    started = time.monotonic()
    await world.notifier.run_once()
    assert time.monotonic() - started < 3 * CLIENT_TIMEOUT, "the sender waited for the hung call"
    row = await row_of(world, note["id"], handoffs)
    assert row.status == "pending" and row.attempted_at is not None

    clock.advance(10)  # a short backoff later, the message has not landed yet: it must not be posted again
    await world.notifier.run_once()
    await asyncio.sleep(
        max(0.0, started + 3 * CLIENT_TIMEOUT + 0.5 - time.monotonic())
    )  # the hung call ended
    wait_for(lambda: world.slack.calls("chat.postMessage"), 5, "the hung call to be recorded")
    landed = 1 if land else 0
    assert len(with_note(world.slack, "handoffs", note["id"])) == landed

    clock.advance(120)  # well after Slack's processing time: the look-up decides
    await world.notifier.run_once()
    assert len(with_note(world.slack, "handoffs", note["id"])) == 1
    assert (await row_of(world, note["id"], handoffs)).status == "done"
    recorded = await world.store.get_note_message(handoffs.team_id, handoffs.channel_id, note["id"])
    assert recorded is not None and recorded.ts == with_note(world.slack, "handoffs", note["id"])[0]["ts"]
    posts = [c for c in world.slack.calls("chat.postMessage") if c.get("status") != 504]
    assert len(posts) == 1, "posted more than once"
    logged = capsys.readouterr()
    text = logged.out + logged.err + caplog.text
    assert "sender.maybe_posted" in text and "sender.slack_timeout" in text
    assert "the answer to this post never comes" not in text, "a log line carries the note's text"


@pytest.mark.parametrize("sandbox_profile", ["slack-tier1-history"], indirect=True)
def test_sigkill_mid_post_in_a_thread_of_more_than_15_replies_then_restart_leaves_the_note_once(
    bot_env: dict[str, str],  # noqa: F811 - the fixture imported above
    rc_sandbox: RcSandbox,
    slack_standin: SlackStandin,
    slack_request: SlackRequests,
    tmp_path: Path,
) -> None:
    """A real `serve` process is killed while Slack holds its post (which lands afterwards); the next process
    finds the post in a thread longer than a tier-1 page and records it. Its log has one line per delivered
    notification, with ids and never the text."""
    database = tmp_path / "bot.db"
    ana = Handler(rc_sandbox, "Ana Alvarez")
    processes: list[BotProcess] = []
    try:
        first = subscribed_bot(bot_env, tmp_path, slack_request, slack_standin)
        processes.append(first)
        opening = ana.add(SUPPORT_THREAD, "opens the conversation's Slack thread")
        parent = wait_for(lambda: with_note(slack_standin, "handoffs", opening["id"]), 20.0, "the parent")
        for i in range(20):
            slack_standin.post_as("bob", "handoffs", f"reply {i}", thread_ts=parent[0]["ts"])
        time.sleep(CLOCK_SKEW.total_seconds() + 1)  # the people's replies are older than the look-up's window

        slack_standin.fault("chat.postMessage", channel="handoffs", delay=5, land=True)
        text = "the post that a killed process left behind"
        note = ana.add(SUPPORT_THREAD, text)

        # Under way means arrived at Slack (which holds it), not merely marked: a process killed between its
        # mark and its post has posted nothing, and that is the crash loop's case, not this one.
        wait_for(lambda: slack_standin.faults()[0]["remaining"] == 0, 20.0, "the post to reach Slack")
        first.kill()
        wait_for(lambda: with_note(slack_standin, "handoffs", note["id"]), 20.0, "the held post to land")
        with sqlite3.connect(
            database
        ) as db:  # the dead process's leases expire, as the clock would make them
            db.execute("UPDATE leases SET expires_at = '2000-01-01 00:00:00.000000'")

        second = BotProcess(bot_env, tmp_path, "second")
        processes.append(second)

        def recorded() -> bool:
            with sqlite3.connect(database) as db:
                row = db.execute("SELECT status FROM outbox WHERE note_id = ?", (note["id"],)).fetchone()
            return row is not None and row[0] == "done"

        wait_for(recorded, 30.0, "the repair")
        time.sleep(1.5)  # and nothing more arrives
        assert len(with_note(slack_standin, "handoffs", note["id"])) == 1
        second.kill()
        lines = [json.loads(x) for x in second.log.read_text().splitlines() if x.startswith("{")]
        delivered = [
            x for x in lines if x.get("event") == "sender.delivered" and x.get("note_id") == note["id"]
        ]
        assert len(delivered) == 1 and delivered[0]["outcome"] == "repaired", delivered
        for log in (first.log, second.log):
            assert text not in log.read_text(), f"{log.name} carries a note's text"
    finally:
        ana.close()
        for process in processes:
            process.kill()


async def test_a_summary_posted_by_a_process_that_died_is_repaired_and_logged_like_a_note(
    world: World, ana: Handler, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    sub = await world.subscribe(world.rc.resource("Support"), "handoffs")
    await world.notifier.run_once()
    note = Note.model_validate(ana.add(SUPPORT_THREAD, "held in quiet hours"))
    await world.store.enqueue(
        [OutboxEntry(sub.id, note.id, note.version, "note", note.thread_id, note_json(note))]
    )
    await world.store.hold_outbox((await row_of(world, note.id, sub)).id)
    assert await world.store.release_held(sub.id) == 1  # the quiet hours ended: one summary row
    summary = next(r for r in await world.store.outbox_rows() if r.kind == SUMMARY)
    await world.store.mark_attempt(summary.id)  # what the dead process committed before posting …
    posted = await world.slack.client().chat_postMessage(  # … and the summary it posted before dying
        channel=world.slack.channel_id("handoffs"),
        text="a summary posted by a process that then died",
        metadata=messages.metadata(
            subscription_id=sub.id, note_id=summary.note_id, version=summary.version, thread_id=""
        ),
    )
    await world.notifier.run_once()
    top = world.slack.messages(world.slack.channel_id("handoffs"))
    assert [m["ts"] for m in top if "summary" in m["text"].lower()] == [posted["ts"]]
    done = await world.store.get_outbox(summary.id)
    assert done is not None and done.status == "done"
    shown = await world.store.get_note_message(sub.team_id, sub.channel_id, note.id)
    assert shown is not None and shown.in_summary and shown.ts == posted["ts"]
    logged = capsys.readouterr()
    lines = [x for x in (logged.out + logged.err + caplog.text).splitlines() if "sender.delivered" in x]
    assert any("summary" in x and "repaired" in x for x in lines), lines
