"""Shared fixtures. The kit lives in tests/kit/ (one plugin module per stand-in or backend)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = [
    "tests.kit.core",
    "tests.kit.profiles",
    "tests.kit.rc",
    "tests.kit.db",
    "tests.kit.slack",
    "tests.kit.bot",
]

REPO = Path(__file__).resolve().parents[1]
SPEC_PATH = REPO / "bot" / "sandbox" / "ringcentral" / "spec" / "message-threads-openapi.yml"
SLACK_FIXTURES = REPO / "bot" / "sandbox" / "slack" / "fixtures"

_KEEP = {"THREAD_NOTE_TEST_POSTGRES_URL"}
_PREFIXES = ("SLACK_", "RINGCENTRAL_", "THREAD_NOTE_")


@pytest.fixture(autouse=True)
def _scrub_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Credentials are passed explicitly in tests: nothing leaks in from the developer's shell."""
    for name in list(os.environ):
        if (name.startswith(_PREFIXES) and name not in _KEEP) or name == "PORT":
            monkeypatch.delenv(name, raising=False)
    yield
