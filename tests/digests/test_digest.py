"""The handoff digest through the real bot, its scheduler driven by the injected clock."""

from __future__ import annotations

import time
from typing import Any

from tests.kit.bot import RunningBot, texts, wait_for
from tests.kit.clocked import FakeClock
from tests.notify.helpers import MT, SUPPORT_THREAD, SUPPORT_THREAD_2, Handler, shown

POLL = 1.0
SALES_THREAD = "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c03"
RESOLVED_THREAD = "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c04"


def _top(bot: RunningBot) -> list[dict[str, Any]]:
    return bot.slack.messages(bot.slack.channel_id("handoffs"))


def _digests(bot: RunningBot) -> list[dict[str, Any]]:
    """Digest messages (the notes written just before subscribing may be posted too: the clock lags)."""
    return [m for m in _top(bot) if "Handoff digest" in shown(m)]


def test_digest_lists_exactly_the_open_unassigned_or_handed_off_conversations_once_at_its_time(
    bot: RunningBot, clock: FakeClock, ben: Handler
) -> None:
    support = bot.rc.resource("Support")
    fresh = bot.rc_admin.new_thread(support, "+15035550101", "Hello?")["id"]  # unassigned, no notes
    busy = bot.rc_admin.new_thread(support, "+15035550102", "Any news?")["id"]
    leaving = bot.rc_admin.new_thread(support, "+15035550103", "Call me back")["id"]
    for thread_id, note in (
        (busy, "On it, calling back at 3"),
        (leaving, "Out tomorrow, #handoff: needs a callback"),
    ):
        ben.http.post(f"{MT}/{thread_id}/assign", json={"assignee": {"extensionId": ben.extension_id}})
        ben.add(thread_id, note)
    # seeded: SUPPORT_THREAD is Ana's and her latest note is a "Handoff: …"; SUPPORT_THREAD_2 is unassigned;
    # RESOLVED_THREAD is resolved; SALES_THREAD belongs to another queue
    expected = {SUPPORT_THREAD, SUPPORT_THREAD_2, fresh, leaving}

    bot.connect("alice", "Ana Alvarez")
    at = clock.hhmm(1)
    replies = bot.command(f"subscribe Support digest:{at} tz:UTC", channel="handoffs")
    assert f"handoff digest daily at {at} UTC" in replies.text
    assert f"handoff digest daily at {at} UTC" in bot.command("subscriptions", channel="handoffs").text
    time.sleep(2 * POLL)
    assert _digests(bot) == [], "not before its time"

    clock.advance(60)
    digest = wait_for(lambda: _digests(bot), 10, "the digest")[0]
    text = shown(digest)
    assert "Handoff digest · Support" in text and "4 open conversations need someone" in text
    buttons = [b["accessory"] for b in digest["blocks"] if b.get("accessory")]
    assert {b["value"] for b in buttons} == expected and len(buttons) == 4
    assert {b["action_id"] for b in buttons} == {"notify_take_over"}
    assert "Out tomorrow, #handoff" in text and "handed off" in text and "unassigned" in text
    assert busy not in str(digest) and SALES_THREAD not in str(digest) and RESOLVED_THREAD not in str(digest)

    clock.advance(30)
    time.sleep(2 * POLL)
    assert len(_digests(bot)) == 1, "once a day"

    # its "Take over" is the notifications' own button: it assigns the conversation to the clicker
    take = next(b for b in buttons if b["value"] == fresh)
    answer = bot.click(take, user="alice", channel="handoffs", message=digest["ts"], answers=0)
    assert answer.ack is None or "error" not in texts(answer.ack)
    wait_for(
        lambda: any(
            t["id"] == fresh
            and (t.get("assignee") or {}).get("extensionId") == bot.rc.user("Ana Alvarez").extension_id
            for t in bot.rc_admin.state()["threads"]
        ),
        10,
        "the conversation assigned to Ana",
    )
