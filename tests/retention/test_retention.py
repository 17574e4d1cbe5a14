"""Retention through the real bot: a month later (on the bot's clock and RingCentral's), the hourly job prunes
what delivery left behind, keeps the links of notes that can still change, and nothing is posted twice."""

from __future__ import annotations

import re
import sqlite3
import time

from tests.kit.bot import RunningBot, wait_for
from tests.kit.clocked import FakeClock
from tests.notify.helpers import MT, SUPPORT_THREAD, SUPPORT_THREAD_2, Handler, all_messages, shown, with_note

POLL = 1.0
WITHIN = 2 * POLL + 2.5
MONTH = 31 * 24 * 3600.0


def rows(bot: RunningBot, sql: str) -> list[tuple[object, ...]]:
    """Read the bot's own SQLite file (what retention left)."""
    with sqlite3.connect(bot.database_url.removeprefix("sqlite:///")) as db:
        return list(db.execute(sql))


def pruned(bot: RunningBot, table: str) -> float:
    found = re.search(rf'^thread_note_retention_pruned_total{{table="{table}"}} (\S+)$', bot.metrics(), re.M)
    return float(found.group(1)) if found else 0.0


def test_a_month_later_old_rows_are_pruned_and_a_late_edit_still_follows(
    bot: RunningBot, clock: FakeClock, ana: Handler
) -> None:
    bot.rc_admin.config(threadTtl=90 * 24 * 3600)  # the open conversation stays open through the month
    bot.connect("alice", "Ana Alvarez")
    assert "now receives" in bot.command("subscribe Support", channel="handoffs").text
    time.sleep(POLL * 1.5)
    closing = ana.add(SUPPORT_THREAD_2, "Refund sent, closing")
    lasting = ana.add(SUPPORT_THREAD, "Pole on back order")
    for note in (closing, lasting):
        wait_for(lambda n=note: with_note(bot.slack, "handoffs", n["id"]), WITHIN, "the note posted")
    ana.http.post(f"{MT}/{SUPPORT_THREAD_2}/resolve").raise_for_status()
    wait_for(
        lambda: ":white_check_mark:" in shown(with_note(bot.slack, "handoffs", closing["id"])[0]),
        WITHIN,
        "the resolution shown on its parent message",
    )
    wait_for(lambda: not rows(bot, "SELECT id FROM outbox WHERE status = 'pending'"), WITHIN, "all delivered")
    assert rows(bot, "SELECT count(*) FROM outbox") == [(3,)]
    messages = len(all_messages(bot.slack, "handoffs"))

    clock.advance(MONTH)  # the bot's clock, and RingCentral's: a month without a word
    bot.rc_admin.advance(MONTH)
    wait_for(lambda: pruned(bot, "note_messages") == 1, 15, "the retention job")
    assert pruned(bot, "outbox") == 3 and pruned(bot, "slack_threads") == 1
    assert rows(bot, "SELECT count(*) FROM outbox") == [(0,)]
    assert rows(bot, "SELECT note_id FROM note_messages") == [(lasting["id"],)], "its thread is still open"
    assert rows(bot, "SELECT thread_id FROM slack_threads") == [(SUPPORT_THREAD,)]

    later = Handler(bot.rc, "Ana Alvarez")  # her token expired during the month
    try:
        later.edit(lasting["id"], "Pole arrives Monday")
        wait_for(
            lambda: "Pole arrives Monday" in shown(with_note(bot.slack, "handoffs", lasting["id"])[0]),
            WITHIN,
            "the late edit, in place",
        )
        reply = later.add(SUPPORT_THREAD, "Customer informed")
        wait_for(lambda: with_note(bot.slack, "handoffs", reply["id"]), WITHIN, "a new note, open thread")
    finally:
        later.close()
    time.sleep(2 * POLL)  # a reconciliation lists every note again, the pruned ones included
    assert len(all_messages(bot.slack, "handoffs")) == messages + 1, "nothing posted twice"
    assert len(with_note(bot.slack, "handoffs", lasting["id"])) == 1
    assert len(with_note(bot.slack, "handoffs", closing["id"])) == 1
    top = bot.slack.messages(bot.slack.channel_id("handoffs"))
    assert len(top) == 2, "the new note went into the open conversation's Slack thread"
