"""`check` beside a running bot: it signs out after itself, so however often the admin runs it, the bot's own
session of the service user is never pushed out (RingCentral keeps a few sessions per user)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.check.helpers import run_cli
from tests.check.test_check import settings_env
from tests.kit.bot import RunningBot


def test_checks_never_push_the_running_bots_session_out(
    bot: RunningBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env: dict[str, str | None] = dict(settings_env(bot))
    bot.connect("alice", "Ana Alvarez")
    assert "now receives" in bot.command("subscribe Support", channel="handoffs").text
    time.sleep(1.5)  # the bot has signed in as the service user and polls every second
    bot.rc_admin.reset_requests()
    for _ in range(6):  # more runs than the sessions RingCentral keeps per user
        done = run_cli(monkeypatch, capsys, tmp_path, env, "check")
        assert done.status == 0, done.out
    time.sleep(2.5)  # a few more polls of the bot (every second)
    seen = bot.rc_admin.requests()
    assert seen["byRoute"].get("POST /restapi/oauth/revoke") == 6
    sync = seen["byRouteAndStatus"].get(
        "GET /restapi/v1.0/account/{accountId}/message-threads/entries/sync", {}
    )
    assert sync.get("200"), seen["byRouteAndStatus"]
    assert not seen["byStatus"].get("401"), seen["byRouteAndStatus"]  # the bot's session kept working
