"""Faults from RingCentral end in the right state: retried, paused, or told to the right person in one
sentence — and nothing is lost or written twice.

Most tests drive the real bot (`bot` / `make_bot`) with signed Slack requests while the emulator injects the
fault. The rate-limit penalty tests run the client against the emulator with time coupled: the client's
`sleep` moves the emulator's clock, so a 60 s penalty takes milliseconds and "early" is exact.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from bot.ringcentral import JwtAuth, RingCentralClient
from bot.ringcentral.errors import RateLimited
from tests.kit.bot import RunningBot, wait_for
from tests.kit.rc import RcAdmin, RcSandbox, SpecTransport
from tests.notify.helpers import MT, SUPPORT_THREAD, Handler, with_note
from tests.reliability.conftest import BotFactory, stop

NOTES = f"{MT}/notes"
ANA = "Ana Alvarez"
POLL = 1.0
WITHIN = 2 * POLL + 3.0


def alive(bot: RunningBot, text: str) -> list[dict[str, Any]]:
    return [n for n in bot.rc_state_notes() if n.get("text") == text and n["availability"] == "Alive"]


def by_status(admin: RcAdmin, route: str) -> dict[str, int]:
    counts: dict[str, int] = admin.requests()["byRouteAndStatus"].get(route, {})
    return counts


CREATE = "POST /restapi/v1.0/account/{accountId}/message-threads/notes"
LIST = "GET /restapi/v1.0/account/{accountId}/message-threads/notes"
TOKEN = "POST /restapi/oauth/token"


@pytest.fixture
def ana(bot: RunningBot) -> Iterator[Handler]:
    handler = Handler(bot.rc, ANA)
    yield handler
    handler.close()


# --- through the bot ------------------------------------------------------------------------------------


def test_a_429_burst_with_retry_after_is_waited_out_and_the_note_lands_once(bot: RunningBot) -> None:
    bot.connect("alice", ANA)
    bot.rc_admin.reset_requests()
    bot.rc_admin.fault("rate_limit", path=NOTES, method="POST", count=2, retry_after=1)
    replies = bot.command(f"add {SUPPORT_THREAD} After a burst of 429s", timeout=20)
    assert "saved" in replies.text.lower()
    assert len(alive(bot, "After a burst of 429s")) == 1
    assert by_status(bot.rc_admin, CREATE) == {"429": 2, "201": 1}


def test_a_request_during_the_penalty_waits_instead_of_restarting_it(bot: RunningBot) -> None:
    """One person's two commands: the second arrives during the first's penalty and must not go early."""
    bot.connect("alice", ANA)
    bot.rc_admin.reset_requests()
    bot.rc_admin.fault("rate_limit", path=NOTES, method="POST", count=1, retry_after=2)
    payload = bot.requests.payloads.command(f"add {SUPPORT_THREAD} First, into the penalty")
    assert bot.requests.send(bot.requests.form(payload)).status_code == 200
    wait_for(lambda: by_status(bot.rc_admin, CREATE).get("429"), 10, "the 429")
    listed = bot.command(f"list {SUPPORT_THREAD}", timeout=20)  # Medium group, same identity
    assert "First, into the penalty" in listed.text or listed.bodies
    wait_for(lambda: alive(bot, "First, into the penalty"), 20, "the first note after the penalty")
    rid = payload["response_url"].rstrip("/").rsplit("/", 1)[-1]
    first = wait_for(lambda: [r for r in bot.slack.responses() if r["id"] == rid], 20, "the first answer")
    assert "saved" in str(first).lower()  # nothing left in flight when the bot stops
    statuses = bot.rc_admin.requests()["byStatus"]
    assert statuses.get("429") == 1, f"an early request restarted the penalty: {statuses}"


def test_a_503_on_reads_is_retried_and_the_person_sees_the_answer(bot: RunningBot, ana: Handler) -> None:
    bot.connect("alice", ANA)
    ana.add(SUPPORT_THREAD, "Listed through two 503s")
    bot.rc_admin.fault("status", path=NOTES, method="GET", status=503, count=2)
    replies = bot.command(f"list {SUPPORT_THREAD}", timeout=20)
    assert "Listed through two 503s" in replies.text


def test_a_503_on_create_is_not_resent_and_the_person_gets_one_sentence_and_their_text(
    bot: RunningBot,
) -> None:
    bot.connect("alice", ANA)
    bot.rc_admin.fault("status", path=NOTES, method="POST", status=503, count=1)
    replies = bot.command(f"add {SUPPORT_THREAD} Written during an outage")
    assert "isn't answering" in replies.text and "Written during an outage" in replies.text
    assert alive(bot, "Written during an outage") == []
    again = bot.command(f"add {SUPPORT_THREAD} Written during an outage")
    assert "saved" in again.text.lower()
    assert len(alive(bot, "Written during an outage")) == 1


def test_a_create_that_timed_out_but_landed_is_found_not_written_twice(make_bot: BotFactory) -> None:
    bot = make_bot(rc_timeout=1.5)
    bot.connect("alice", ANA)
    bot.rc_admin.fault("latency_after", path=NOTES, method="POST", seconds=3, count=1)
    replies = bot.command(f"add {SUPPORT_THREAD} Slow but it landed", timeout=20)
    assert "saved" in replies.text.lower(), replies.text
    assert len(alive(bot, "Slow but it landed")) == 1
    assert wait_for(lambda: by_status(bot.rc_admin, CREATE), 10, "the late answer") == {"201": 1}


def test_a_slow_ringcentral_delays_the_answer_never_the_acknowledgement(
    bot: RunningBot, ana: Handler
) -> None:
    bot.connect("alice", ANA)
    ana.add(SUPPORT_THREAD, "Read slowly")
    bot.rc_admin.fault("latency", path=NOTES, method="GET", seconds=2.0, count=1)
    payload = bot.requests.payloads.command(f"list {SUPPORT_THREAD}")
    started = time.monotonic()
    assert bot.requests.send(bot.requests.form(payload)).status_code == 200
    assert time.monotonic() - started < 1.5, "the acknowledgement waited for RingCentral"
    wait_for(lambda: "Read slowly" in str(bot.slack.responses()), 15, "the slow answer")


def test_stopping_the_bot_during_a_slow_command_lets_it_finish_and_answer(make_bot: BotFactory) -> None:
    """Bolt runs a listener on after acknowledging: stopping the bot waits for it (bounded) before the
    clients and the store close, so the note lands once, the person gets the answer, and no task is left
    holding a database connection (pytest turns such a ResourceWarning into an error)."""
    bot = make_bot()
    bot.connect("alice", ANA)
    bot.rc_admin.fault("latency", path=NOTES, method="POST", seconds=2.0, count=1)
    payload = bot.requests.payloads.command(f"add {SUPPORT_THREAD} Saved while the bot stops")
    assert bot.requests.send(bot.requests.form(payload)).status_code == 200
    stop(bot)  # the listener is still waiting for RingCentral
    rid = payload["response_url"].rstrip("/").rsplit("/", 1)[-1]
    answers = [r["body"] for r in bot.slack.responses() if r["id"] == rid]
    assert "saved" in str(answers).lower(), answers
    assert len(alive(bot, "Saved while the bot stops")) == 1


def test_an_access_token_expiring_mid_use_costs_one_refresh_and_the_note_lands(bot: RunningBot) -> None:
    bot.connect("alice", ANA)
    bot.rc_admin.reset_requests()
    bot.rc_admin.fault("expire_tokens", extension_id=bot.rc.user(ANA).extension_id)
    replies = bot.command(f"add {SUPPORT_THREAD} After the token expired")
    assert "saved" in replies.text.lower()
    assert len(alive(bot, "After the token expired")) == 1
    assert bot.rc_admin.requests()["byRoute"].get(TOKEN) == 1


def test_a_thread_resolved_between_the_click_and_the_call_is_told_in_one_sentence(
    bot: RunningBot, ana: Handler
) -> None:
    bot.connect("alice", ANA)
    hold = bot.rc_admin.fault("hold", path=NOTES, method="POST", count=1)
    payload = bot.requests.payloads.command(f"add {SUPPORT_THREAD} Too late by a second")
    assert bot.requests.send(bot.requests.form(payload)).status_code == 200
    wait_for(
        lambda: any(f["hits"] for f in httpx.get(f"{bot.rc.url}/sandbox/faults").json()["faults"]),
        10,
        "the held create",
    )
    ana.http.post(f"{MT}/{SUPPORT_THREAD}/resolve").raise_for_status()
    bot.rc_admin.release(hold)
    rid = payload["response_url"].rstrip("/").rsplit("/", 1)[-1]
    answer = wait_for(lambda: [r for r in bot.slack.responses() if r["id"] == rid], 15, "the answer")
    text = str(answer)
    assert "resolved" in text and "Too late by a second" in text
    assert alive(bot, "Too late by a second") == []


def test_an_expired_sync_token_loses_no_note_and_doubles_none(bot: RunningBot, ana: Handler) -> None:
    bot.connect("alice", ANA)
    replies = bot.command("subscribe Support", channel="handoffs")
    if any(b.get("action_id") == "subscription_confirm" for b in replies.buttons()):
        bot.click(replies.button("subscription_confirm"), channel="handoffs")
    time.sleep(POLL * 1.5)
    before = ana.add(SUPPORT_THREAD, "Before the sync token expired")
    wait_for(lambda: with_note(bot.slack, "handoffs", before["id"]), WITHIN, "the first note")
    bot.rc_admin.expire_sync_tokens()
    after = ana.add(SUPPORT_THREAD, "After the sync token expired")
    wait_for(lambda: with_note(bot.slack, "handoffs", after["id"]), WITHIN + 3, "the note after expiry")
    time.sleep(POLL * 2)
    assert len(with_note(bot.slack, "handoffs", before["id"])) == 1
    assert len(with_note(bot.slack, "handoffs", after["id"])) == 1


# --- the client's penalty, with the emulator's clock coupled to the client's ---------------------------


class CoupledTime:
    """A monotonic clock for the client whose sleeps move the emulator's clock by as much."""

    def __init__(self, admin: RcAdmin) -> None:
        self.admin = admin
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if seconds > 0:
            self.now += seconds
            self.admin.advance(seconds)


