"""Issue 17, item 3: Slack Connect channels (shared with another organisation) get no notes: subscribing
is refused, a subscription whose channel becomes shared is paused and its creator told, and a person of the
other organisation is neither an admin here nor offered a connect link. Through signed Slack requests and
the stand-in's shared channels."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kit.bot import RunningBot, running_bot, wait_for
from tests.kit.rc import RcAdmin, RcSandbox
from tests.kit.slack import SlackRequests, SlackStandin
from tests.notify.helpers import SUPPORT_THREAD
from tests.notify.test_channel_notifications import subscribe


@pytest.fixture
def checking_bot(
    rc_sandbox: RcSandbox,
    rc_admin: RcAdmin,
    slack_standin: SlackStandin,
    slack_request: SlackRequests,
    bot_database_url: str,
) -> Iterator[RunningBot]:
    """The bot with its periodic channel check every second (300 s in production)."""
    env = {"THREAD_NOTE_CHANNEL_CHECK_INTERVAL": "1"}
    with running_bot(rc_sandbox, rc_admin, slack_standin, slack_request, bot_database_url, env) as running:
        yield running


@pytest.mark.parametrize(
    ("channel", "action"), [("handoffs", "share"), ("support", "share"), ("handoffs", "invite_org")]
)
def test_subscribing_a_channel_shared_with_another_organisation_is_refused(
    bot: RunningBot, channel: str, action: str
) -> None:
    bot.connect("alice", "Ana Alvarez")
    bot.slack.channel(action, channel=channel, org="Globex")
    said = subscribe(bot, "Support", channel=channel)
    assert "shared with another organisation" in said and "now receives" not in said
    assert not bot.slack.messages(bot.slack.channel_id(channel))


def test_a_channel_that_becomes_shared_pauses_its_subscription_and_tells_its_creator(
    checking_bot: RunningBot,
) -> None:
    bot = checking_bot
    bot.connect("alice", "Ana Alvarez")
    assert "now receives" in subscribe(bot, "Support", channel="handoffs")
    bot.slack.channel("share", channel="handoffs", org="Globex")

    notice = wait_for(
        lambda: [d for d in bot.dms("alice") if "paused" in str(d["args"].get("text"))], 10, "the notice"
    )
    assert "shared with another organisation" in str(notice[0]["args"]["blocks"])
    listed = bot.command("subscriptions", channel="handoffs").text
    assert "paused" in listed and "shared with another organisation" in listed


def test_a_person_of_the_other_organisation_is_no_admin_here_and_gets_no_connect_link(
    bot: RunningBot,
) -> None:
    bot.slack.channel("share", channel="support", org="Globex")  # adds ext-globex, an admin of Globex
    replies = bot.command("subscribe Support", user="ext-globex", channel="support")
    assert "another organisation" in replies.text
    assert not [
        b for b in replies.buttons() if b.get("action_id") in ("subscription_confirm", "connect_open")
    ]
    for text in ("connect", f"add {SUPPORT_THREAD} From a guest"):
        answer = bot.command(text, user="ext-globex", channel="support")
        assert "another organisation" in answer.text, text
        assert not [b for b in answer.buttons() if b.get("action_id") == "connect_open"], text
    bot.requests.app_home_opened("ext-globex")
    home = wait_for(lambda: bot.slack.calls("views.publish"), 10, "the guest's Home")
    assert "oauth/authorize" not in str(home[-1]["args"])
