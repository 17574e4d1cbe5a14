"""Issue 17, item 6: the daily digest keeps the subscription's filters (tags, excluded authors, muted
conversations), as the channel's notifications do. Through the real bot, its scheduler on the injected clock.

Seeded Support conversations: SUPPORT_THREAD (assigned to Ana, her latest note a "Handoff: …") and
SUPPORT_THREAD_2 (unassigned, Ben's note "Unassigned: checking with logistics …"); without filters both are
in the digest.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from tests.kit.bot import RunningBot, wait_for
from tests.kit.clocked import FakeClock
from tests.notify.helpers import SUPPORT_THREAD, SUPPORT_THREAD_2, Handler, shown, with_note

POLL = 1.0


def _digest_after(bot: RunningBot, clock: FakeClock) -> dict[str, Any]:
    clock.advance(60)

    def found() -> list[dict[str, Any]]:
        top = bot.slack.messages(bot.slack.channel_id("handoffs"))
        return [m for m in top if "Handoff digest" in shown(m)]

    return wait_for(found, 10, "the digest")[0]


def _subscribe(bot: RunningBot, clock: FakeClock, extra: str) -> None:
    bot.connect("alice", "Ana Alvarez")
    at = clock.hhmm(1)
    replies = bot.command(f"subscribe Support digest:{at} tz:UTC {extra}", channel="handoffs")
    assert f"handoff digest daily at {at} UTC" in replies.text, replies.text


def test_digest_lists_only_conversations_with_a_note_carrying_a_wanted_tag(
    bot: RunningBot, clock: FakeClock
) -> None:
    _subscribe(bot, clock, "tags:#handoff")
    digest = _digest_after(bot, clock)
    assert SUPPORT_THREAD in str(digest) and "Handoff: customer waits" in shown(digest)
    assert SUPPORT_THREAD_2 not in str(digest), "no #handoff in that conversation"
    assert "checking with logistics" not in shown(digest)


def test_digest_leaves_out_the_notes_of_excluded_authors(bot: RunningBot, clock: FakeClock) -> None:
    _subscribe(bot, clock, "exclude:Ben")
    digest = _digest_after(bot, clock)
    assert "Handoff: customer waits" in shown(digest)
    assert "checking with logistics" not in shown(digest), "Ben's note is excluded"


def test_digest_leaves_out_a_conversation_muted_in_the_channel(
    bot: RunningBot, clock: FakeClock, ana: Handler
) -> None:
    _subscribe(bot, clock, "")
    time.sleep(POLL * 1.5)
    note = ana.add(SUPPORT_THREAD_2, "Asked logistics about Canada")
    wait_for(partial(with_note, bot.slack, "handoffs", note["id"]), 10, "the note in #handoffs")
    assert "muted" in bot.command("mute +1 212 555 0199", channel="handoffs").text

    digest = _digest_after(bot, clock)
    assert SUPPORT_THREAD in str(digest)
    assert SUPPORT_THREAD_2 not in str(digest), "muted in #handoffs"