@pytest.fixture
async def service_client(
    rc_sandbox: RcSandbox, rc_admin: RcAdmin, spec_transport: SpecTransport
) -> AsyncIterator[tuple[RingCentralClient, CoupledTime]]:
    time_ = CoupledTime(rc_admin)
    client = RingCentralClient(
        rc_sandbox.url, rc_sandbox.client_id, rc_sandbox.client_secret,
        auth=JwtAuth(rc_sandbox.service_user.jwt, clock=time_.clock),
        transport=spec_transport, clock=time_.clock, sleep=time_.sleep,
    )  # fmt: skip
    yield client, time_
    await client.aclose()


async def test_a_429_without_retry_after_waits_the_whole_penalty_not_30_s_into_it(
    service_client: tuple[RingCentralClient, CoupledTime], rc_admin: RcAdmin
) -> None:
    """RingCentral's Medium penalty is 60 s; a 429 without Retry-After must not be retried after 30 s, which
    would land inside the penalty and restart it (each early request does), again and again."""
    client, time_ = service_client
    await client.list_notes(thread_ids=[SUPPORT_THREAD])  # signed in, headers learned
    rc_admin.reset_requests()
    rc_admin.fault("rate_limit", path=NOTES, method="GET", count=1)  # no retryAfter: the group's 60 s penalty
    page = await client.list_notes(thread_ids=[SUPPORT_THREAD])
    assert page.records is not None
    assert rc_admin.requests()["byStatus"].get("429") == 1, "a retry landed inside the penalty"
    assert sum(time_.slept) >= 60


