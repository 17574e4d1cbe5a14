"""The stand-in rejects what Slack rejects, with Slack's error codes and reasons."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError

from tests.kit.slack import SlackStandin

JSON = dict[str, Any]


async def _post_error(standin: SlackStandin, **kwargs: Any) -> JSON:
    kwargs.setdefault("channel", standin.channels["general"])
    with pytest.raises(SlackApiError) as err:
        await standin.client().chat_postMessage(**kwargs)
    assert err.value.response.status_code == 200
    data: JSON = err.value.response.data
    return data


def _section(text: str, **extra: Any) -> JSON:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def _button(**overrides: Any) -> JSON:
    return {"type": "button", "text": {"type": "plain_text", "text": "Go"}, "action_id": "go", **overrides}


@pytest.mark.parametrize(
    ("channel", "error"),
    [
        ("C0NOSUCHCHAN", "channel_not_found"),
        ("management", "channel_not_found"),
        ("random", "not_in_channel"),
    ],
)
async def test_post_needs_a_channel_the_bot_is_in(
    slack_standin: SlackStandin, channel: str, error: str
) -> None:
    data = await _post_error(slack_standin, channel=slack_standin.channels.get(channel, channel), text="x")
    assert data["error"] == error


async def test_post_to_an_archived_channel_fails(slack_standin: SlackStandin) -> None:
    slack_standin.channel("archive", channel="support")
    data = await _post_error(slack_standin, channel=slack_standin.channels["support"], text="x")
    assert data["error"] == "is_archived"


async def test_post_needs_text_or_blocks(slack_standin: SlackStandin) -> None:
    client = slack_standin.client()
    with pytest.raises(
        SlackApiError
    ) as err:  # api_call: chat_postMessage itself warns about the missing text
        await client.api_call("chat.postMessage", json={"channel": slack_standin.channels["general"]})
    assert err.value.response["error"] == "no_text"


async def test_text_over_40000_characters_is_too_long(slack_standin: SlackStandin) -> None:
    assert (await _post_error(slack_standin, text="x" * 40_001))["error"] == "msg_too_long"
    await slack_standin.client().chat_postMessage(
        channel=slack_standin.channels["general"], text="x" * 40_000
    )


@pytest.mark.parametrize(
    ("blocks", "reason"),
    [
        ([_section("x")] * 51, "no more than 50 items allowed [json-pointer:/blocks]"),
        ([_section("x" * 3001)], "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"),
        ([{"type": "fancy"}], "unknown block type `fancy` [json-pointer:/blocks/0/type]"),
        ([{"type": "section"}], "must provide at least one of text, fields [json-pointer:/blocks/0]"),
        (
            [{"type": "section", "text": {"type": "markdown", "text": "x"}}],
            "must be one of plain_text, mrkdwn [json-pointer:/blocks/0/text/type]",
        ),
        (
            [{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}],
            "must be plain_text [json-pointer:/blocks/0/text/type]",
        ),
        ([_section("")], "must be more than 0 characters [json-pointer:/blocks/0/text/text]"),
        ([_section("x", colour="red")], "unknown field `colour` [json-pointer:/blocks/0/colour]"),
        (
            [{"type": "actions", "elements": [_button(text={"type": "plain_text", "text": "b" * 76})]}],
            "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]",
        ),
        (
            [{"type": "actions", "elements": [_button(action_id="a" * 256)]}],
            "must be less than 256 characters [json-pointer:/blocks/0/elements/0/action_id]",
        ),
        (
            [{"type": "actions", "elements": [_button(value="v" * 2001)]}],
            "must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]",
        ),
        (
            [{"type": "actions", "elements": [_button(), _button()]}],
            "duplicate action_id `go` [json-pointer:/blocks/0/elements/1/action_id]",
        ),
        (
            [_section("a", block_id="same"), _section("b", block_id="same")],
            "duplicate block_id `same` [json-pointer:/blocks/1/block_id]",
        ),
        (
            [{"type": "actions", "elements": [{"type": "button", "action_id": "x"}]}],
            "missing required field [json-pointer:/blocks/0/elements/0/text]",
        ),
        (
            [{"type": "actions", "elements": [{"type": "plain_text_input", "action_id": "x"}]}],
            "must be one of",
        ),
        (
            [{"type": "input", "label": {"type": "plain_text", "text": "L"}}],
            "missing required field [json-pointer:/blocks/0/element]",
        ),
        (
            [
                _section(
                    "x",
                    accessory={
                        "type": "static_select",
                        "action_id": "s",
                        "options": [{"text": {"type": "plain_text", "text": "A"}, "value": "a"}],
                        "initial_option": {"text": {"type": "plain_text", "text": "B"}, "value": "b"},
                    },
                )
            ],
            "must match one of the options [json-pointer:/blocks/0/accessory/initial_option]",
        ),
    ],
    ids=[
        "51-blocks",
        "section-3001",
        "unknown-type",
        "section-empty",
        "text-type",
        "header-mrkdwn",
        "empty-text",
        "unknown-field",
        "button-text-76",
        "action-id-256",
        "value-2001",
        "dup-action-id",
        "dup-block-id",
        "button-no-text",
        "input-in-actions",
        "input-no-element",
        "initial-option",
    ],
)
async def test_malformed_blocks_are_invalid_blocks_with_a_reason(
    slack_standin: SlackStandin, blocks: list[JSON], reason: str
) -> None:
    data = await _post_error(slack_standin, text="fallback", blocks=blocks)
    assert data["error"] == "invalid_blocks"
    assert any(reason in e for e in data["errors"]), data["errors"]
    assert any(reason in m for m in data["response_metadata"]["messages"])


async def test_well_formed_blocks_are_accepted(slack_standin: SlackStandin) -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Handoff", "emoji": True}},
        _section("*Note* from <@U1>", block_id="note", accessory=_button(value="n1", style="primary")),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "thread 42"}]},
        {"type": "divider"},
        {
            "type": "actions",
            "elements": [
                _button(),
                {
                    "type": "overflow",
                    "action_id": "more",
                    "options": [
                        {"text": {"type": "plain_text", "text": "Edit"}, "value": "edit"},
                        {"text": {"type": "plain_text", "text": "Delete"}, "value": "delete"},
                    ],
                },
            ],
        },
    ]
    posted = await slack_standin.client().chat_postMessage(
        channel=slack_standin.channels["general"], text="fallback", blocks=blocks
    )
    assert posted["message"]["blocks"] == blocks


async def test_blocks_that_are_not_a_list_are_invalid_blocks_format(slack_standin: SlackStandin) -> None:
    client = slack_standin.sync_client()
    with pytest.raises(SlackApiError) as err:
        client.api_call(
            "chat.postMessage",
            data={"channel": slack_standin.channels["general"], "text": "x", "blocks": "{not json"},
        )
    assert err.value.response["error"] == "invalid_blocks_format"


async def test_legacy_attachments_are_refused(slack_standin: SlackStandin) -> None:
    data = await _post_error(slack_standin, text="x", attachments=[{"text": "old"}])
    assert data["error"] == "invalid_arguments"


def test_auth_errors_and_unknown_methods_answer_like_slack(slack_standin: SlackStandin) -> None:
    api = slack_standin.api_url
    assert httpx.post(api + "auth.test").json() == {"ok": False, "error": "not_authed"}
    bad = httpx.post(api + "auth.test", headers={"Authorization": "Bearer xoxb-nope"})
    assert (bad.status_code, bad.json()["error"]) == (200, "invalid_auth")
    form_token = httpx.post(api + "auth.test", data={"token": slack_standin.bot_token})
    assert form_token.json()["ok"] is True
    json_token = httpx.post(api + "auth.test", json={"token": slack_standin.bot_token})
    assert json_token.json()["error"] == "not_authed"
    unknown = httpx.post(
        api + "chat.teleport", headers={"Authorization": f"Bearer {slack_standin.bot_token}"}
    )
    assert unknown.json()["error"] == "unknown_method"
    app_token = httpx.post(
        api + "chat.postMessage",
        headers={"Authorization": f"Bearer {slack_standin.app_token}"},
        data={"channel": slack_standin.channels["general"], "text": "x"},
    )
    assert app_token.json()["error"] == "not_allowed_token_type"
    assert [c["error"] for c in slack_standin.calls()] == [
        "not_authed",
        "invalid_auth",
        None,
        "not_authed",
        "unknown_method",
        "not_allowed_token_type",
    ]


def test_apps_connections_open_needs_the_app_level_token(slack_standin: SlackStandin) -> None:
    with pytest.raises(SlackApiError) as err:
        slack_standin.sync_client().apps_connections_open(app_token=slack_standin.bot_token)
    assert err.value.response["error"] == "not_allowed_token_type"
    opened = slack_standin.sync_client().apps_connections_open(app_token=slack_standin.app_token)
    assert opened["url"].startswith(
        slack_standin.url.replace("http://", "ws://") + "/sandbox/slack/socket?ticket="
    )
