"""Quiet hours through the real bot, its scheduler driven by the injected clock: what arrives in them is held
and posted after them as one summary."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from tests.kit.bot import RunningBot, wait_for
from tests.kit.clocked import FakeClock
from tests.notify.helpers import SUPPORT_THREAD, SUPPORT_THREAD_2, Handler, shown, with_note

POLL = 1.0
WITHIN = 2 * POLL + 2.5


def _top(bot: RunningBot) -> list[dict[str, Any]]:
    return bot.slack.messages(bot.slack.channel_id("handoffs"))


def outbox_statuses(bot: RunningBot) -> list[str]:
    """The outbox rows' statuses, read from the bot's own SQLite file (what quiet hours did with them)."""
    path = bot.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        return [r[0] for r in db.execute("SELECT status FROM outbox ORDER BY id")]


def test_notes_in_quiet_hours_arrive_once_as_one_summary_after_them(
    bot: RunningBot, clock: FakeClock, ana: Handler, ben: Handler
) -> None:
    bot.connect("alice", "Ana Alvarez")
    window = f"{clock.hhmm()}-{clock.hhmm(2)}"  # now, until two minutes from now
    replies = bot.command(f"subscribe Support quiet:{window} tz:UTC", channel="handoffs")
    assert f"quiet hours {window} UTC" in replies.text
    time.sleep(POLL * 1.5)

    checking = ana.add(SUPPORT_THREAD_2, "Checking with logistics")
    waits = ben.add(SUPPORT_THREAD, "Customer waits for the pole")
    oops = ben.add(SUPPORT_THREAD, "Wrong thread, ignore")
    ana.edit(checking["id"], "Logistics confirmed: OK to send")
    ben.delete(oops["id"])
    # the feed may see a note and its edit (or deletion) in one poll: at least one change per note is held
    wait_for(lambda: outbox_statuses(bot).count("held") >= 3, 10, "the changes held")
    time.sleep(2 * POLL)
    assert set(outbox_statuses(bot)) == {"held"}, outbox_statuses(bot)
    assert _top(bot) == [], "nothing is posted in quiet hours"

    clock.advance(120)  # quiet hours are over
    summary = wait_for(lambda: _top(bot), 10, "the summary")
    time.sleep(2 * POLL)  # anything else would have been posted by now
    assert len(_top(bot)) == 1 and not _top(bot)[0].get("replies")
    text = shown(summary[0])
    assert "Quiet hours are over" in text and "2 notes arrived in 2 conversations" in text
    assert "Logistics confirmed: OK to send" in text and "(edited)" in text
    assert "Customer waits for the pole" in text
    assert "Checking with logistics" not in text and "Wrong thread" not in text
    for note in (checking, waits, oops):
        assert not with_note(bot.slack, "handoffs", note["id"]), "no message of its own"
    takes = {b["accessory"]["value"] for b in summary[0]["blocks"] if b.get("accessory")}
    assert takes == {SUPPORT_THREAD, SUPPORT_THREAD_2}

    # after quiet hours: an edit of a summarised note updates the summary; a new note posts as usual
    ben.edit(waits["id"], "Customer waits for the pole, shipping Friday")
    wait_for(lambda: "shipping Friday" in shown(_top(bot)[0]), WITHIN, "the summary updated in place")
    later = ben.add(SUPPORT_THREAD, "Pole shipped")
    posted = wait_for(lambda: with_note(bot.slack, "handoffs", later["id"]), WITHIN, "the next note")
    assert len(posted) == 1 and len(_top(bot)) == 2
    assert "Pole shipped" not in shown(_top(bot)[0])
