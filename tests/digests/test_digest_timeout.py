"""A digest post whose answer never came (Slack held it past the client's timeout, then stored it): a WARNING,
and the day's digest is not posted again."""

from __future__ import annotations

import time

import pytest

from tests.digests.test_digest import POLL, _digests
from tests.kit.bot import RunningBot, wait_for
from tests.kit.clocked import FakeClock


def test_a_digest_whose_answer_never_came_is_a_warning_and_is_not_posted_again(
    bot: RunningBot, clock: FakeClock, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    bot.connect("alice", "Ana Alvarez")
    at = clock.hhmm(1)
    assert (
        f"handoff digest daily at {at} UTC"
        in bot.command(f"subscribe Support digest:{at} tz:UTC", channel="handoffs").text
    )
    time.sleep(2 * POLL)
    bot.slack.fault("chat.postMessage", channel="handoffs", delay=12, land=True)  # the bot gives up at 10 s
    clock.advance(60)
    wait_for(lambda: _digests(bot), 20, "the held digest to land")
    clock.advance(30)
    time.sleep(3 * POLL)
    assert len(_digests(bot)) == 1, "posted again"
    logged = capsys.readouterr()
    assert "digest.maybe_posted" in logged.out + logged.err + caplog.text
