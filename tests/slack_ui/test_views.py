"""Modals and the App Home tab: ids the listeners route on, Slack's view limits, nothing typed is lost."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.errors import error_sentence
from bot.slack.views.home import home_view
from bot.slack.views.modals import (
    NoteModalInput,
    add_note_modal,
    connect_modal,
    done_modal,
    message_modal,
    note_edit_modal,
    note_edit_modal_from,
    progress_modal,
    read_note_input,
    save_note_modal,
    thread_option,
)
from tests.slack_ui.factories import note, thread
from tests.slack_ui.limits import buttons, text_of, view_json


def _element(data: dict[str, Any], block_id: str) -> dict[str, Any]:
    block = next(b for b in data["blocks"] if b.get("block_id") == block_id)
    element: dict[str, Any] = block["element"]
    return element


def test_save_note_modal_has_a_thread_picker_with_results_before_typing_and_the_prefilled_text() -> None:
    view = save_note_modal(
        prefill_text="Customer waits\n— from @Ann in #support: https://t.slack.com/p1",
        thread_option=thread_option(thread()),
        private_metadata='{"c":"C1"}',
    )
    data = view_json(view)
    assert data["callback_id"] == "save_note" and data["submit"]["text"] == "Save note"
    picker = _element(data, "thread")
    assert picker["type"] == "external_select" and picker["action_id"] == "thread_select"
    assert picker["min_query_length"] == 0
    assert picker["initial_option"]["value"] == thread().id
    text = _element(data, "text")
    assert text["action_id"] == "text_input" and text["multiline"] is True
    assert text["initial_value"].startswith("Customer waits")
    assert "max_length" not in text  # our own error and trim offer instead of a hard stop
    assert _element(data, "thread_ref")["action_id"] == "thread_ref_input"
    assert data["private_metadata"] == '{"c":"C1"}'


def test_save_note_modal_says_files_cannot_be_attached_only_when_there_are_files() -> None:
    with_files = text_of(view_json(save_note_modal(prefill_text="x", has_files=True, private_metadata="")))
    without = text_of(view_json(save_note_modal(prefill_text="x", private_metadata="")))
    assert "files can't be attached" in with_files and "files can't be attached" not in without


def test_text_over_the_limit_is_kept_with_the_length_and_an_offer_to_trim() -> None:
    data = view_json(save_note_modal(prefill_text="z" * 1500, private_metadata=""))
    assert len(_element(data, "text")["initial_value"]) == 1500
    assert "1,500 characters" in text_of(data)
    assert [b["action_id"] for b in buttons(data)] == ["trim_text"]


def test_a_failed_save_shows_the_error_and_keeps_the_typed_text() -> None:
    data = view_json(
        save_note_modal(prefill_text="typed <b>", error=error_sentence("unavailable"), private_metadata="")
    )
    assert "isn't answering" in text_of(data)
    assert _element(data, "text")["initial_value"] == "typed <b>"  # plain_text input: shown as typed


def test_after_a_trim_the_text_block_gets_a_new_id_and_is_still_read_back() -> None:
    data = view_json(save_note_modal(prefill_text="short", private_metadata="", text_version=2))
    assert any(b.get("block_id") == "text-2" for b in data["blocks"])
    values = {
        "thread": {"thread_select": {"type": "external_select", "selected_option": {"value": "t-1"}}},
        "thread_ref": {"thread_ref_input": {"type": "plain_text_input", "value": "  "}},
        "text-2": {"text_input": {"type": "plain_text_input", "value": " hello \n"}},
    }
    assert read_note_input(values) == NoteModalInput("t-1", None, "hello", "text-2")


def test_reading_an_empty_modal_gives_no_thread_and_empty_text() -> None:
    empty = {"thread": {"thread_select": {"selected_option": None}}, "text": {"text_input": {"value": None}}}
    assert read_note_input(empty) == NoteModalInput(None, None, "", "text")


def test_private_metadata_over_3000_characters_is_refused_rather_than_cut() -> None:
    with pytest.raises(ValueError, match="3000"):
        save_note_modal(prefill_text="x", private_metadata="m" * 3001)


def test_edit_modal_is_prefilled_with_the_note_and_add_modal_shows_its_thread() -> None:
    edit = view_json(note_edit_modal(note(text="old text"), private_metadata='{"note":"n-000001"}'))
    assert edit["callback_id"] == "edit_note" and _element(edit, "text")["initial_value"] == "old text"
    again = view_json(note_edit_modal_from({"note": "n-000001"}, "new", error="Only the author can."))
    assert again["callback_id"] == "edit_note" and _element(again, "text")["initial_value"] == "new"
    add = view_json(add_note_modal(thread(), private_metadata='{"thread":"t"}'))
    assert add["callback_id"] == "add_note" and "Sales Queue" in text_of(add)


def test_progress_done_message_and_connect_modals_are_valid_views() -> None:
    for view in (
        progress_modal("Save thread note", "Saving your note…"),
        message_modal("Edit note", error_sentence("not_author")),
        done_modal("Save thread note", "Your note is saved.", note(), thread()),
        connect_modal("https://rc.example/authorize"),
    ):
        view_json(view)


def test_home_tab_offers_connecting_when_not_connected() -> None:
    data = view_json(
        home_view(connected_as=None, connect_url="https://rc.example/a", threads=[], subscriptions=[])
    )
    (button,) = buttons(data)
    assert button["action_id"] == "connect_open" and button["url"] == "https://rc.example/a"
    assert data["type"] == "home"


def test_home_tab_lists_open_threads_with_latest_note_and_add_note_buttons() -> None:
    threads = [
        (thread("t-000001"), note(text="latest handoff")),
        (thread("t-000002", status="Resolved"), None),
    ]
    data = view_json(
        home_view(
            connected_as=("101", "Ann Lee"),
            connect_url=None,
            threads=threads,
            subscriptions=[("C123ABC", "Sales Queue")],
        )
    )
    assert [(b["action_id"], b["value"]) for b in buttons(data)] == [("add_note_open", "t-000001")]
    dumped = text_of(data)
    assert "latest handoff" in dumped and "Ann Lee" in dumped and "<#C123ABC> · Sales Queue" in dumped


def test_home_tab_with_hundreds_of_threads_stays_within_100_blocks() -> None:
    threads = [(thread(f"t-{i:06d}"), note(text="n" * 1000)) for i in range(300)]
    subs = [(f"C{i:08d}", "Queue") for i in range(200)]
    data = view_json(home_view(connected_as="Ann", connect_url=None, threads=threads, subscriptions=subs))
    dumped = text_of(data)
    assert "more open conversations" in dumped and "… and 160 more" in dumped
