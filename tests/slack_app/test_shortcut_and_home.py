"""'Save as thread note', the note modals, and the App Home, through signed requests."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kit.bot import RunningBot, texts, wait_for

HANDOFF_THREAD = "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c01"  # Support, assigned to Ana
OTHER_SUPPORT_THREAD = "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c02"
RESOLVED_THREAD = "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c04"


def _open_shortcut(bot: RunningBot, text: str, user: str = "alice", **message: Any) -> dict[str, Any]:
    posted = bot.slack.post_as("bob", "support", text, **message)
    payload = bot.requests.payloads.message_shortcut(
        posted["ts"], callback_id="save_as_thread_note", user=user, channel="support"
    )
    response = bot.requests.send(bot.requests.interactive(payload))
    assert response.status_code == 200
    return posted


def _option(value: str) -> dict[str, Any]:
    return {
        "type": "external_select",
        "selected_option": {"value": value, "text": {"type": "plain_text", "text": value}},
    }


def _values(
    view: dict[str, Any], thread: str | None, text: str, thread_ref: str | None = None
) -> dict[str, Any]:
    text_block = next(b["block_id"] for b in view["blocks"] if b.get("block_id", "").startswith("text"))
    values: dict[str, Any] = {
        text_block: {"text_input": text},
        "thread_ref": {"thread_ref_input": thread_ref},
    }
    values["thread"] = {
        "thread_select": _option(thread) if thread else {"type": "external_select", "selected_option": None}
    }
    return values


def test_shortcut_opens_the_modal_at_once_with_the_message_in_plain_words(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    carol = bot.slack.user_id("carol")
    _open_shortcut(
        bot, f"Customer waits for pricing, ask <@{carol}> &amp; check <https://acme.example/q|the quote>"
    )
    view = bot.modal(callback_id="save_note", where=lambda v: "@carol" in texts(v).lower())
    prefill = texts(view)
    assert "<@" not in prefill
    assert "from @bob in #support" in prefill
    assert "the quote (https://acme.example/q)" in prefill
    assert "Customer waits for pricing" in prefill


def test_typeahead_lists_assigned_threads_first_and_searches_by_number(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    _open_shortcut(bot, "hello")
    view = bot.modal(callback_id="save_note")
    before_typing = bot.requests.send(
        bot.requests.interactive(
            bot.requests.payloads.block_suggestion("thread_select", "", block_id="thread", view=view)
        )
    )
    options = before_typing.json()["options"]
    assert options[0]["value"] == HANDOFF_THREAD  # assigned to Ana
    assert RESOLVED_THREAD not in [o["value"] for o in options]
    typed = bot.requests.send(
        bot.requests.interactive(
            bot.requests.payloads.block_suggestion("thread_select", "212 555", block_id="thread", view=view)
        )
    )
    assert [o["value"] for o in typed.json()["options"]] == [OTHER_SUPPORT_THREAD]


def test_submitting_the_modal_saves_the_note_as_the_person_and_confirms_in_the_conversation(
    bot: RunningBot,
) -> None:
    bot.connect("alice", "Ana Alvarez")
    _open_shortcut(bot, "Customer waits for the replacement pole")
    view = bot.modal(callback_id="save_note")
    answer = bot.submit(view, _values(view, HANDOFF_THREAD, "Customer waits for the replacement pole"))
    assert answer.json()["response_action"] == "update"  # "Saving…" at once
    # "Saving…" is the acknowledgement: the save itself runs after it, so wait for it to reach RingCentral.
    text = "Customer waits for the replacement pole"
    notes = wait_for(lambda: [n for n in bot.rc_state_notes() if n.get("text") == text], what="the note")
    assert len(notes) == 1 and notes[0]["threadId"] == HANDOFF_THREAD
    assert notes[0]["author"]["extensionId"] == bot.rc.user("Ana Alvarez").extension_id
    done = bot.modal(where=lambda v: "saved" in texts(v).lower())
    assert "saved" in texts(done).lower()
    confirmation = wait_for(lambda: bot.slack.ephemerals(user="alice"), what="the confirmation")
    assert "Customer waits for the replacement pole" in texts(confirmation)


def test_a_typed_phone_number_works_instead_of_the_picker(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    _open_shortcut(bot, "By number")
    view = bot.modal(callback_id="save_note")
    bot.submit(view, _values(view, None, "By number", thread_ref="+1 415 555 0142"))
    wait_for(lambda: [n for n in bot.rc_state_notes() if n.get("text") == "By number"], what="the note")


def test_a_failing_submit_keeps_the_modal_open_with_the_reason_and_the_text(bot: RunningBot) -> None:
    bot.connect("bob", "Ben Okafor")
    _open_shortcut(bot, "Too late for this one", user="bob")
    view = bot.modal("bob", callback_id="save_note")
    bot.submit(view, _values(view, RESOLVED_THREAD, "Too late for this one"), user="bob")
    again = bot.modal("bob", callback_id="save_note", where=lambda v: "resolved" in texts(v).lower())
    assert "Too late for this one" in texts(again)
    assert not [n for n in bot.rc_state_notes() if n.get("text") == "Too late for this one"]


def test_submit_without_a_thread_is_refused_next_to_the_field(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    _open_shortcut(bot, "No thread picked")
    view = bot.modal(callback_id="save_note")
    answer = bot.submit(view, _values(view, None, "No thread picked")).json()
    assert answer["response_action"] == "errors"
    assert "thread" in answer["errors"]


def test_a_note_over_the_limit_shows_the_count_and_offers_to_trim(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    _open_shortcut(bot, "short")
    view = bot.modal(callback_id="save_note")
    long_text = "word " * 260
    answer = bot.submit(view, _values(view, HANDOFF_THREAD, long_text.strip())).json()
    assert answer["response_action"] == "update"
    assert "1,299 characters" in texts(answer["view"])
    trim = next(e for b in answer["view"]["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert trim["action_id"] == "trim_text"


def test_a_message_with_files_says_they_cannot_be_attached(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    posted = bot.slack.post_as("bob", "support", "See the photo")
    payload = bot.requests.payloads.message_shortcut(
        posted["ts"], callback_id="save_as_thread_note", channel="support"
    )
    payload["message"]["files"] = [{"id": "F1", "name": "pole.jpg"}]
    bot.requests.send(bot.requests.interactive(payload))
    view = bot.modal(callback_id="save_note")
    assert "can't be attached" in texts(view)


def test_a_person_who_is_not_connected_sees_a_connect_prompt_in_the_modal(bot: RunningBot) -> None:
    _open_shortcut(bot, "Not connected yet")
    view = bot.modal(where=lambda v: "Connect" in texts(v))
    buttons = [
        e for b in view["blocks"] for e in (b.get("elements") or [b.get("accessory") or {}]) if e.get("url")
    ]
    assert "/restapi/oauth/authorize" in buttons[0]["url"]


def test_edit_button_opens_the_note_in_a_modal_and_saves_the_change(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    listing = bot.command(f"list {HANDOFF_THREAD}")
    edit = next(b for b in listing.buttons() if b["action_id"] == "note_edit")
    bot.click(edit, answers=0)
    view = bot.modal(callback_id="edit_note")
    bot.submit(view, {"text": {"text_input": "Rewritten by Ana"}})
    wait_for(
        lambda: [
            n for n in bot.rc_state_notes() if n["id"] == edit["value"] and n["text"] == "Rewritten by Ana"
        ],
        what="the edited note",
    )


def test_app_home_shows_connection_state_and_the_persons_threads_with_their_latest_note(
    bot: RunningBot,
) -> None:
    bot.requests.app_home_opened("alice")
    home = bot.home("alice")
    assert "/restapi/oauth/authorize" in str(home)
    bot.connect("alice", "Ana Alvarez")
    bot.requests.app_home_opened("alice")
    home = bot.home("alice")
    wait_for(lambda: "Ana Alvarez" in texts(bot.home("alice")), what="the connected Home")
    home = bot.home("alice")
    assert "Handoff: customer waits" in texts(home)
    add = [
        e
        for b in home["blocks"]
        for e in (b.get("elements") or [b.get("accessory") or {}])
        if e.get("action_id") == "add_note_open"
    ]
    assert HANDOFF_THREAD in [a["value"] for a in add]


NOTES_ROUTE = "POST /restapi/v1.0/account/{accountId}/message-threads/notes"


def _prefill(view: dict[str, Any]) -> str:
    """The note text the modal shows (its text block's initial value)."""
    block = next((b for b in view["blocks"] if b.get("block_id", "").startswith("text")), {})
    return str((block.get("element") or {}).get("initial_value") or "")


@pytest.mark.parametrize("sandbox_profile", ["default", "utf16-length"], indirect=True)
def test_emoji_text_is_counted_as_ringcentral_may_count_it_and_trimmed_before_it_is_sent(
    bot: RunningBot,
) -> None:
    """600 emoji are 600 code points but 1,200 UTF-16 units: the bot counts the stricter way, offers to trim,
    and what it sends is never refused by RingCentral, whichever way RingCentral counts."""
    bot.connect("alice", "Ana Alvarez")
    _open_shortcut(bot, "short")
    view = bot.modal(callback_id="save_note", where=lambda v: "from @bob" in _prefill(v))  # settled
    emoji = "\U0001f600" * 600
    answer = bot.submit(view, _values(view, HANDOFF_THREAD, emoji)).json()
    assert answer["response_action"] == "update"
    assert "1,200 characters" in texts(answer["view"])
    offered = answer["view"]
    trim = next(e for b in offered["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert trim["action_id"] == "trim_text"
    current = {**offered, "id": view["id"]}  # Slack shows the answer's view in place of the submitted one
    state = {"values": _values(current, HANDOFF_THREAD, emoji)}
    state["values"] = {
        block: {
            aid: ({"type": "plain_text_input", "value": v} if isinstance(v, str) else v)
            for aid, v in acts.items()
        }
        for block, acts in state["values"].items()
    }
    payload = bot.requests.payloads.block_action("trim_text", "trim", view={**current, "state": state})
    assert bot.requests.send(bot.requests.interactive(payload)).status_code == 200
    trimmed = bot.modal(callback_id="save_note", where=lambda v: _prefill(v).startswith("\U0001f600"))
    kept = _prefill(trimmed)
    assert len(kept.encode("utf-16-le")) // 2 <= 1000 and kept.startswith("\U0001f600" * 400)
    bot.submit(trimmed, _values(trimmed, HANDOFF_THREAD, kept))
    wait_for(lambda: [n for n in bot.rc_state_notes() if n.get("text") == kept], what="the trimmed note")
    refused = bot.rc_admin.requests()["byRouteAndStatus"].get(NOTES_ROUTE, {})
    assert set(refused) == {"201"}, refused


@pytest.mark.parametrize("sandbox_profile", ["default", "utf16-length"], indirect=True)
def test_emoji_text_over_the_limit_in_a_command_is_refused_before_it_reaches_ringcentral(
    bot: RunningBot,
) -> None:
    bot.connect("alice", "Ana Alvarez")
    bot.rc_admin.reset_requests()
    replies = bot.command(f"add {HANDOFF_THREAD} " + "\U0001f600" * 600, answers=0)
    assert "1,200" in replies.text
    assert NOTES_ROUTE not in bot.rc_admin.requests()["byRouteAndStatus"]
