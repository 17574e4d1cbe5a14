"""Rate limits like Slack's when asked, and injected faults."""

from __future__ import annotations

import asyncio
import time

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler

from tests.kit.slack import SlackStandin


async def test_rate_limits_are_off_by_default(slack_standin: SlackStandin) -> None:
    client = slack_standin.client()
    for i in range(5):
        await client.chat_postMessage(channel=slack_standin.channels["general"], text=str(i))


async def test_post_message_is_limited_per_channel_with_retry_after(slack_standin: SlackStandin) -> None:
    slack_standin.rate_limit("chat.postMessage", limit=1, window=1.0)
    client = slack_standin.client()
    await client.chat_postMessage(channel=slack_standin.channels["general"], text="1")
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel=slack_standin.channels["general"], text="2")
    response = err.value.response
    assert (response.status_code, response["error"], response.headers["Retry-After"]) == (
        429,
        "ratelimited",
        "1",
    )
    await client.chat_postMessage(channel=slack_standin.channels["support"], text="other channel")
    slack_standin.advance(1.0)
    await client.chat_postMessage(channel=slack_standin.channels["general"], text="later")
    assert [c["status"] for c in slack_standin.calls("chat.postMessage")] == [200, 429, 200, 200]


async def test_slack_preset_scales_for_benchmarks(slack_standin: SlackStandin) -> None:
    rules = {r["method"]: r for r in slack_standin.rate_limit(preset="slack", scale=3)}
    assert (rules["chat.postMessage"]["limit"], rules["chat.postMessage"]["per"]) == (3, "channel")
    assert rules["chat.update"]["limit"] == 150
    client = slack_standin.client()
    for i in range(3):
        await client.chat_postMessage(channel=slack_standin.channels["general"], text=str(i))
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel=slack_standin.channels["general"], text="4th")


async def test_sdk_retry_handler_waits_out_retry_after(slack_standin: SlackStandin) -> None:
    slack_standin.fault("chat.postMessage", "ratelimited", retry_after=0)
    client = slack_standin.client(retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])
    started = time.monotonic()
    await client.chat_postMessage(channel=slack_standin.channels["general"], text="eventually")
    assert time.monotonic() - started < 2.5
    assert [c["status"] for c in slack_standin.calls("chat.postMessage")] == [429, 200]


@pytest.mark.parametrize(
    "error", ["channel_not_found", "is_archived", "not_in_channel", "account_inactive", "token_revoked"]
)
async def test_a_fault_fails_the_next_calls_of_a_method_for_one_channel(
    slack_standin: SlackStandin, error: str
) -> None:
    slack_standin.fault("chat.postMessage", error, channel="general", count=2)
    client = slack_standin.client()
    await client.chat_postMessage(channel=slack_standin.channels["support"], text="unaffected")
    for _ in range(2):
        with pytest.raises(SlackApiError) as err:
            await client.chat_postMessage(channel=slack_standin.channels["general"], text="x")
        assert err.value.response["error"] == error
    await client.chat_postMessage(channel=slack_standin.channels["general"], text="recovered")
    assert [m["text"] for m in slack_standin.messages("general")] == ["recovered"]


async def test_a_server_error_fault_answers_5xx(slack_standin: SlackStandin) -> None:
    slack_standin.fault("conversations.history", status=503)
    with pytest.raises(SlackApiError) as err:
        await slack_standin.client().conversations_history(channel=slack_standin.channels["general"])
    assert err.value.response.status_code == 503


async def test_a_latency_fault_delays_then_answers(slack_standin: SlackStandin) -> None:
    slack_standin.fault("auth.test", delay=0.3)
    started = time.monotonic()
    assert (await slack_standin.client().auth_test())["ok"]
    assert time.monotonic() - started >= 0.3


async def test_a_hang_times_out_the_client_and_is_released_by_clearing_faults(
    slack_standin: SlackStandin,
) -> None:
    slack_standin.fault("auth.test", delay=60)
    with pytest.raises(asyncio.TimeoutError):
        await slack_standin.client(timeout=1).auth_test()
    slack_standin.clear_faults()
    assert (await slack_standin.client().auth_test())["ok"]
