"""Workspaces, users and channels: seeded cast, several workspaces, isolation between tokens."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError

from tests.kit.slack import SlackStandin


async def test_users_have_real_looking_ids_time_zones_and_roles(slack_standin: SlackStandin) -> None:
    client = slack_standin.client()
    carol = (await client.users_info(user=slack_standin.users["carol"], include_locale=True))["user"]
    assert carol["id"].startswith("U") and len(carol["id"]) == 11 and carol["team_id"] == "T0SANDBOX"
    assert (carol["tz"], carol["tz_offset"], carol["locale"]) == ("Asia/Tokyo", 32400, "en-US")
    assert carol["is_owner"] and carol["is_admin"] and carol["is_primary_owner"]
    bob = (await client.users_info(user=slack_standin.users["bob"]))["user"]
    assert not bob["is_admin"] and "locale" not in bob
    with pytest.raises(SlackApiError) as err:
        await client.users_info(user="U0NOBODY00")
    assert err.value.response["error"] == "user_not_found"


async def test_users_list_pages(slack_standin: SlackStandin) -> None:
    client = slack_standin.client()
    first = await client.users_list(limit=3)
    rest = await client.users_list(limit=3, cursor=first["response_metadata"]["next_cursor"])
    names = [u["name"] for u in first["members"] + rest["members"]]
    assert names == ["thread-notes", "alice", "bob", "carol", "dave"]
    assert rest["response_metadata"]["next_cursor"] == ""


async def test_channels_show_privacy_membership_and_archival(slack_standin: SlackStandin) -> None:
    client = slack_standin.client()
    info = (
        await client.conversations_info(channel=slack_standin.channels["handoffs"], include_num_members=True)
    )["channel"]
    assert (info["is_private"], info["is_member"], info["num_members"]) == (True, True, 3)
    members = (await client.conversations_members(channel=slack_standin.channels["support"]))["members"]
    assert set(members) == {slack_standin.users[n] for n in ("alice", "bob", "carol")} | {
        slack_standin.bot_user_id
    }
    created = slack_standin.channel(name="ops", private=True, members=["alice"])
    slack_standin.channel("archive", channel="ops")
    info = (await client.conversations_info(channel=created["id"]))["channel"]
    assert info["is_archived"] and info["name"] == "ops"
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel=created["id"], text="x")
    assert err.value.response["error"] == "is_archived"


async def test_a_token_only_sees_its_own_workspace(slack_standin: SlackStandin) -> None:
    other = slack_standin.add_workspace("Acme")
    assert other.bot_token != slack_standin.bot_token and other.team_id != slack_standin.team_id
    mine, theirs = slack_standin.client(), slack_standin.client(token=other.bot_token)
    assert (await theirs.auth_test())["team_id"] == other.team_id
    with pytest.raises(SlackApiError) as err:
        await theirs.chat_postMessage(channel=slack_standin.channels["general"], text="intrusion")
    assert err.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as err:
        await theirs.users_info(user=slack_standin.users["alice"])
    assert err.value.response["error"] == "user_not_found"
    await theirs.chat_postMessage(channel=other.channels["general"], text="acme news")
    await mine.chat_postMessage(channel=slack_standin.channels["general"], text="sandbox news")
    assert [m["text"] for m in slack_standin.messages("general")] == ["sandbox news"]
    assert [m["text"] for m in slack_standin.messages("general", team_id=other.team_id)] == ["acme news"]
    assert [c["team_id"] for c in slack_standin.calls("chat.postMessage") if c["ok"]] == [
        other.team_id,
        slack_standin.team_id,
    ]
