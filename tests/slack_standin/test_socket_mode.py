"""Socket Mode: Bolt's AsyncSocketModeHandler connects to the stand-in, receives envelopes and acks them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from tests.kit.slack import SlackRequests, SlackStandin

MODAL = {
    "type": "modal",
    "callback_id": "note_modal",
    "title": {"type": "plain_text", "text": "Save as note"},
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Pick a thread"}}],
}


@pytest.fixture
async def bolt_socket_app(slack_standin: SlackStandin) -> AsyncIterator[AsyncApp]:
    app = AsyncApp(client=slack_standin.client())
    app.received = []  # type: ignore[attr-defined]  # message events, for the events test

    @app.command("/thread-note")
    async def command(ack: Any, command: dict[str, Any]) -> None:
        await ack(f"noted: {command['text']}")

    @app.shortcut("save_as_note")
    async def shortcut(ack: Any, shortcut: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=shortcut["trigger_id"], view=MODAL)

    @app.event("message")
    async def message(event: dict[str, Any]) -> None:
        app.received.append(event)  # type: ignore[attr-defined]  # a list the test reads

    @app.event("app_home_opened")
    async def home(event: dict[str, Any], client: AsyncWebClient) -> None:
        await client.views_publish(user_id=event["user"], view={"type": "home", "blocks": []})

    handler = AsyncSocketModeHandler(
        app, slack_standin.app_token, web_client=AsyncWebClient(base_url=slack_standin.api_url)
    )
    await handler.connect_async()  # type: ignore[no-untyped-call]  # untyped in slack-bolt
    try:
        yield app
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]  # untyped in slack-bolt


async def _eventually(check: Any, seconds: float = 3.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    assert check()


@pytest.mark.usefixtures("bolt_socket_app")
async def test_bolt_acks_a_slash_command_over_socket_mode(
    slack_standin: SlackStandin, slack_request: SlackRequests
) -> None:
    response = await slack_standin.dispatch_socket("slash_commands", slack_request.payloads.command("hello"))
    assert response.status_code == 200, response.text
    assert response.json()["ack"]["payload"]["text"] == "noted: hello"


@pytest.mark.usefixtures("bolt_socket_app")
async def test_bolt_acks_a_message_shortcut_and_opens_a_modal_with_its_trigger(
    slack_standin: SlackStandin, slack_request: SlackRequests
) -> None:
    message = slack_standin.post_as("bob", "general", "customer waits for pricing")
    payload = slack_request.payloads.message_shortcut(message, callback_id="save_as_note", user="bob")
    response = await slack_standin.dispatch_socket("interactive", payload)
    assert (
        response.status_code == 200
        and response.json()["ack"]["envelope_id"] == response.json()["envelope_id"]
    )
    await _eventually(lambda: slack_standin.views("bob")["views"])
    [call] = slack_standin.calls("views.open")
    assert call["ok"] and call["args"]["trigger_id"] == payload["trigger_id"]


@pytest.mark.usefixtures("bolt_socket_app")
async def test_bolt_acks_events_and_handles_them(
    slack_standin: SlackStandin, slack_request: SlackRequests
) -> None:
    response = await slack_standin.dispatch_socket(
        "events_api", slack_request.payloads.app_home_opened("carol")
    )
    assert response.status_code == 200
    await _eventually(lambda: slack_standin.views("carol")["home"])


async def test_dispatch_without_a_connected_app_is_a_clear_409(
    slack_standin: SlackStandin, slack_request: SlackRequests
) -> None:
    response = await slack_standin.dispatch_socket("slash_commands", slack_request.payloads.command("x"))
    assert response.status_code == 409 and response.json()["error"] == "no_socket_connection"


async def test_an_app_that_never_acks_gets_a_504_after_three_seconds(
    slack_standin: SlackStandin, slack_request: SlackRequests
) -> None:
    url = slack_standin.sync_client().apps_connections_open(app_token=slack_standin.app_token)["url"]
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        hello = json.loads((await ws.receive()).data)
        assert hello["type"] == "hello"
        response = await slack_standin.dispatch_socket("slash_commands", slack_request.payloads.command("x"))
        envelope = json.loads((await ws.receive()).data)
        assert envelope["type"] == "slash_commands" and envelope["accepts_response_payload"] is True
    assert response.status_code == 504
    assert envelope["envelope_id"] in response.json()["detail"]


async def test_a_socket_ticket_is_single_use(slack_standin: SlackStandin) -> None:
    url = slack_standin.sync_client().apps_connections_open(app_token=slack_standin.app_token)["url"]
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url) as ws:
            assert json.loads((await ws.receive()).data)["type"] == "hello"
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await session.ws_connect(url)


async def test_a_persons_reply_reaches_a_socket_mode_app_as_a_message_event_from_slacks_payload(
    slack_standin: SlackStandin, bolt_socket_app: AsyncApp
) -> None:
    slack_standin.send_events(socket_mode=True)
    parent = slack_standin.post_as("alice", "general", "Parent")
    reply = slack_standin.post_as("bob", "general", "A reply", thread_ts=parent["ts"])
    received: list[dict[str, Any]] = bolt_socket_app.received  # type: ignore[attr-defined]
    await _eventually(lambda: any(e.get("ts") == reply["ts"] for e in received))
    event = next(e for e in received if e.get("ts") == reply["ts"])
    assert event["thread_ts"] == parent["ts"] and event["user"] == slack_standin.user_id("bob")
    assert event["parent_user_id"] == slack_standin.user_id("alice") and event["text"] == "A reply"
    attempts = [a for a in slack_standin.event_attempts() if a["ts"] == reply["ts"]]
    assert [(a["attempt"], a["status"]) for a in attempts] == [(0, 200)]
