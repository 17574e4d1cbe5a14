"""The reliability and security suite: faults, crashes, hostile input, conformance, secrets.

Every test here carries the `reliability` marker (`pytest -m reliability` runs the suite alone). The short
version runs in the normal `pytest` run; `THREAD_NOTE_LONG=1` makes the loops long (crash-restart cycles,
hypothesis examples, load) — see RELIABILITY.md for the commands and the figures.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.servers import BackgroundServer
from bot.web import create_web_app
from tests.kit.bot import BotSpecTransport, MigratedSqlite, RunningBot, make_settings
from tests.kit.openapi import validator_for
from tests.kit.rc import RcAdmin, RcSandbox
from tests.kit.slack import SlackRequests, SlackStandin

HERE = Path(__file__).resolve().parent
LONG = os.environ.get("THREAD_NOTE_LONG", "") not in ("", "0")


def long_or_short(long: int, short: int) -> int:
    """How many times to do something: `long` behind THREAD_NOTE_LONG=1, `short` in the normal run."""
    return long if LONG else short


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.reliability)


class TimeoutTransport(httpx.AsyncBaseTransport):
    """The bot's RingCentral traffic with a short read timeout: an answer slower than `seconds` is a
    `ReadTimeout`, exactly what httpx raises when RingCentral is slow (the request was sent)."""

    def __init__(self, inner: BotSpecTransport, seconds: float) -> None:
        self.inner = inner
        self.seconds = seconds

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await asyncio.wait_for(self.inner.handle_async_request(request), self.seconds)
        except TimeoutError:
            raise httpx.ReadTimeout("timed out", request=request) from None

    async def aclose(self) -> None:
        await self.inner.aclose()


BotFactory = Callable[..., RunningBot]


@pytest.fixture
def make_bot(
    rc_sandbox: RcSandbox,
    rc_admin: RcAdmin,
    slack_standin: SlackStandin,
    slack_request: SlackRequests,
    tmp_path: Path,
    migrated_sqlite: MigratedSqlite,
) -> Iterator[BotFactory]:
    """Start the real web app like the kit's `bot`, with knobs: `rc_timeout` (seconds), `database_url`,
    extra settings (e.g. `THREAD_NOTE_SECRET_KEY`). Several may run one after the other on the same stand-ins
    (a restart); each is stopped at teardown (or by `stop(bot)`)."""
    running: list[tuple[BackgroundServer, BotSpecTransport]] = []
    default_url = migrated_sqlite(tmp_path / "bot.db")  # once: a restart keeps the database

    def start(
        *, rc_timeout: float | None = None, database_url: str | None = None, **extra: Any
    ) -> RunningBot:
        server = BackgroundServer()
        url = database_url or default_url
        settings = make_settings(
            slack=slack_standin, rc=rc_sandbox, database_url=url, public_url=server.url, **extra
        )
        spec = BotSpecTransport(validator=validator_for(rc_sandbox.settings.profile))
        transport: httpx.AsyncBaseTransport = (
            spec if rc_timeout is None else TimeoutTransport(spec, rc_timeout)
        )
        server.app = create_web_app(settings, rc_transport=transport)
        server.start(timeout=30)
        running.append((server, spec))
        slack_request.app_url = server.url
        bot = RunningBot(server.url, settings, slack_standin, rc_sandbox, slack_request, url, rc_admin)
        bot.server = server  # type: ignore[attr-defined]  # for stop(bot)
        return bot

    yield start
    for server, spec in running:
        server.stop()
        assert not spec.violations, spec.report()


def stop(bot: RunningBot) -> None:
    """Stop a bot started by `make_bot` (a clean shutdown), e.g. before restarting it with other settings."""
    # BackgroundServer.stop is idempotent: the fixture's teardown stops it again harmlessly.
    server: BackgroundServer = bot.server  # type: ignore[attr-defined]
    server.stop()
