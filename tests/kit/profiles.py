"""Profiles under test (pytest plugin): `sandbox_profile`, the reading of the docs both stand-ins play.

Every fixture that starts a stand-in (`rc_sandbox`, `slack_standin`, so `bot`) takes `sandbox_profile`.
Outside the core suites it is `default`. The core suites (the folders in `PROFILED`: notifications,
crash-restart, commands, two-way) run once per profile in `THREAD_NOTE_TEST_PROFILES` (comma-separated
names, or `all`; default `default,strict`): `strict` plays every pessimistic reading at once, and each
single-ambiguity profile has targeted tests of its own. A test that needs one reading asks for it:

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
PROFILED = ("notify", "slack_app", "beyond", "reliability/test_crash_loop.py")


def profiles_under_test() -> list[str]:
    raw = os.environ.get(PROFILES_ENV, "default,strict").strip()
    names = list(PROFILES) if raw == "all" else [n.strip() for n in raw.split(",") if n.strip()]
    for name in names:
        get_profile(name)  # an unknown name fails the run at once, naming the known ones
    return names


def _profiled(path: Path) -> bool:
    rel = path.resolve().relative_to(_TESTS).as_posix()
    return any(rel == p or rel.startswith(p + "/") for p in PROFILED)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "sandbox_profile" not in metafunc.fixturenames:
        return
    if any(
        m.name == "parametrize" and "sandbox_profile" in m.args[0] for m in metafunc.definition.iter_markers()
    ):
        return  # the test chose its readings itself
    if _profiled(Path(str(metafunc.definition.path))):
        metafunc.parametrize("sandbox_profile", profiles_under_test(), indirect=True, scope="function")


@pytest.fixture
def sandbox_profile(request: pytest.FixtureRequest) -> Profile:
    return get_profile(getattr(request, "param", "default"))
