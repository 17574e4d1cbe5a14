"""Who may subscribe a channel, and to what, through signed Slack requests against both stand-ins.

Handlers are a resource's SMS recipients (not its call-queue members), asked as the person; where RingCentral
refuses SMS recipients to the app (profile `no-sms-recipients`, `strict`), whether the person can list the
resource's threads decides, and the answer says which rule was used. Sites subscribe like queues. A person
who may not subscribe learns no resource names and costs the service identity nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import pytest

from tests.kit.bot import RunningBot, running_bot, wait_for
from tests.notify.helpers import SUPPORT_THREAD, Handler, shown, with_note

POLL = 1.0  # the bot fixture's THREAD_NOTE_POLL_INTERVAL
WITHIN = 2 * POLL + 2.5  # two poll intervals, plus the pacing of ≈1 message/s per channel
SITE_THREAD = "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c06"  # Main Office (a site), unassigned


def subscribe(bot: RunningBot, text: str, *, user: str, channel: str) -> str:
    replies = bot.command(f"subscribe {text}", user=user, channel=channel)
    if any(b.get("action_id") == "subscription_confirm" for b in replies.buttons()):
        return bot.click(replies.button("subscription_confirm"), user=user, channel=channel).text
    return replies.text


def rule_shown(bot: RunningBot) -> str:
    """The rule the answer names under the profile being played."""
    if bot.rc.settings.profile.sms_recipients_refused:
        return "you can list the conversations of"
    return "you are an SMS recipient of"


def service_resource_reads(bot: RunningBot) -> int:
    service = bot.rc.service_user.extension_id
    by_route = bot.rc_admin.requests()["byRouteAndUser"]
    return sum(
        users.get(service, 0)
        for route, users in by_route.items()
        if route.endswith(("/call-queues", "/sites"))
    )


def test_a_queue_member_who_is_no_sms_recipient_is_refused_and_a_recipient_who_is_no_member_subscribes(
    bot: RunningBot,
) -> None:
    bot.connect("dave", "Eli Navarro")  # a member of the Support queue, not one of its SMS recipients
    refused = subscribe(bot, "Support", user="dave", channel="handoffs")
    assert "Only a handler of Support can subscribe" in refused, refused
    bot.connect("bob", "Chen Wei")  # an SMS recipient of Support, not a member of its queue
    made = subscribe(bot, "Support", user="bob", channel="handoffs")
    assert "now receives" in made and rule_shown(bot) in made, made
    listed = bot.command("subscriptions", user="bob", channel="handoffs").text
    expected = (
        "can list its conversations" if bot.rc.settings.profile.sms_recipients_refused else "SMS recipient"
    )
    assert f"({expected}" in listed, listed


def test_a_site_subscribes_by_name_or_number_and_its_notes_arrive(bot: RunningBot) -> None:
    bot.connect("bob", "Ben Okafor")  # an SMS recipient of the Main Office site
    made = subscribe(bot, "Main Office backfill:2", user="bob", channel="handoffs")
    assert "now receives" in made and "Main Office" in made, made
    wait_for(
        lambda: sum("Main Office" in shown(m) for m in bot.slack.messages("handoffs")) >= 2,
        WITHIN,
        "backfill",
    )
    by_number = subscribe(bot, "100", user="bob", channel="support")
    assert "now receives" in by_number and "Main Office" in by_number, by_number
    time.sleep(POLL * 1.5)
    ben = Handler(bot.rc, "Ben Okafor")
    try:
        note = ben.add(SITE_THREAD, "Wholesale lead called back, Dana has it")
        for channel in ("handoffs", "support"):
            found = wait_for(partial(with_note, bot.slack, channel, note["id"]), WITHIN, f"#{channel}")
            assert len(found) == 1
    finally:
        ben.close()


def test_resource_names_are_shown_only_to_people_who_may_subscribe(bot: RunningBot) -> None:
    said = bot.command("subscribe Nope", user="dave", channel="handoffs").text  # not connected, no admin
    assert "connect" in said.lower() and "Support" not in said and "Sales" not in said, said
    bot.connect("dave", "Dana Kowalski")  # an SMS recipient of Sales only
    said = bot.command("subscribe Nope", user="dave", channel="handoffs").text
    assert "Yours: Sales." in said and "Support" not in said and "Main Office" not in said, said


def test_an_unconnected_strangers_subscribe_storm_costs_the_service_identity_nothing(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    assert "now receives" in subscribe(bot, "Support", user="alice", channel="handoffs")
    time.sleep(POLL * 1.5)
    bot.rc_admin.reset_requests()
    ana = Handler(bot.rc, "Ana Alvarez")
    try:
        answers = [
            bot.command(f"subscribe {name} backfill:10", user="dave", channel="handoffs").text
            for name in ["Support", "Sales", "Nope"] * 5
        ]
        note = ana.add(SUPPORT_THREAD, "Posted while someone hammers /thread-note subscribe")
        started = time.monotonic()
        wait_for(partial(with_note, bot.slack, "handoffs", note["id"]), WITHIN, "the note, on time")
        assert time.monotonic() - started < WITHIN
    finally:
        ana.close()
    assert all("connect" in a.lower() for a in answers[:10]), answers[:10]
    assert all("You're going fast: try again in" in a for a in answers[10:]), answers[10:]
    assert service_resource_reads(bot) == 0


def test_each_person_may_send_ten_subscription_commands_a_minute(bot: RunningBot) -> None:
    bot.connect("bob", "Chen Wei")
    answers = [bot.command("subscribe Nope", user="bob", channel="handoffs").text for _ in range(11)]
    assert all("Yours: Sales, Support." in a for a in answers[:10]), answers
    assert "You're going fast" in answers[10], answers
    assert "Yours:" in bot.command("subscribe Nope", user="alice", channel="handoffs").text  # per person
    assert service_resource_reads(bot) <= 2  # the resource list is read once and cached (queues + sites)


@contextmanager
def bot_with(request: pytest.FixtureRequest, **env: str) -> Iterator[RunningBot]:
    """A single-workspace bot with extra settings, against this test's stand-ins."""
    kit = [request.getfixturevalue(name) for name in ("rc_sandbox", "rc_admin", "slack_standin")]
    requests, database = request.getfixturevalue("slack_request"), request.getfixturevalue("bot_database_url")
    with running_bot(*kit, requests, database, env=env) as running:
        yield running


