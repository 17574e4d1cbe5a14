"""Posting, threading, editing, deleting and reading messages through a real slack-sdk client."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError

from tests.kit.slack import SlackStandin


async def test_posted_message_appears_in_the_channel_as_the_bot(slack_standin: SlackStandin) -> None:
    client = slack_standin.client()
    posted = await client.chat_postMessage(channel=slack_standin.channels["general"], text="hello")
    [msg] = slack_standin.messages("general")
    assert msg["ts"] == posted["ts"]
    assert (msg["text"], msg["user"], msg["edited"], msg["replies"]) == (
        "hello",
        slack_standin.bot_user_id,
        False,
        [],
    )
    call = slack_standin.calls("chat.postMessage")[0]
    assert call["args"]["text"] == "hello" and call["team_id"] == slack_standin.team_id and call["ok"]


async def test_replies_nest_under_their_parent_and_broadcasts_reach_history(
    slack_standin: SlackStandin,
) -> None:
    client = slack_standin.client()
    channel = slack_standin.channels["support"]
    parent = await client.chat_postMessage(channel=channel, text="thread")
    r1 = await client.chat_postMessage(channel=channel, text="one", thread_ts=parent["ts"])
    await client.chat_postMessage(channel=channel, text="two", thread_ts=parent["ts"], reply_broadcast=True)
    [msg] = slack_standin.messages("support")
    assert [r["text"] for r in msg["replies"]] == ["one", "two"]
    history = await client.conversations_history(channel=channel)
    assert [m["text"] for m in history["messages"]] == ["two", "thread"]
    assert history["messages"][1]["reply_count"] == 2
    replies = await client.conversations_replies(channel=channel, ts=r1["ts"])
    assert [m["text"] for m in replies["messages"]] == ["thread", "one", "two"]
    assert replies["messages"][1]["parent_user_id"] == slack_standin.bot_user_id


async def test_thread_ts_must_name_an_existing_parent(slack_standin: SlackStandin) -> None:
    client = slack_standin.client()
    channel = slack_standin.channels["general"]
    parent = await client.chat_postMessage(channel=channel, text="p")
    reply = await client.chat_postMessage(channel=channel, text="r", thread_ts=parent["ts"])
    for ts in ("1234567890.000100", reply["ts"]):
        with pytest.raises(SlackApiError) as err:
            await client.chat_postMessage(channel=channel, text="x", thread_ts=ts)
        assert err.value.response["error"] == "thread_not_found"


async def test_update_changes_text_marks_edited_and_keeps_replies(slack_standin: SlackStandin) -> None:
    client = slack_standin.client()
    channel = slack_standin.channels["general"]
    parent = await client.chat_postMessage(channel=channel, text="v1")
    await client.chat_postMessage(channel=channel, text="reply", thread_ts=parent["ts"])
    updated = await client.chat_update(channel=channel, ts=parent["ts"], text="v2")
    assert updated["message"]["edited"]["user"] == slack_standin.bot_user_id
    [msg] = slack_standin.messages("general")
    assert (msg["text"], msg["edited"], len(msg["replies"])) == ("v2", True, 1)


async def test_only_the_bots_own_messages_can_be_updated_or_deleted(slack_standin: SlackStandin) -> None:
    human = slack_standin.post_as("alice", "general", "mine")
    client = slack_standin.client()
    channel = slack_standin.channels["general"]
    for call, error in (
        (client.chat_update(channel=channel, ts=human["ts"], text="x"), "cant_update_message"),
        (client.chat_delete(channel=channel, ts=human["ts"]), "cant_delete_message"),
        (client.chat_update(channel=channel, ts="1.000001", text="x"), "message_not_found"),
    ):
        with pytest.raises(SlackApiError) as err:
            await call
        assert err.value.response["error"] == error


async def test_deleted_messages_are_gone_and_a_parent_with_replies_leaves_a_tombstone(
    slack_standin: SlackStandin,
) -> None:
    client = slack_standin.client()
    channel = slack_standin.channels["general"]
    lone = await client.chat_postMessage(channel=channel, text="lone")
    parent = await client.chat_postMessage(channel=channel, text="parent")
    await client.chat_postMessage(channel=channel, text="reply", thread_ts=parent["ts"])
    await client.chat_delete(channel=channel, ts=lone["ts"])
    await client.chat_delete(channel=channel, ts=parent["ts"])
    [msg] = slack_standin.messages("general")
    assert msg["subtype"] == "tombstone" and [r["text"] for r in msg["replies"]] == ["reply"]
    with pytest.raises(SlackApiError) as err:
        await client.chat_update(channel=channel, ts=lone["ts"], text="back")
    assert err.value.response["error"] == "message_not_found"


async def test_metadata_is_returned_only_with_include_all_metadata(slack_standin: SlackStandin) -> None:
    client = slack_standin.client()
    channel = slack_standin.channels["general"]
    meta = {"event_type": "thread_note", "event_payload": {"note_id": "42", "version": 3}}
    parent = await client.chat_postMessage(channel=channel, text="note", metadata=meta)
    await client.chat_postMessage(channel=channel, text="reply", thread_ts=parent["ts"], metadata=meta)
    plain = await client.conversations_history(channel=channel)
    assert "metadata" not in plain["messages"][0]
    full = await client.conversations_history(channel=channel, include_all_metadata=True)
    assert full["messages"][0]["metadata"] == meta
    replies = await client.conversations_replies(channel=channel, ts=parent["ts"], include_all_metadata=True)
    assert [m["metadata"] for m in replies["messages"]] == [meta, meta]
    plain_replies = await client.conversations_replies(channel=channel, ts=parent["ts"])
    assert all("metadata" not in m for m in plain_replies["messages"])
    assert slack_standin.messages("general")[0]["metadata"] == meta


async def test_malformed_metadata_is_rejected(slack_standin: SlackStandin) -> None:
    client = slack_standin.client()
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(
            channel=slack_standin.channels["general"], text="x", metadata={"event_type": "thread_note"}
        )
    assert err.value.response["error"] == "invalid_metadata_format"


async def test_history_pages_with_limit_cursor_oldest_and_latest(slack_standin: SlackStandin) -> None:
    client = slack_standin.client()
    channel = slack_standin.channels["general"]
    ts = [(await client.chat_postMessage(channel=channel, text=str(i)))["ts"] for i in range(5)]
    first = await client.conversations_history(channel=channel, limit=2)
    assert [m["text"] for m in first["messages"]] == ["4", "3"] and first["has_more"]
    second = await client.conversations_history(
        channel=channel, limit=2, cursor=first["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in second["messages"]] == ["2", "1"]
    window = await client.conversations_history(channel=channel, oldest=ts[1], latest=ts[3])
    assert [m["text"] for m in window["messages"]] == ["2"]
    inclusive = await client.conversations_history(
        channel=channel, oldest=ts[1], latest=ts[3], inclusive=True
    )
    assert [m["text"] for m in inclusive["messages"]] == ["3", "2", "1"]
    with pytest.raises(SlackApiError) as err:
        await client.conversations_history(channel=channel, cursor="bogus")
    assert err.value.response["error"] == "invalid_cursor"


async def test_ephemeral_messages_are_kept_per_user_and_not_in_history(slack_standin: SlackStandin) -> None:
    client = slack_standin.client()
    channel = slack_standin.channels["support"]
    await client.chat_postEphemeral(channel=channel, user=slack_standin.users["bob"], text="psst")
    assert slack_standin.messages("support") == []
    assert [e["text"] for e in slack_standin.ephemerals(user="bob")] == ["psst"]
    assert slack_standin.ephemerals(user="alice") == []
    with pytest.raises(SlackApiError) as err:
        await client.chat_postEphemeral(channel=channel, user=slack_standin.users["dave"], text="x")
    assert err.value.response["error"] == "user_not_in_channel"


async def test_permalink_names_the_workspace_channel_and_thread(slack_standin: SlackStandin) -> None:
    client = slack_standin.client()
    channel = slack_standin.channels["general"]
    parent = await client.chat_postMessage(channel=channel, text="p")
    reply = await client.chat_postMessage(channel=channel, text="r", thread_ts=parent["ts"])
    link = (await client.chat_getPermalink(channel=channel, message_ts=reply["ts"]))["permalink"]
    assert link == (
        f"https://sandbox.slack.com/archives/{channel}/p{reply['ts'].replace('.', '')}"
        f"?thread_ts={parent['ts']}&cid={channel}"
    )


async def test_reactions_are_added_once(slack_standin: SlackStandin) -> None:
    client = slack_standin.client()
    channel = slack_standin.channels["general"]
    posted = await client.chat_postMessage(channel=channel, text="p")
    await client.reactions_add(channel=channel, timestamp=posted["ts"], name="white_check_mark")
    with pytest.raises(SlackApiError) as err:
        await client.reactions_add(channel=channel, timestamp=posted["ts"], name="white_check_mark")
    assert err.value.response["error"] == "already_reacted"
    assert slack_standin.messages("general")[0]["reactions"] == {
        "white_check_mark": [slack_standin.bot_user_id]
    }


async def test_the_bot_joins_public_channels_only(slack_standin: SlackStandin) -> None:
    client = slack_standin.client()
    random = slack_standin.channels["random"]
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel=random, text="hi")
    assert err.value.response["error"] == "not_in_channel"
    joined = await client.conversations_join(channel=random)
    assert joined["channel"]["is_member"] is True
    await client.chat_postMessage(channel=random, text="hi")
    with pytest.raises(SlackApiError) as err:
        await client.conversations_join(channel=slack_standin.channels["management"])
    assert err.value.response["error"] == "channel_not_found"
    slack_standin.channel("add_members", channel="management", members=["bot"])
    slack_standin.channel("remove_members", channel="handoffs", members=["bot"])
    with pytest.raises(SlackApiError) as err:
        await client.conversations_join(channel=slack_standin.channels["management"])
    assert err.value.response["error"] == "method_not_supported_for_channel_type"


def test_the_sync_client_works_with_form_encoded_calls(slack_standin: SlackStandin) -> None:
    client = slack_standin.sync_client()
    posted = client.api_call(
        "chat.postMessage",
        data={"channel": slack_standin.channels["general"], "text": "form", "blocks": "[]"},
    )
    assert posted["ok"] and slack_standin.messages("general")[0]["text"] == "form"


async def test_posting_to_a_user_id_writes_to_the_apps_direct_message_with_them(
    slack_standin: SlackStandin,
) -> None:
    client = slack_standin.client()
    alice = slack_standin.users["alice"]
    first = await client.chat_postMessage(channel=alice, text="You're connected")
    second = await client.chat_postMessage(channel=alice, text="Again")
    assert first["channel"] == second["channel"]
    assert first["channel"].startswith("D")
    info = await client.conversations_info(channel=first["channel"])
    assert info["channel"]["is_im"] is True
    assert [m["text"] for m in slack_standin.messages(first["channel"])] == ["You're connected", "Again"]
