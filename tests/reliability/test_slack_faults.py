"""Faults from Slack: a 429 is waited out, channel and install problems pause the subscription with the
reason (told to its creator, shown in `/thread-note subscriptions`) and lose nothing, views that cannot open
tell the person in one sentence."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.kit.bot import JSON, RunningBot, texts, wait_for
from tests.notify.helpers import SUPPORT_THREAD, Handler, with_note

POLL = 1.0
WITHIN = 2 * POLL + 3.0


@pytest.fixture
def ana(bot: RunningBot) -> Iterator[Handler]:
    handler = Handler(bot.rc, "Ana Alvarez")
    yield handler
    handler.close()


def subscribe(bot: RunningBot, channel: str) -> str:
    replies = bot.command("subscribe Support", channel=channel)
    if any(b.get("action_id") == "subscription_confirm" for b in replies.buttons()):
        return bot.click(replies.button("subscription_confirm"), channel=channel).text
    return replies.text


@pytest.fixture
def subscribed(bot: RunningBot) -> RunningBot:
    bot.connect("alice", "Ana Alvarez")
    assert "now receives" in subscribe(bot, "handoffs")
    time.sleep(POLL * 1.5)  # subscriptions start from now: let one poll pass
    return bot


def test_a_429_with_retry_after_on_posting_is_waited_out_and_the_note_arrives_once(
    subscribed: RunningBot, ana: Handler
) -> None:
    bot = subscribed
    bot.slack.fault("chat.postMessage", "ratelimited", channel="handoffs", status=429, retry_after=2, count=1)
    note = ana.add(SUPPORT_THREAD, "Posted after Slack's 429")
    started = time.monotonic()
    wait_for(lambda: with_note(bot.slack, "handoffs", note["id"]), WITHIN + 4, "the note after the 429")
    assert time.monotonic() - started >= 1.5, "Retry-After was not honoured"
    time.sleep(POLL)
    assert len(with_note(bot.slack, "handoffs", note["id"])) == 1
    posts = [
        c
        for c in bot.slack.calls("chat.postMessage")
        if c["args"].get("channel") != bot.slack.user_id("alice")
    ]
    assert len([c for c in posts if c.get("error") == "ratelimited" or c.get("status") == 429]) <= 1


@pytest.mark.parametrize(
    "error,reason",
    [
        ("channel_not_found", "deleted"),
        ("is_archived", "archived"),
        ("not_in_channel", "not a member"),
        ("account_inactive", "inactive"),
        ("token_revoked", "revoked"),
    ],
)
def test_channel_and_install_errors_pause_tell_the_creator_and_lose_nothing(
    subscribed: RunningBot, ana: Handler, error: str, reason: str
) -> None:
    bot = subscribed
    bot.slack.fault("chat.postMessage", error, channel="handoffs", count=1)
    note = ana.add(SUPPORT_THREAD, f"Held while {error}")
    notice = wait_for(
        lambda: [d for d in bot.dms("alice") if "paused" in texts(d["args"]).lower()],
        WITHIN + 2,
        "the notice",
    )
    assert reason in texts(notice[-1]["args"]).lower()
    listed = bot.command("subscriptions all").text.lower()
    assert "paused" in listed and reason in listed
    assert with_note(bot.slack, "handoffs", note["id"]) == []
    assert "keeps receiving" in bot.command("subscribe Support", channel="handoffs").text  # fixed: resume
    wait_for(lambda: with_note(bot.slack, "handoffs", note["id"]), WITHIN, "the held note")
    time.sleep(POLL)
    assert len(with_note(bot.slack, "handoffs", note["id"])) == 1


def answers(bot: RunningBot) -> list[JSON]:
    """What alice was told privately: response_url posts, ephemerals, DMs."""
    return [*bot.slack.responses(), *bot.slack.ephemerals(user=bot.slack.user_id("alice")), *bot.dms("alice")]


def test_an_expired_trigger_id_tells_the_person_in_one_sentence(bot: RunningBot) -> None:
    posted = bot.slack.post_as("bob", "general", "Customer wants a callback")
    signed = bot.requests.build_interactive(
        "message_shortcut", posted["ts"], callback_id="save_as_thread_note"
    )
    bot.slack.advance(4)  # the trigger_id lived 3 s
    assert bot.requests.send(signed).status_code == 200
    said = wait_for(lambda: answers(bot), 10, "the answer")
    text = texts(said).lower()
    assert "slack" in text and "try again" in text, text
    assert "went wrong on our side" not in text


def test_ratelimited_views_open_tells_the_person_to_retry_in_one_sentence(bot: RunningBot) -> None:
    bot.slack.fault("views.open", "ratelimited", status=429, retry_after=1, count=5)
    posted = bot.slack.post_as("bob", "general", "Customer wants a callback")
    assert bot.requests.message_shortcut(posted["ts"], callback_id="save_as_thread_note").status_code == 200
    said = wait_for(lambda: answers(bot), 15, "the answer")
    text = texts(said).lower()
    assert "slack" in text and "try again" in text, text
