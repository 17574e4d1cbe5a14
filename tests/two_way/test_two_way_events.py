"""Two-way threads end to end with the events the Slack stand-in sends itself: a person replies, edits and
deletes in the Slack thread of a conversation, and the stand-in delivers `message` events built from Slack's
own payloads, signed and retried like Slack, to the bot's Request URL. Retries are handled once, whether
Slack signs them afresh or not (profile `slack-retry-same-signature`)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.kit.bot import RunningBot, wait_for
from tests.notify.helpers import SUPPORT_THREAD_2, Handler
from tests.two_way.test_two_way import TEAM_TEXT, _notes, _reactions, _subscribe_two_way

FAST_RETRIES = [1.0, 1.0, 1.0]  # Slack waits ~0 s, 1 min and 5 min; the same order, shorter


def _events_on(bot: RunningBot, **opts: Any) -> None:
    bot.slack.send_events(
        f"{bot.url}/slack/events", retry_delays=opts.pop("retry_delays", FAST_RETRIES), **opts
    )


def _attempts(bot: RunningBot, ts: str) -> list[dict[str, Any]]:
    return [a for a in bot.slack.event_attempts() if a["ts"] == ts and a["subtype"] is None]


def test_a_reply_its_edit_and_its_deletion_in_slack_reach_ringcentral_as_the_stand_in_sends_them(
    bot: RunningBot, ben: Handler
) -> None:
    parent_ts = _subscribe_two_way(bot, ben)
    _events_on(bot)
    posted = bot.slack.post_as("alice", "handoffs", TEAM_TEXT, thread_ts=parent_ts)
    wait_for(lambda: "white_check_mark" in _reactions(bot, posted["ts"]), 10, "the confirming reaction")
    [note] = _notes(bot, TEAM_TEXT)
    assert note["threadId"] == SUPPORT_THREAD_2
    assert note["author"]["extensionId"] == bot.rc.user("Ana Alvarez").extension_id
    assert [a["status"] for a in _attempts(bot, posted["ts"])] == [200]

    bot.slack.edit_as("alice", "handoffs", posted["ts"], "Logistics says yes, ships Monday")
    wait_for(lambda: _notes(bot, "ships Monday"), 10, "the edited note")
    assert [n["id"] for n in _notes(bot, "Logistics says yes")] == [note["id"]]

    bot.slack.delete_as("alice", "handoffs", posted["ts"])
    wait_for(
        lambda: all(n.get("availability") == "Deleted" for n in _notes(bot, "ships Monday")),
        10,
        "the deletion",
    )
    statuses = {a["subtype"]: a["status"] for a in bot.slack.event_attempts()}
    assert statuses == {None: 200, "message_changed": 200, "message_deleted": 200}, statuses


@pytest.mark.parametrize("sandbox_profile", ["default", "slack-retry-same-signature"], indirect=True)
def test_a_retry_after_a_lost_answer_is_answered_200_and_makes_no_second_note(
    bot: RunningBot, ben: Handler, sandbox_profile: Any
) -> None:
    parent_ts = _subscribe_two_way(bot, ben)
    _events_on(bot, lose_answers=1)  # the bot handles the first attempt, but Slack never sees its 200
    posted = bot.slack.post_as("alice", "handoffs", TEAM_TEXT, thread_ts=parent_ts)
    attempts = wait_for(
        lambda: [a for a in _attempts(bot, posted["ts"]) if a["status"] == 200], 10, "the retry"
    )
    first, retry = _attempts(bot, posted["ts"])[:2]
    assert first["reason"] == "http_timeout" and retry["attempt"] == 1 and attempts == [retry]
    same = sandbox_profile.slack_retry_same_signature
    assert (retry["signature"] == first["signature"]) is same, "the profile decides how a retry is signed"
    time.sleep(1.5)
    assert len(_notes(bot, TEAM_TEXT)) == 1, "one note, however often Slack delivers"
    assert len(_attempts(bot, posted["ts"])) == 2, "nothing more to retry"


@pytest.mark.parametrize("sandbox_profile", ["default", "slack-retry-same-signature"], indirect=True)
def test_a_delayed_retry_the_bot_never_saw_the_first_of_is_accepted_and_handled_once(
    bot: RunningBot, ben: Handler
) -> None:
    parent_ts = _subscribe_two_way(bot, ben)
    _events_on(bot, drop_requests=1, retry_delays=[2.5, 1.0, 1.0])  # lost on the way; retried 2.5 s later
    posted = bot.slack.post_as("alice", "handoffs", TEAM_TEXT, thread_ts=parent_ts)
    wait_for(lambda: "white_check_mark" in _reactions(bot, posted["ts"]), 15, "the note from the retry")
    assert [(a["attempt"], a["status"]) for a in _attempts(bot, posted["ts"])] == [(0, None), (1, 200)]
    assert len(_notes(bot, TEAM_TEXT)) == 1
