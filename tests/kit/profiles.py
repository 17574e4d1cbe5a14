"""Profiles under test (pytest plugin): `sandbox_profile`, the reading of the docs both stand-ins play.

Every fixture that starts a stand-in (`rc_sandbox`, `slack_standin`, so `bot`) takes `sandbox_profile`.
Outside the core suites it is `default`. The core suites (`PROFILED`: notifications, crash-restart,
commands, two-way, quiet hours, digests) run once per profile in `THREAD_NOTE_TEST_PROFILES`
(comma-separated names, or `all`; default `default,strict`: `strict` plays every pessimistic reading at
once). Their heart (`EVERY_READING`: channel notifications, crash-restart, the commands) runs under every
profile, each single reading too, in every run; and each reading has targeted tests of its own. A test
that needs one reading asks for it:

    @pytest.mark.parametrize("sandbox_profile", ["capped-sync"], indirect=True)
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.sandbox.profiles import PROFILES, Profile, get_profile

PROFILES_ENV = "THREAD_NOTE_TEST_PROFILES"
_TESTS = Path(__file__).resolve().parents[1]
# The core suites, run under each profile in THREAD_NOTE_TEST_PROFILES.
PROFILED = ("notify", "slack_app", "two_way", "quiet_hours", "digests", "reliability/test_crash_loop.py")
# Their heart, run under every profile in every run.
EVERY_READING = (
    "notify/test_channel_notifications.py",
    "notify/test_crash_restart.py",
    "slack_app/test_commands.py",
)


def profiles_under_test() -> list[str]:
    raw = os.environ.get(PROFILES_ENV, "default,strict").strip()
    names = list(PROFILES) if raw == "all" else [n.strip() for n in raw.split(",") if n.strip()]
    for name in names:
        get_profile(name)  # an unknown name fails the run at once, naming the known ones
    return names


def _under(path: Path, places: tuple[str, ...]) -> bool:
    rel = path.resolve().relative_to(_TESTS).as_posix()
    return any(rel == p or rel.startswith(p + "/") for p in places)


def profiles_for(path: Path) -> list[str]:
    """The profiles a test module runs under (none: it is not parametrized, `default`)."""
    if _under(path, EVERY_READING):
        return list(dict.fromkeys([*profiles_under_test(), *PROFILES]))
    if _under(path, PROFILED):
        return profiles_under_test()
    return []


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "sandbox_profile" not in metafunc.fixturenames:
        return
    if any(
        m.name == "parametrize" and "sandbox_profile" in m.args[0] for m in metafunc.definition.iter_markers()
    ):
        return  # the test chose its readings itself
    names = profiles_for(Path(str(metafunc.definition.path)))
    if names:
        metafunc.parametrize("sandbox_profile", names, indirect=True, scope="function")


@pytest.fixture
def sandbox_profile(request: pytest.FixtureRequest) -> Profile:
    return get_profile(getattr(request, "param", "default"))
