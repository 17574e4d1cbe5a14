"""Issue 17, item 8: what comes back from Slack's client is not trusted, and sign-in states do not pile up.

- The subscribe confirmation's button value names the queue and the backfill count: the queue is resolved
  again (its name is RingCentral's) and the backfill capped again.
- App Home opened by an unconnected person shows their live sign-in link again instead of a new state per
  open; expired states are deleted by a periodic job.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

import pytest

from tests.kit.bot import RunningBot, running_bot, wait_for
from tests.kit.clocked import FakeClock
from tests.kit.rc import RcAdmin, RcSandbox
from tests.kit.slack import SlackRequests, SlackStandin


def _states(bot: RunningBot) -> int:
    with sqlite3.connect(bot.database_url.removeprefix("sqlite:///")) as db:
        return int(db.execute("SELECT count(*) FROM oauth_states").fetchone()[0])


def test_a_tampered_confirm_button_cannot_rename_the_queue_or_lift_the_backfill_cap(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    replies = bot.command("subscribe Support backfill:1", channel="support")
    button = dict(replies.button("subscription_confirm"))
    value = json.loads(button["value"])
    button["value"] = json.dumps({**value, "n": "Evil <!channel> queue", "k": 5000})

    done = bot.click(button, channel="support")
    assert "now receives" in done.text and "plus the last 50" in done.text, done.text
    assert "5000" not in done.text and "Evil" not in done.text
    listed = bot.command("subscriptions", channel="support").text
    assert "Support" in listed and "Evil" not in listed


def test_opening_app_home_again_reuses_the_live_sign_in_link(bot: RunningBot) -> None:
    urls = []
    for n in range(1, 4):
        bot.requests.app_home_opened("dave")
        published = wait_for(
            lambda n=n: len(bot.slack.calls("views.publish")) >= n and bot.slack.calls("views.publish"),
            10,
            "the Home published",
        )
        urls.append(str(published[-1]["args"]).split("state=")[1].split("&")[0])
    assert len(set(urls)) == 1, "one live link"
    assert _states(bot) == 1


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def pruning_bot(
    rc_sandbox: RcSandbox,
    rc_admin: RcAdmin,
    slack_standin: SlackStandin,
    slack_request: SlackRequests,
    bot_database_url: str,
    clock: FakeClock,
) -> Iterator[RunningBot]:
    env = {"THREAD_NOTE_CHANNEL_CHECK_INTERVAL": "1"}
    with running_bot(
        rc_sandbox, rc_admin, slack_standin, slack_request, bot_database_url, env, clock=clock
    ) as running:
        yield running


def test_expired_sign_in_states_are_deleted_by_the_periodic_job(
    pruning_bot: RunningBot, clock: FakeClock
) -> None:
    bot = pruning_bot
    bot.authorize_url("dave")
    bot.authorize_url("bob")
    assert _states(bot) == 2
    clock.advance(11 * 60)  # states live 10 minutes
    wait_for(lambda: _states(bot) == 0, 10, "the expired states pruned")
