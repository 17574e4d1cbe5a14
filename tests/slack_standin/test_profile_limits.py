"""The readings of Slack's docs that the stand-in plays under a profile (bot/sandbox/profiles.py): tier-1
history limits for apps outside the Marketplace, a workspace-wide posting limit; and calls that land after the
client gave up."""

from __future__ import annotations

import asyncio

import pytest
from slack_sdk.errors import SlackApiError

from tests.kit.bot import wait_for
from tests.kit.slack import SlackStandin


async def _thread_of(slack: SlackStandin, replies: int) -> str:
    client = slack.client()
    parent = await client.chat_postMessage(channel=slack.channels["general"], text="parent")
    for i in range(replies):
        await client.chat_postMessage(channel=slack.channels["general"], text=f"r{i}", thread_ts=parent["ts"])
    return str(parent["ts"])


@pytest.mark.parametrize("sandbox_profile", ["slack-tier1-history"], indirect=True)
async def test_tier1_history_answers_15_a_page_oldest_first_and_one_request_a_minute(
    slack_standin: SlackStandin,
) -> None:
    parent = await _thread_of(slack_standin, 20)
    client = slack_standin.client()
    general = slack_standin.channels["general"]
    first = await client.conversations_replies(channel=general, ts=parent, limit=1000)
    assert len(first["messages"]) == 15 and first["has_more"]
    assert [m["text"] for m in first["messages"]][:3] == ["parent", "r0", "r1"]  # oldest first
    with pytest.raises(SlackApiError) as err:
        await client.conversations_replies(
            channel=general, ts=parent, cursor=first["response_metadata"]["next_cursor"]
        )
    assert err.value.response.status_code == 429
    assert 55 <= int(err.value.response.headers["Retry-After"]) <= 60
    history = await client.conversations_history(channel=general, limit=200)  # its own budget
    assert len(history["messages"]) == 1
    slack_standin.advance(60)
    rest = await client.conversations_replies(
        channel=general, ts=parent, cursor=first["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in rest["messages"]] == [f"r{i}" for i in range(14, 20)]


async def test_the_default_profile_keeps_the_usual_pages_and_no_history_limit(
    slack_standin: SlackStandin,
) -> None:
    parent = await _thread_of(slack_standin, 20)
    client = slack_standin.client()
    for _ in range(3):
        page = await client.conversations_replies(channel=slack_standin.channels["general"], ts=parent)
        assert len(page["messages"]) == 21


@pytest.mark.parametrize("sandbox_profile", ["slack-workspace-post-limit"], indirect=True)
async def test_a_workspace_wide_posting_limit_answers_429_in_any_channel(slack_standin: SlackStandin) -> None:
    client = slack_standin.client()
    channels = [slack_standin.channels[name] for name in ("general", "support", "handoffs")]
    for i in range(100):
        await client.chat_postMessage(channel=channels[i % 3], text=str(i))
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel=channels[0], text="one too many")
    assert err.value.response.status_code == 429 and err.value.response.headers["Retry-After"]
    slack_standin.advance(61)
    await client.chat_postMessage(channel=channels[1], text="a minute later")


@pytest.mark.parametrize("land", [True, False])
async def test_a_held_post_lands_after_the_client_gave_up_unless_dropped(
    slack_standin: SlackStandin, land: bool
) -> None:
    slack_standin.fault("chat.postMessage", channel="general", delay=1.5, land=land)
    client = slack_standin.client(timeout=0.5)
    with pytest.raises(asyncio.TimeoutError):
        await client.chat_postMessage(channel=slack_standin.channels["general"], text="held")
    assert slack_standin.messages("general") == []
    calls = wait_for(lambda: slack_standin.calls("chat.postMessage"), 5, "the held call to end")
    texts = [m["text"] for m in slack_standin.messages("general")]
    assert texts == (["held"] if land else [])
    assert calls[0]["status"] == (200 if land else 504)


def test_land_false_needs_a_delay_and_no_error(slack_standin: SlackStandin) -> None:
    with pytest.raises(AssertionError, match="land"):
        slack_standin.fault("chat.postMessage", "channel_not_found", delay=1, land=False)
