"""Issue 16, item 2: "Forget this workspace", the admin action in Slack, through signed requests into the bot
(one workspace, `SLACK_BOT_TOKEN`). Its admins see it in App Home and may run `/thread-note forget-workspace`;
a modal names what goes, per kind, and asks for the workspace's name; then every row of the workspace goes
and the modal says what did. Anyone else gets one sentence at every step, and nothing is deleted. (Two
workspaces, the other untouched and every table reflected: tests/security/test_tenant_isolation.py.)"""

from __future__ import annotations

import sqlite3
from typing import Any

from tests.kit.bot import RunningBot, texts, wait_for
from tests.notify.test_channel_notifications import subscribe

NOT_ADMIN = "Only an admin or owner of this Slack workspace can forget it"
WITHIN = 30.0  # seconds to wait for the bot's answer: generous, the machine may be loaded
CONFIRM = {"forget_confirm": {"forget_confirm_input": "Sandbox"}}  # the stand-in's workspace is "Sandbox"


def _count(bot: RunningBot, table: str) -> int:
    with sqlite3.connect(bot.database_url.removeprefix("sqlite:///")) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _forgets(bot: RunningBot) -> int:
    with sqlite3.connect(bot.database_url.removeprefix("sqlite:///")) as db:
        query = "SELECT count(*) FROM audit_log WHERE action = 'forget_workspace'"
        return int(db.execute(query).fetchone()[0])


def _forget_modal(bot: RunningBot, user: str = "carol") -> dict[str, Any]:
    return bot.modal(
        user, callback_id="forget_workspace", where=lambda v: "Type Sandbox" in texts(v), timeout=WITHIN
    )


def _home_text(bot: RunningBot, user: str) -> str:
    before = len(bot.slack.calls("views.publish"))
    bot.requests.app_home_opened(user)
    wait_for(lambda: len(bot.slack.calls("views.publish")) > before, WITHIN, f"{user}'s Home published")
    return texts(bot.home(user))


def test_app_home_shows_forget_this_workspace_to_admins_only(bot: RunningBot) -> None:
    assert "Forget this workspace" in _home_text(bot, "carol")  # the primary owner
    assert "Forget this workspace" in _home_text(bot, "alice")  # an admin
    dave = _home_text(bot, "dave")
    assert "Connect your RingCentral account" in dave and "Forget this workspace" not in dave


def test_an_admin_forgets_the_workspace_after_seeing_what_goes_and_typing_its_name(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    assert "now receives" in subscribe(bot, "Support", channel="support")
    assert _count(bot, "rc_links") == 1 and _count(bot, "subscriptions") == 1

    bot.command("forget-workspace", user="carol", answers=0)
    view = _forget_modal(bot)
    shown = texts(view)
    assert "• 1 people connected to RingCentral" in shown and "• 1 channel subscriptions" in shown
    assert "RingCentral keeps every note" in shown

    wrong = bot.submit(view, {"forget_confirm": {"forget_confirm_input": "sandbox inc"}}, user="carol")
    assert wrong.json()["response_action"] == "errors"
    assert "Type Sandbox exactly" in wrong.json()["errors"]["forget_confirm"]
    assert _count(bot, "rc_links") == 1 and _count(bot, "subscriptions") == 1

    assert bot.submit(view, CONFIRM, user="carol").status_code == 200
    done = bot.modal("carol", where=lambda v: "Forgot" in texts(v), timeout=WITHIN)
    said = texts(done)
    assert "Forgot *Sandbox*" in said and "• 1 people connected to RingCentral" in said
    assert "• 1 channel subscriptions" in said
    assert _count(bot, "rc_links") == 0 and _count(bot, "subscriptions") == 0
    with sqlite3.connect(bot.database_url.removeprefix("sqlite:///")) as db:
        audit = db.execute("SELECT team_id, user_id, action, detail FROM audit_log").fetchall()
    assert [a[:3] for a in audit] == [(bot.slack.team_id, bot.slack.user_id("carol"), "forget_workspace")]
    assert "rc_links 1" in audit[0][3] and "subscriptions 1" in audit[0][3]
    assert "not connected" in bot.command("status", user="alice").text.lower()


def test_a_non_admin_is_refused_in_one_sentence_by_the_command_the_button_and_the_submission(
    bot: RunningBot,
) -> None:
    bot.connect("alice", "Ana Alvarez")
    bot.command("forget-workspace", user="dave", answers=0)
    refused = bot.modal("dave", where=lambda v: NOT_ADMIN in texts(v), timeout=WITHIN)
    assert "Type Sandbox" not in texts(refused) and not refused.get("submit")

    pressed = bot.requests.block_action("forget_workspace_open", None, user="dave", channel="general")
    assert pressed.status_code == 200
    refusals = lambda: [c for c in bot.slack.calls("views.update") if NOT_ADMIN in str(c["args"])]  # noqa: E731
    wait_for(lambda: len(refusals()) == 2, WITHIN, "the button refused too")

    bot.command("forget-workspace", user="carol", answers=0)  # a real modal, submitted by Dave instead
    forged = bot.submit(_forget_modal(bot), CONFIRM, user="dave")
    assert forged.status_code == 200
    wait_for(lambda: len(refusals()) == 3, WITHIN, "the forged submission refused")
    assert _count(bot, "rc_links") == 1 and _forgets(bot) == 0
    assert "not connected" not in bot.command("status", user="alice").text.lower()


def test_a_person_of_another_organisation_is_no_admin_here(bot: RunningBot) -> None:
    """Slack Connect: the other organisation's admin in a shared channel is an admin of theirs only."""
    bot.connect("alice", "Ana Alvarez")
    bot.slack.channel("share", channel="support", org="Globex")
    bot.command("forget-workspace", user="ext-globex", channel="support", answers=0)
    bot.modal("ext-globex", where=lambda v: NOT_ADMIN in texts(v), timeout=WITHIN)
    assert _count(bot, "rc_links") == 1