async def test_a_penalty_longer_than_the_client_waits_ends_in_rate_limited_after_one_request(
    service_client: tuple[RingCentralClient, CoupledTime], rc_admin: RcAdmin
) -> None:
    client, _ = service_client
    await client.list_notes(thread_ids=[SUPPORT_THREAD])
    rc_admin.reset_requests()
    rc_admin.fault("rate_limit", path=NOTES, method="GET", count=1, retry_after=600)
    with pytest.raises(RateLimited) as raised:
        await client.list_notes(thread_ids=[SUPPORT_THREAD])
    assert raised.value.retry_after >= 600
    with pytest.raises(RateLimited):  # a later call in the penalty does not go out at all
        await client.list_notes(thread_ids=[SUPPORT_THREAD])
    assert rc_admin.requests()["byStatus"] == {"429": 1}


def test_during_a_long_penalty_every_command_gets_the_sentence_at_once_and_sends_nothing(
    bot: RunningBot,
) -> None:
    bot.connect("alice", ANA)
    bot.rc_admin.reset_requests()
    bot.rc_admin.fault("rate_limit", path=NOTES, method="POST", count=1, retry_after=600)
    first = bot.command(f"add {SUPPORT_THREAD} Into a long penalty")
    assert "slow down" in first.text and "Into a long penalty" in first.text
    started = time.monotonic()
    later = bot.command(f"list {SUPPORT_THREAD}", timeout=15)  # same identity, same group
    assert "slow down" in later.text
    assert time.monotonic() - started < 5, "a later command hung in the penalty"
    assert bot.rc_admin.requests()["byStatus"].get("429") == 1
