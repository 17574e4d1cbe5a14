"""The real bot (web app, scheduler, stand-ins) with an injected clock the test moves: quiet hours and digests
happen at a time of day, so the clock starts at a known second of a known minute and is advanced past it.

Not a plugin: its `clock` and `bot` replace the kit's, so only the suites that want them (two-way, quiet
hours, digests) take them, in their conftest: `bot` together with `clock` (else it gets the kit's frozen one).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.kit.bot import RunningBot, running_bot
from tests.kit.rc import RcAdmin, RcSandbox
from tests.kit.slack import SlackRequests, SlackStandin
from tests.notify.helpers import Handler


class FakeClock:
    """Real time plus an offset: it ticks, and `advance` jumps it forward."""

    def __init__(self) -> None:
        real = datetime.now(UTC)
        # 10 s into a minute, never ahead of real time (RingCentral's clock: a subscription must not start
        # after the notes the test writes next): a window from that minute lasts ~1.8 minutes of test time
        start = real.replace(second=10, microsecond=0)
        if start > real:
            start -= timedelta(minutes=1)
        self.offset = start - real

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)

    def hhmm(self, minutes_from_now: int = 0) -> str:
        return f"{self() + timedelta(minutes=minutes_from_now):%H:%M}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def bot(
    rc_sandbox: RcSandbox,
    rc_admin: RcAdmin,
    slack_standin: SlackStandin,
    slack_request: SlackRequests,
    bot_database_url: str,
    clock: FakeClock,
) -> Iterator[RunningBot]:
    """The kit's `bot`, with the clock injected into everything with a sense of time."""
    with running_bot(
        rc_sandbox, rc_admin, slack_standin, slack_request, bot_database_url, clock=clock
    ) as running:
        yield running


@pytest.fixture
def ana(bot: RunningBot) -> Iterator[Handler]:
    handler = Handler(bot.rc, "Ana Alvarez")
    yield handler
    handler.close()


@pytest.fixture
def ben(bot: RunningBot) -> Iterator[Handler]:
    handler = Handler(bot.rc, "Ben Okafor")
    yield handler
    handler.close()
