"""`/thread-note status`, `/healthz` and `/metrics` tell operators what they need and nobody more than
that."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial

import httpx
import pytest

from tests.kit.bot import RunningBot, running_bot, wait_for
from tests.kit.rc import RcAdmin, RcSandbox
from tests.kit.slack import SlackRequests, SlackStandin
from tests.notify.helpers import SUPPORT_THREAD, Handler, with_note

POLL = 1.0
METRICS_TOKEN = "operators-token-0123456789"


@pytest.fixture
def ana(bot: RunningBot) -> Iterator[Handler]:
    handler = Handler(bot.rc, "Ana Alvarez")
    yield handler
    handler.close()


def _subscribe_and_deliver(bot: RunningBot, ana: Handler) -> None:
    bot.connect("alice", "Ana Alvarez")
    bot.command("subscribe Support", channel="handoffs")
    time.sleep(POLL * 1.5)
    note = ana.add(SUPPORT_THREAD, "Status check note")
    wait_for(partial(with_note, bot.slack, "handoffs", note["id"]), 6, "the note in #handoffs")


def test_status_shows_the_bots_ringcentral_identity_and_each_subscriptions_figures(
    bot: RunningBot, ana: Handler
) -> None:
    _subscribe_and_deliver(bot, ana)
    text = bot.command("status", channel="handoffs").text
    assert "Thread Note Bot" in text
    assert bot.rc.service_user.extension_id in text
    assert "#handoffs · Support" in text
    for figure in ("last poll", "lag", "outbox 0", "last error none"):
        assert figure in text


def test_healthz_reports_health_without_naming_channels_or_queues(bot: RunningBot, ana: Handler) -> None:
    _subscribe_and_deliver(bot, ana)
    response = httpx.get(f"{bot.url}/healthz", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"ok": True}  # the public port says only ok or not
    assert "handoffs" not in response.text and "Support" not in response.text


@pytest.fixture
def metrics_bot(
    rc_sandbox: RcSandbox,
    rc_admin: RcAdmin,
    slack_standin: SlackStandin,
    slack_request: SlackRequests,
    bot_database_url: str,
) -> Iterator[RunningBot]:
    """The bot with an operators' token: /metrics is served on the public port only to its bearer."""
    env = {"THREAD_NOTE_METRICS_TOKEN": METRICS_TOKEN}
    with running_bot(rc_sandbox, rc_admin, slack_standin, slack_request, bot_database_url, env) as running:
        yield running


def test_metrics_export_per_subscription_figures(metrics_bot: RunningBot) -> None:
    bot = metrics_bot
    ana = Handler(bot.rc, "Ana Alvarez")
    try:
        _subscribe_and_deliver(bot, ana)
    finally:
        ana.close()
    auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    body = httpx.get(f"{bot.url}/metrics", headers=auth, timeout=10).text
    line = next(x for x in body.splitlines() if x.startswith("thread_note_subscription_outbox_depth{"))
    assert 'channel="handoffs"' in line and 'resource="Support"' in line
    assert line.endswith(" 0.0")
    assert any(
        x.startswith("thread_note_subscription_paused{") and x.endswith(" 0.0") for x in body.splitlines()
    )
    polled = next(
        x for x in body.splitlines() if x.startswith("thread_note_subscription_last_poll_timestamp{")
    )
    assert float(polled.rsplit(" ", 1)[1]) > time.time() - 60
