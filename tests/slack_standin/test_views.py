"""Modals, home tab: trigger rules on the stand-in's clock, modal shape, update by id or external_id."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from tests.kit.slack import SlackStandin

JSON = dict[str, Any]


def modal(**overrides: Any) -> JSON:
    view: JSON = {
        "type": "modal",
        "callback_id": "note_modal",
        "title": {"type": "plain_text", "text": "Save as note"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": '{"channel": "C1"}',
        "blocks": [
            {
                "type": "input",
                "block_id": "note",
                "label": {"type": "plain_text", "text": "Note"},
                "element": {"type": "plain_text_input", "action_id": "text", "multiline": True},
            }
        ],
    }
    view.update(overrides)
    return view


async def _open_error(standin: SlackStandin, trigger_id: str, view: JSON) -> JSON:
    with pytest.raises(SlackApiError) as err:
        await standin.client().views_open(trigger_id=trigger_id, view=view)
    data: JSON = err.value.response.data
    return data


async def test_a_fresh_trigger_opens_a_modal_once(slack_standin: SlackStandin) -> None:
    trigger = slack_standin.trigger("alice")
    opened = await slack_standin.client().views_open(trigger_id=trigger, view=modal())
    view = opened["view"]
    assert (view["callback_id"], view["private_metadata"], view["root_view_id"]) == (
        "note_modal",
        '{"channel": "C1"}',
        view["id"],
    )
    assert view["hash"] and view["team_id"] == slack_standin.team_id
    assert slack_standin.views("alice")["modal_stacks"] == {slack_standin.users["alice"]: [view["id"]]}
    assert (await _open_error(slack_standin, trigger, modal()))["error"] == "exchanged_trigger_id"


async def test_a_trigger_expires_after_three_seconds_on_the_clock(slack_standin: SlackStandin) -> None:
    trigger = slack_standin.trigger("alice")
    slack_standin.advance(3.1)
    assert (await _open_error(slack_standin, trigger, modal()))["error"] == "expired_trigger_id"


async def test_an_unknown_or_foreign_trigger_is_invalid(slack_standin: SlackStandin) -> None:
    assert (await _open_error(slack_standin, "123.456.abc", modal()))["error"] == "invalid_trigger_id"
    other = slack_standin.add_workspace("Other")
    foreign = slack_standin.trigger("alice", team_id=other.team_id)
    assert (await _open_error(slack_standin, foreign, modal()))["error"] == "invalid_trigger_id"


@pytest.mark.parametrize(
    ("view", "reason"),
    [
        (modal(title={"type": "plain_text", "text": "x" * 25}), "[json-pointer:/view/title/text]"),
        (modal(title={"type": "mrkdwn", "text": "x"}), "must be plain_text [json-pointer:/view/title/type]"),
        (
            modal(blocks=[{"type": "divider"}] * 101),
            "no more than 100 items allowed [json-pointer:/view/blocks]",
        ),
        (modal(submit=None), "is required when the view has input blocks"),
        (modal(private_metadata="x" * 3001), "[json-pointer:/view/private_metadata]"),
        (modal(callback_id="c" * 256), "[json-pointer:/view/callback_id]"),
        ({"type": "home", "blocks": []}, "must be modal for this method"),
        (
            {k: v for k, v in modal().items() if k != "title"},
            "missing required field [json-pointer:/view/title]",
        ),
    ],
    ids=[
        "title-25",
        "title-mrkdwn",
        "101-blocks",
        "no-submit",
        "metadata-3001",
        "callback-256",
        "home",
        "no-title",
    ],
)
async def test_malformed_modals_are_invalid_arguments_with_a_reason(
    slack_standin: SlackStandin, view: JSON, reason: str
) -> None:
    view = {k: v for k, v in view.items() if v is not None}
    data = await _open_error(slack_standin, slack_standin.trigger("alice"), view)
    assert data["error"] == "invalid_arguments"
    assert any(reason in m for m in data["response_metadata"]["messages"]), data


async def test_views_update_by_id_or_external_id_checks_the_hash(slack_standin: SlackStandin) -> None:
    client = slack_standin.client()
    opened = await client.views_open(trigger_id=slack_standin.trigger("bob"), view=modal(external_id="n-1"))
    view = opened["view"]
    updated = await client.views_update(
        view_id=view["id"], hash=view["hash"], view=modal(title={"type": "plain_text", "text": "Loaded"})
    )
    assert updated["view"]["title"]["text"] == "Loaded" and updated["view"]["hash"] != view["hash"]
    with pytest.raises(SlackApiError) as err:
        await client.views_update(view_id=view["id"], hash=view["hash"], view=modal())
    assert err.value.response["error"] == "hash_conflict"
    by_external = await client.views_update(external_id="n-1", view=modal(private_metadata="again"))
    assert by_external["view"]["private_metadata"] == "again" and by_external["view"]["external_id"] == "n-1"
    with pytest.raises(SlackApiError) as err:
        await client.views_update(view_id="V0NOPE", view=modal())
    assert err.value.response["error"] == "not_found"


async def test_views_push_stacks_up_to_three_modals(slack_standin: SlackStandin) -> None:
    client = slack_standin.client()
    root = (await client.views_open(trigger_id=slack_standin.trigger("bob"), view=modal()))["view"]
    pushed = (await client.views_push(trigger_id=slack_standin.trigger("bob"), view=modal()))["view"]
    assert (pushed["root_view_id"], pushed["previous_view_id"]) == (root["id"], root["id"])
    await client.views_push(trigger_id=slack_standin.trigger("bob"), view=modal())
    with pytest.raises(SlackApiError) as err:
        await client.views_push(trigger_id=slack_standin.trigger("bob"), view=modal())
    assert err.value.response["error"] == "push_limit_reached"


async def test_views_publish_keeps_one_home_tab_per_user(slack_standin: SlackStandin) -> None:
    client = slack_standin.client()
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}]}
    first = (await client.views_publish(user_id=slack_standin.users["carol"], view=home))["view"]
    second = await client.views_publish(user_id=slack_standin.users["carol"], view=home, hash=first["hash"])
    assert second["view"]["id"] == first["id"]
    with pytest.raises(SlackApiError) as err:
        await client.views_publish(user_id=slack_standin.users["carol"], view=home, hash=first["hash"])
    assert err.value.response["error"] == "hash_conflict"
    assert slack_standin.views("carol")["home"] == {slack_standin.users["carol"]: first["id"]}
    with pytest.raises(SlackApiError) as err:
        await client.views_publish(user_id="U0NOBODY", view=home)
    assert err.value.response["error"] == "user_not_found"
