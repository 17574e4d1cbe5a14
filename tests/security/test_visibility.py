"""Issue 17, item 5: `/thread-note status` shows a person only the subscriptions `subscriptions all` shows
them (public channels, private ones they made, everything for an admin)."""

from __future__ import annotations

from tests.kit.bot import RunningBot
from tests.notify.test_channel_notifications import subscribe


def test_status_hides_a_private_channels_subscription_from_a_non_admin_who_did_not_make_it(
    bot: RunningBot,
) -> None:
    bot.connect("alice", "Ana Alvarez")
    assert "now receives" in subscribe(bot, "Support", channel="handoffs")  # private
    assert "now receives" in subscribe(bot, "Sales", channel="support")  # public

    dave = bot.command("status", user="dave").text  # not an admin, did not make #handoffs' subscription
    assert "#support" in dave and "Sales" in dave
    assert "handoffs" not in dave

    alice = bot.command("status", user="alice").text
    assert "#handoffs" in alice and "#support" in alice
