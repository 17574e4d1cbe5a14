"""Two-way threads through the real bot: a person's reply in the Slack thread of a conversation, delivered as
a signed Events API request, becomes a note written as that person in the RingCentral emulator."""

from __future__ import annotations

import time
from typing import Any

from tests.kit.bot import RunningBot, texts, wait_for
from tests.notify.helpers import MT, SUPPORT_THREAD_2, Handler, all_messages, with_note

POLL = 1.0
WITHIN = 2 * POLL + 2.5
TEAM_TEXT = "Logistics says yes, shipping to Canada is fine"


def _subscribe_two_way(bot: RunningBot, ben: Handler) -> str:
    """#handoffs gets Support two-way; Ben's note opens the Slack thread of SUPPORT_THREAD_2: its ts."""
    bot.connect("alice", "Ana Alvarez")
    replies = bot.command("subscribe Support two-way", channel="handoffs")
    assert "now receives" in replies.text and "two-way" in replies.text
    time.sleep(POLL * 1.5)
    note = ben.add(SUPPORT_THREAD_2, "Customer asks about shipping to Canada")
    parent = wait_for(lambda: with_note(bot.slack, "handoffs", note["id"]), WITHIN, "the parent message")
    return str(parent[0]["ts"])


def _reply(bot: RunningBot, user: str, text: str, parent_ts: str) -> dict[str, Any]:
    """The person writes in the thread (stand-in), and Slack delivers the message event (signed)."""
    posted = bot.slack.post_as(user, "handoffs", text, thread_ts=parent_ts)
    event = {
        "type": "message",
        "channel": bot.slack.channel_id("handoffs"),
        "channel_type": "group",
        "user": bot.slack.user_id(user),
        "text": text,
        "ts": posted["ts"],
        "thread_ts": parent_ts,
        "team": bot.slack.team_id,
    }
    assert bot.requests.event(event).status_code == 200
    return event


def _notes(bot: RunningBot, text: str) -> list[dict[str, Any]]:
    return [n for n in bot.rc_state_notes() if text in (n.get("text") or "")]


def _reactions(bot: RunningBot, ts: str) -> dict[str, list[str]]:
    for message in all_messages(bot.slack, "handoffs"):
        if message["ts"] == ts:
            return dict(message.get("reactions") or {})
    return {}


def _ephemerals(bot: RunningBot, user: str) -> list[dict[str, Any]]:
    """What the bot told `user` privately inside a Slack thread of #handoffs."""
    return [e for e in bot.slack.ephemerals(channel="handoffs", user=user) if e.get("thread_ts")]


def test_reply_by_a_connected_handler_becomes_exactly_one_note_by_them_and_is_not_posted_back(
    bot: RunningBot, ben: Handler
) -> None:
    parent_ts = _subscribe_two_way(bot, ben)
    event = _reply(bot, "alice", TEAM_TEXT, parent_ts)

    wait_for(lambda: "white_check_mark" in _reactions(bot, event["ts"]), 10, "the confirming reaction")
    notes = _notes(bot, TEAM_TEXT)
    assert len(notes) == 1
    ana = bot.rc.user("Ana Alvarez").extension_id
    assert notes[0]["author"]["extensionId"] == ana and notes[0]["threadId"] == SUPPORT_THREAD_2

    # Slack retries the event (same message, new delivery): still one note
    retry = bot.requests.build_event(event)
    assert bot.requests.send(retry).status_code == 200
    time.sleep(2 * POLL + 1)  # let the feed see the note and the sender pass over it
    assert len(_notes(bot, TEAM_TEXT)) == 1
    assert not with_note(bot.slack, "handoffs", notes[0]["id"]), "the bot must not post the note back"
    thread = bot.slack.messages(bot.slack.channel_id("handoffs"))[0]
    assert [r["text"] for r in thread["replies"]] == [TEAM_TEXT], "only the person's reply, no copy"
    assert not _ephemerals(bot, "alice")


