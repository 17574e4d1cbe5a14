"""The signed-request helper: Slack's wire formats, signatures slack-sdk accepts, and a real Bolt app."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest
from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bot.servers import BackgroundServer
from tests.kit.slack import SignedRequest, SlackRequests, SlackStandin, load_fixture

JSON = dict[str, Any]
Serve = Callable[[Any], BackgroundServer]


def _verify(standin: SlackStandin, request: SignedRequest, body: bytes | None = None) -> bool:
    verifier = SignatureVerifier(standin.signing_secret)
    return verifier.is_valid(
        body=(request.body if body is None else body).decode(),
        timestamp=request.headers["X-Slack-Request-Timestamp"],
        signature=request.headers.get("X-Slack-Signature", ""),
    )


def test_signatures_verify_with_slack_sdk_and_a_tampered_body_fails(
    slack_standin: SlackStandin, slack_request: SlackRequests
) -> None:
    slack_request.app_url = "http://127.0.0.1:9"
    signed = slack_request.build_command("add pricing follow-up")
    assert _verify(slack_standin, signed)
    assert not _verify(slack_standin, signed, signed.body.replace(b"pricing", b"PRICING"))
    assert not _verify(slack_standin, slack_request.build_command("x", signature="wrong"))
    assert not _verify(slack_standin, slack_request.build_command("x", age=SlackRequests.STALE))
    assert "X-Slack-Signature" not in slack_request.build_command("x", signature="missing").headers


def test_payloads_keep_the_real_fixtures_shape_with_the_stand_ins_ids(
    slack_standin: SlackStandin, slack_request: SlackRequests
) -> None:
    slack_request.app_url = "http://127.0.0.1:9"
    signed = slack_request.build_command("list", user="bob", channel="support")
    form = dict(urllib.parse.parse_qsl(signed.body.decode()))
    assert set(load_fixture("slash_command")) - {"enterprise_id", "enterprise_name"} <= set(form)
    assert (form["user_id"], form["channel_id"], form["team_id"], form["command"]) == (
        slack_standin.users["bob"],
        slack_standin.channels["support"],
        slack_standin.team_id,
        "/thread-note",
    )
    assert form["response_url"].startswith(slack_standin.url + "/sandbox/slack/responses/")
    shortcut = slack_request.build_interactive("shortcut", "new_note")
    assert shortcut.body.startswith(b"payload=")
    payload = json.loads(urllib.parse.unquote(shortcut.body.decode()[len("payload=") :]))
    assert set(load_fixture("global_shortcut")) <= set(payload) and payload["callback_id"] == "new_note"
    event = json.loads(
        slack_request.build_event({"type": "app_home_opened", "user": "U1", "tab": "home"}).body
    )
    assert (
        event["type"] == "event_callback"
        and event["authorizations"][0]["user_id"] == slack_standin.bot_user_id
    )


@pytest.fixture
def bolt_http(slack_standin: SlackStandin, slack_request: SlackRequests, serve_app: Serve) -> AsyncApp:
    """A real AsyncApp over HTTP, talking to the stand-in, with signed requests aimed at it."""
    app = AsyncApp(client=slack_standin.client(), signing_secret=slack_standin.signing_secret)

    @app.command("/thread-note")
    async def command(ack: Any, command: JSON) -> None:
        await ack(f"noted: {command['text']}")

    @app.message_shortcut("save_as_note")
    async def shortcut(ack: Any, shortcut: JSON, client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(
            trigger_id=shortcut["trigger_id"],
            view={
                "type": "modal",
                "callback_id": "note_modal",
                "private_metadata": shortcut["message"]["ts"],
                "title": {"type": "plain_text", "text": "Save as note"},
                "submit": {"type": "plain_text", "text": "Save"},
                "blocks": [
                    {
                        "type": "input",
                        "block_id": "note",
                        "label": {"type": "plain_text", "text": "Note"},
                        "element": {"type": "plain_text_input", "action_id": "text"},
                    }
                ],
            },
        )

    @app.view("note_modal")
    async def submit(ack: Any, view: JSON) -> None:
        text = view["state"]["values"]["note"]["text"]["value"]
        if not text.strip():
            await ack(response_action="errors", errors={"note": "Please write something"})
            return
        await ack()

    @app.action("done")
    async def done(ack: Any, respond: Any) -> None:
        await ack()
        await respond(text="Done", replace_original=True)

    slack_request.app_url = serve_app(AsyncSlackRequestHandler(app)).url
    return app


@pytest.mark.usefixtures("bolt_http")
def test_bolt_accepts_signed_requests_and_rejects_bad_stale_and_missing_signatures(
    slack_request: SlackRequests,
) -> None:
    ok = slack_request.command("hello")
    assert (ok.status_code, ok.text) == (200, "noted: hello")
    assert slack_request.replay().status_code == 200
    for opts in ({"signature": "wrong"}, {"signature": "missing"}, {"age": SlackRequests.STALE}):
        assert slack_request.command("hello", **opts).status_code == 401
    tampered = replace(slack_request.build_command("hello"), body=b"text=evil&command=%2Fthread-note")
    assert slack_request.send(tampered).status_code == 401


@pytest.mark.usefixtures("bolt_http")
def test_a_message_shortcut_opens_a_modal_whose_submission_is_validated(
    slack_standin: SlackStandin, slack_request: SlackRequests
) -> None:
    message = slack_standin.post_as("alice", "general", "customer waits for pricing")
    assert slack_request.message_shortcut(message["ts"], callback_id="save_as_note").status_code == 200
    [view] = slack_standin.views("alice")["views"]
    assert view["private_metadata"] == message["ts"]
    empty = slack_request.view_submission(view, {"note": {"text": " "}})
    assert empty.json() == {"response_action": "errors", "errors": {"note": "Please write something"}}
    assert slack_request.view_submission(view, {"note": {"text": "call back at 3"}}).status_code == 200


@pytest.mark.usefixtures("bolt_http")
def test_respond_posts_to_the_stand_ins_response_url(
    slack_standin: SlackStandin, slack_request: SlackRequests
) -> None:
    posted = slack_standin.sync_client().chat_postMessage(
        channel=slack_standin.channels["general"], text="v1"
    )
    assert slack_request.block_action("done", "1", message=posted["ts"]).status_code == 200
    for _ in range(60):
        if slack_standin.responses():
            break
        time.sleep(0.05)  # Bolt responds after the ack, on its own task
    [response] = slack_standin.responses()
    assert (response["action"], response["body"]["text"]) == ("replace_original", "Done")
    assert slack_standin.messages("general")[0]["text"] == "Done"


def test_a_response_url_allows_five_uses_and_in_channel_posts(slack_standin: SlackStandin) -> None:
    url = slack_standin.response_url(channel="general", user="alice")
    assert httpx.post(url, json={"text": "just you"}).text == "ok"
    assert httpx.post(url, json={"text": "everyone", "response_type": "in_channel"}).text == "ok"
    assert httpx.post(url, json={}).status_code == 400
    for _ in range(3):
        httpx.post(url, json={"text": "again"})
    assert httpx.post(url, json={"text": "sixth"}).status_code == 404
    assert [e["text"] for e in slack_standin.ephemerals(user="alice")][:1] == ["just you"]
    assert [m["text"] for m in slack_standin.messages("general")] == ["everyone"]


def test_a_recording_app_sees_exactly_the_signed_bytes(
    slack_standin: SlackStandin, slack_request: SlackRequests, serve_app: Serve
) -> None:
    seen: list[tuple[bytes, dict[str, str]]] = []

    async def record(request: Request) -> PlainTextResponse:
        seen.append((await request.body(), dict(request.headers)))
        return PlainTextResponse("")

    slack_request.app_url = serve_app(
        Starlette(routes=[Route("/slack/events", record, methods=["POST"])])
    ).url
    slack_request.app_home_opened("dave")
    body, headers = seen[0]
    assert headers["content-type"] == "application/json"
    assert SignatureVerifier(slack_standin.signing_secret).is_valid(
        body=body, timestamp=headers["x-slack-request-timestamp"], signature=headers["x-slack-signature"]
    )
    assert json.loads(body)["event"]["user"] == slack_standin.users["dave"]
