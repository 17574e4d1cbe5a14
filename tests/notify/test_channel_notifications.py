"""Channel notifications end to end: the bot's web app (scheduler running, poll interval 1 s) against the
RingCentral emulator and the Slack stand-in, driven by signed Slack requests and a handler writing notes
through the RingCentral API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial

import httpx
import pytest

from tests.kit.bot import RunningBot, wait_for
from tests.notify.helpers import (
    SALES_THREAD,
    SUPPORT_THREAD,
    SUPPORT_THREAD_2,
    Handler,
    all_messages,
    shown,
    with_note,
)

POLL = 1.0  # the bot fixture's THREAD_NOTE_POLL_INTERVAL
WITHIN = 2 * POLL + 2.5  # two poll intervals, plus the pacing of ≈1 message/s per channel


@pytest.fixture
def ana(bot: RunningBot) -> Iterator[Handler]:
    handler = Handler(bot.rc, "Ana Alvarez")
    yield handler
    handler.close()


def subscribe(bot: RunningBot, text: str, *, user: str = "alice", channel: str) -> str:
    replies = bot.command(f"subscribe {text}", user=user, channel=channel)
    if any(b.get("action_id") == "subscription_confirm" for b in replies.buttons()):
        confirmed = bot.click(replies.button("subscription_confirm"), user=user, channel=channel)
        return confirmed.text
    return replies.text


def test_note_by_a_handler_appears_once_in_every_subscribed_channel_in_its_customers_thread(
    bot: RunningBot, ana: Handler
) -> None:
    bot.connect("alice", "Ana Alvarez")
    assert "now receives" in subscribe(bot, "Support", channel="handoffs")
    assert "now receives" in subscribe(bot, "Support", channel="support")
    time.sleep(POLL * 1.5)  # the subscriptions start from now: let one poll pass

    first = ana.add(SUPPORT_THREAD, "Customer waits for the pole's shipping date")
    started = time.monotonic()
    for channel in ("handoffs", "support"):
        found = wait_for(partial(with_note, bot.slack, channel, first["id"]), WITHIN, f"#{channel}")
        assert len(found) == 1
        parent = found[0]
        assert "+1 415-555-0142" in shown(parent) and "Support" in shown(parent)
        assert "Customer waits for the pole's shipping date" in shown(parent)
    assert time.monotonic() - started < WITHIN

    second = ana.add(SUPPORT_THREAD, "Shipping date: Friday")
    for channel in ("handoffs", "support"):
        wait_for(partial(with_note, bot.slack, channel, second["id"]), WITHIN, "the reply")
        top = bot.slack.messages(bot.slack.channel_id(channel))
        assert len(top) == 1, "one Slack thread per RingCentral thread"
        replies = top[0].get("replies") or []
        assert [shown(r) for r in replies if "Shipping date: Friday" in shown(r)]
        assert len(with_note(bot.slack, channel, second["id"])) == 1


def test_edit_updates_the_message_in_place_and_delete_strikes_it_through(
    bot: RunningBot, ana: Handler
) -> None:
    bot.connect("alice", "Ana Alvarez")
    subscribe(bot, "Support", channel="handoffs")
    time.sleep(POLL * 1.5)
    note = ana.add(SUPPORT_THREAD_2, "Checking with logistics")
    wait_for(lambda: with_note(bot.slack, "handoffs", note["id"]), WITHIN, "the note")

    ana.edit(note["id"], "Logistics confirmed: OK to send")
    edited = wait_for(
        lambda: [m for m in with_note(bot.slack, "handoffs", note["id"]) if "confirmed: OK" in shown(m)],
        WITHIN,
        "the edit",
    )
    assert len(with_note(bot.slack, "handoffs", note["id"])) == 1
    assert "(edited)" in shown(edited[0])

    ana.delete(note["id"])
    deleted = wait_for(
        lambda: [m for m in with_note(bot.slack, "handoffs", note["id"]) if "(deleted)" in shown(m)],
        WITHIN,
        "the deletion",
    )
    assert "~" in shown(deleted[0])


def test_note_on_an_unsubscribed_resource_appears_nowhere(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    subscribe(bot, "Support", channel="handoffs")
    time.sleep(POLL * 1.5)
    chen = Handler(bot.rc, "Chen Wei")  # handles Sales and Support
    try:
        sales = chen.add(SALES_THREAD, "Sales-only handoff")
        support = chen.add(SUPPORT_THREAD, "Support handoff")
        wait_for(lambda: with_note(bot.slack, "handoffs", support["id"]), WITHIN, "the Support note")
        time.sleep(POLL)
    finally:
        chen.close()
    for channel in ("handoffs", "support", "general"):
        assert not with_note(bot.slack, channel, sales["id"])
        assert "Sales-only handoff" not in str(all_messages(bot.slack, channel))


def test_filters_hold_tags_excluded_authors_and_unassigned_only(bot: RunningBot, ana: Handler) -> None:
    bot.connect("alice", "Ana Alvarez")
    subscribe(bot, "Support tags:#handoff exclude:Ben", channel="handoffs")
    subscribe(bot, "Support unassigned", channel="support")
    time.sleep(POLL * 1.5)
    ben = Handler(bot.rc, "Ben Okafor")
    try:
        tagged = ana.add(SUPPORT_THREAD, "#handoff: please take this one")  # assigned thread
        untagged = ana.add(SUPPORT_THREAD, "just a remark")
        by_ben = ben.add(SUPPORT_THREAD_2, "#handoff from Ben")  # unassigned thread
        wait_for(lambda: with_note(bot.slack, "handoffs", tagged["id"]), WITHIN, "the tagged note")
        wait_for(lambda: with_note(bot.slack, "support", by_ben["id"]), WITHIN, "the unassigned note")
        time.sleep(POLL)
    finally:
        ben.close()
    assert not with_note(bot.slack, "handoffs", untagged["id"])
    assert not with_note(bot.slack, "handoffs", by_ben["id"])
    assert not with_note(bot.slack, "support", tagged["id"])
    assert not with_note(bot.slack, "support", untagged["id"])


def test_mentions_and_entities_in_a_note_show_as_text_and_ping_nobody(bot: RunningBot, ana: Handler) -> None:
    bot.connect("alice", "Ana Alvarez")
    subscribe(bot, "Support", channel="handoffs")
    time.sleep(POLL * 1.5)
    note = ana.add(SUPPORT_THREAD, "Hey <!channel> and <@U123>, price &lt; 5 <https://x.example|click>")
    message = wait_for(lambda: with_note(bot.slack, "handoffs", note["id"]), WITHIN, "the note")[0]
    posted = next(
        c["args"] for c in bot.slack.calls("chat.postMessage") if "price" in str(c["args"].get("text"))
    )
    for text in (posted["text"], shown(message)):
        assert "<!channel>" not in text and "<@U123>" not in text and "<https://" not in text
        assert "&lt;!channel&gt;" in text and "&lt;@U123&gt;" in text and "&amp;lt;" in text
    section = next(b for b in posted["blocks"] if b["type"] == "section" and "price" in b["text"]["text"])
    assert section["text"].get("verbatim") is True


def test_a_non_handlers_subscribe_is_refused(bot: RunningBot) -> None:
    bot.connect("dave", "Dana Kowalski")  # Dana handles Sales only; Dave is no Slack admin
    replies = bot.command("subscribe Support", user="dave", channel="general")
    assert "Only a handler of Support can subscribe" in replies.text
    assert "no subscriptions" in bot.command("subscriptions all", user="alice").text.lower()


def test_subscribe_without_the_bot_in_the_channel_says_how_to_invite_it(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    random_id = bot.slack.channel_id("random")
    replies = bot.command(f"subscribe Support <#{random_id}|random>", user="alice", channel="general")
    assert "/invite @thread-notes" in replies.text


def test_public_channel_asks_for_confirmation_before_subscribing(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    replies = bot.command("subscribe Support", channel="support")
    assert "public" in replies.text and replies.button("subscription_confirm")
    assert "no subscriptions" in bot.command("subscriptions", channel="support").text.lower()
    bot.click(replies.button("subscription_confirm"), channel="support")
    listed = bot.command("subscriptions", channel="support").text
    assert "Support" in listed and "active" in listed


def test_archived_channel_pauses_the_subscription_tells_its_creator_and_resumes_when_fixed(
    bot: RunningBot, ana: Handler
) -> None:
    bot.connect("alice", "Ana Alvarez")
    subscribe(bot, "Support", channel="handoffs")
    time.sleep(POLL * 1.5)
    bot.slack.channel("archive", channel="handoffs")
    while_archived = ana.add(SUPPORT_THREAD, "Written while the channel is archived")
    notice = wait_for(
        lambda: [d for d in bot.dms("alice") if "paused" in str(d["args"].get("text"))], WITHIN, "the notice"
    )
    assert "archived" in str(notice[0]["args"]["blocks"])
    listed = bot.command("subscriptions all", channel="general").text  # #handoffs is archived
    assert "paused" in listed and "archived" in listed

    bot.slack.channel("unarchive", channel="handoffs")
    again = bot.command("subscribe Support", channel="handoffs").text
    assert "keeps receiving" in again
    found = wait_for(lambda: with_note(bot.slack, "handoffs", while_archived["id"]), WITHIN, "the held note")
    assert len(found) == 1
    assert "active" in bot.command("subscriptions", channel="handoffs").text


def test_take_over_assigns_the_thread_to_the_clicker_and_the_parent_shows_the_new_assignee(
    bot: RunningBot, ana: Handler
) -> None:
    bot.connect("alice", "Ana Alvarez")
    subscribe(bot, "Support", channel="handoffs")
    time.sleep(POLL * 1.5)
    note = ana.add(SUPPORT_THREAD_2, "Who takes this one?")
    parent = wait_for(lambda: with_note(bot.slack, "handoffs", note["id"]), WITHIN, "the note")[0]
    assert "Open, unassigned" in shown(parent)
    button = next(
        e for b in parent["blocks"] if b["type"] == "actions" for e in b["elements"]
        if e["action_id"] == "notify_take_over"
    )  # fmt: skip
    bot.click(button, user="alice", channel="handoffs", answers=0)
    wait_for(
        lambda: "assigned to Ana Alvarez" in shown(with_note(bot.slack, "handoffs", note["id"])[0]),
        WITHIN,
        "the parent to show the new assignee",
    )
    threads = httpx.get(f"{bot.rc.url}/sandbox/state", timeout=10).json()["threads"]
    assert "62001001" in str(next(t for t in threads if t["id"] == SUPPORT_THREAD_2))  # Ana, in RingCentral


def test_a_refused_take_over_is_told_to_the_clicker_only(bot: RunningBot, ana: Handler) -> None:
    bot.connect("alice", "Ana Alvarez")
    bot.connect("bob", "Dana Kowalski")  # Dana does not handle Support
    subscribe(bot, "Support", channel="handoffs")
    time.sleep(POLL * 1.5)
    note = ana.add(SUPPORT_THREAD_2, "Only a Support handler may take this")
    parent = wait_for(lambda: with_note(bot.slack, "handoffs", note["id"]), WITHIN, "the note")[0]
    button = next(
        e for b in parent["blocks"] if b["type"] == "actions" for e in b["elements"]
        if e["action_id"] == "notify_take_over"
    )  # fmt: skip
    bob = bot.slack.user_id("bob")
    bot.click(button, user="bob", channel="handoffs", answers=0)
    private = wait_for(
        lambda: (
            [e for e in bot.slack.ephemerals(user=bob) if "handle" in str(e)]
            or [d for d in bot.dms("bob") if "handle" in str(d["args"])]
        ),
        WITHIN,
        "the refusal",
    )
    assert private
    assert "Open, unassigned" in shown(with_note(bot.slack, "handoffs", note["id"])[0])


def test_mute_stops_one_conversations_notes_in_this_channel_and_unmute_brings_them_back(
    bot: RunningBot, ana: Handler
) -> None:
    bot.connect("alice", "Ana Alvarez")
    subscribe(bot, "Support", channel="handoffs")
    time.sleep(POLL * 1.5)
    first = ana.add(SUPPORT_THREAD, "Before muting")
    wait_for(partial(with_note, bot.slack, "handoffs", first["id"]), WITHIN, "the first note")

    assert "muted" in bot.command("mute +1 415 555 0142", channel="handoffs").text
    muted = ana.add(SUPPORT_THREAD, "While muted")
    other = ana.add(SUPPORT_THREAD_2, "Another conversation")
    wait_for(partial(with_note, bot.slack, "handoffs", other["id"]), WITHIN, "the other conversation's note")
    assert with_note(bot.slack, "handoffs", muted["id"]) == []

    assert "unmuted" in bot.command("unmute +1 415 555 0142", channel="handoffs").text
    after = ana.add(SUPPORT_THREAD, "After unmuting")
    wait_for(partial(with_note, bot.slack, "handoffs", after["id"]), WITHIN, "the note after unmuting")
