"""`check` against the emulator's real sign-in limit (Auth group: five a minute per user, sign-outs counted):
a run over the limit (by the third, as each run signs in and out) is told to wait, in seconds from
Retry-After, and it is never blamed on a permission."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.sandbox.profiles import Profile
from bot.sandbox.ringcentral.settings import SandboxSettings
from tests.check.helpers import base_env, run_cli
from tests.kit.rc import RcSandbox
from tests.kit.slack import SlackStandin


@pytest.fixture
def rc_sandbox_settings(sandbox_profile: Profile) -> SandboxSettings:
    """The emulator's own limits (the kit raises the Auth group's for other tests)."""
    return SandboxSettings(redirect_uris=["*"], profile=sandbox_profile)


def test_checks_over_the_sign_in_limit_are_told_to_wait(
    rc_sandbox: RcSandbox,
    slack_standin: SlackStandin,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env: dict[str, str | None] = dict(base_env(rc_sandbox, slack_standin, tmp_path))
    runs = [run_cli(monkeypatch, capsys, tmp_path, env, "check", "--before-start") for _ in range(6)]
    assert runs[0].status == 0, runs[0].out
    limited = [run for run in runs if run.status]
    assert limited, "six checks in a minute stayed under the Auth limit"
    for run in limited:
        run.one_red_line("RingCentral", "rate-limited", "wait 60 s")  # the emulator's Retry-After
        assert "permission" not in run.out.lower()