def test_one_workspace_lets_its_admins_subscribe_unless_the_operator_turns_it_off(
    request: pytest.FixtureRequest,
) -> None:
    with bot_with(request) as bot:  # the default with one workspace: admins may
        made = subscribe(bot, "Support", user="alice", channel="handoffs")  # alice is an admin, not connected
        assert "now receives" in made and "Allowed because you are a Slack workspace admin" in made, made
        assert "(Slack workspace admin" in bot.command("subscriptions", user="alice", channel="handoffs").text
    with bot_with(request, THREAD_NOTE_ADMIN_SUBSCRIBE="false") as bot:
        said = subscribe(bot, "Sales", user="alice", channel="handoffs")
        assert "connect" in said.lower() and "now receives" not in said, said


def test_one_workspace_outside_slack_allowed_teams_is_refused_with_a_sentence(
    request: pytest.FixtureRequest,
) -> None:
    with bot_with(request, SLACK_ALLOWED_TEAMS="T0THEROTHER") as bot:
        response = bot.requests.send(bot.requests.form(bot.requests.payloads.command("subscribe Support")))
        assert response.status_code == 200 and "SLACK_ALLOWED_TEAMS" in response.text, response.text
    with bot_with(request, SLACK_ALLOWED_TEAMS=bot.slack.team_id) as bot:  # listed: served
        assert "now receives" in subscribe(bot, "Support", user="alice", channel="handoffs")