def test_editing_and_deleting_the_reply_in_slack_edits_and_deletes_the_note(
    bot: RunningBot, ben: Handler
) -> None:
    parent_ts = _subscribe_two_way(bot, ben)
    event = _reply(bot, "alice", TEAM_TEXT, parent_ts)
    wait_for(lambda: "white_check_mark" in _reactions(bot, event["ts"]), 10, "the note")
    note_id = _notes(bot, TEAM_TEXT)[0]["id"]

    changed = {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": event["channel"],
        "ts": f"{time.time():.6f}",
        "message": {**event, "text": "Logistics says yes, ships Monday", "edited": {"user": event["user"]}},
        "previous_message": event,
    }
    assert bot.requests.event(changed).status_code == 200
    wait_for(lambda: _notes(bot, "ships Monday"), 10, "the edited note")
    assert [n["id"] for n in _notes(bot, "Logistics says yes")] == [note_id]

    deleted = {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "channel": event["channel"],
        "ts": f"{time.time():.6f}",
        "deleted_ts": event["ts"],
        "previous_message": changed["message"],
    }
    assert bot.requests.event(deleted).status_code == 200
    wait_for(
        lambda: all(n.get("availability") == "Deleted" for n in _notes(bot, "ships Monday")),
        10,
        "the deletion",
    )
    assert not _ephemerals(bot, "alice")


def test_reply_by_an_unconnected_person_gets_the_connect_prompt_in_the_thread_and_creates_nothing(
    bot: RunningBot, ben: Handler
) -> None:
    parent_ts = _subscribe_two_way(bot, ben)
    _reply(bot, "bob", "I can call the customer back", parent_ts)

    answer = wait_for(lambda: _ephemerals(bot, "bob"), 10, "bob's private answer")[0]
    assert answer["thread_ts"] == parent_ts
    assert "Connect your RingCentral account first" in texts(answer["blocks"])
    assert "I can call the customer back" in texts(answer["blocks"]), "the text is kept"
    assert any(e.get("action_id") == "connect_open" for b in answer["blocks"] for e in b.get("elements", []))
    assert not _notes(bot, "I can call the customer back")

    # another app's bot writing in the thread is ignored: no note, no answer
    posted = bot.slack.post_as("alice", "handoffs", "Automated: ticket #42 linked", thread_ts=parent_ts)
    other = {
        "type": "message",
        "subtype": "bot_message",
        "bot_id": "BOTHER1",
        "channel": bot.slack.channel_id("handoffs"),
        "text": "Automated: ticket #42 linked",
        "ts": posted["ts"],
        "thread_ts": parent_ts,
    }
    assert bot.requests.event(other).status_code == 200
    time.sleep(1.0)
    assert not _notes(bot, "Automated: ticket")


def test_reply_on_a_resolved_conversation_or_too_long_gets_its_reason_and_creates_nothing(
    bot: RunningBot, ben: Handler
) -> None:
    parent_ts = _subscribe_two_way(bot, ben)
    long_text = "Too long " * 120  # 1,080 characters; RingCentral allows 1,000
    _reply(bot, "alice", long_text.strip(), parent_ts)
    answer = wait_for(lambda: _ephemerals(bot, "alice"), 10, "the too-long answer")[0]
    assert "RingCentral allows 1,000" in texts(answer["blocks"]) and "Too long Too long" in texts(
        answer["blocks"]
    )
    assert answer["thread_ts"] == parent_ts

    ben.http.post(f"{MT}/{SUPPORT_THREAD_2}/resolve").raise_for_status()
    _reply(bot, "alice", "Adding this after it was resolved", parent_ts)
    resolved = wait_for(lambda: _ephemerals(bot, "alice")[1:], 10, "the resolved answer")[0]
    assert "This conversation is resolved" in texts(resolved["blocks"])
    assert "Adding this after it was resolved" in texts(resolved["blocks"])
    assert not _notes(bot, "Adding this after") and not _notes(bot, "Too long")
