"""`/thread-note` subcommands through signed requests, with RingCentral's rules applied to the real person."""

from __future__ import annotations

import json

from tests.kit.bot import RunningBot, texts

HANDOFF_THREAD = "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c01"  # Support, +14155550142, assigned to Ana
SALES_THREAD = "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c03"  # Sales: Ana does not handle it
RESOLVED_THREAD = "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c04"  # Support, resolved


def _notes_with(bot: RunningBot, text: str) -> list[dict]:  # type: ignore[type-arg]
    return [n for n in bot.rc_state_notes() if n.get("text") == text and n["availability"] == "Alive"]


def test_help_and_no_text_answer_with_the_usage_card_in_the_acknowledgement(bot: RunningBot) -> None:
    for text in ("", "help"):
        replies = bot.command(text, answers=0)
        assert "/thread-note add" in replies.text


def test_unknown_subcommand_shows_the_usage_card_and_the_nearest_match(bot: RunningBot) -> None:
    replies = bot.command("lsit +14155550142", answers=0)
    assert "list" in replies.text
    assert "/thread-note add" in replies.text


def test_bad_arguments_get_one_sentence_and_the_typed_text_back(bot: RunningBot) -> None:
    replies = bot.command("edit", answers=0)
    assert "note id" in replies.text
    assert "edit" in replies.text


def test_a_person_who_is_not_connected_gets_a_connect_button_and_their_command_is_kept(
    bot: RunningBot,
) -> None:
    replies = bot.command(f"add {HANDOFF_THREAD} Waiting for the refund")
    button = replies.button("connect_open")
    assert "/restapi/oauth/authorize" in button["url"]
    assert "Waiting for the refund" in replies.text
    assert _notes_with(bot, "Waiting for the refund") == []
    # After connecting, the bot offers to finish exactly that command.
    bot.visit_authorize(button["url"], "Ana Alvarez")
    dm = bot.dms("alice")[-1]["args"]
    dm_blocks = dm["blocks"] if isinstance(dm["blocks"], list) else json.loads(dm["blocks"])
    finish = next(b for b in dm_blocks if b.get("accessory", {}).get("action_id") == "pending_finish")
    done = bot.click(finish["accessory"])
    assert len(_notes_with(bot, "Waiting for the refund")) == 1
    assert "saved" in done.text.lower()


def test_add_by_customer_phone_number_in_any_format_finds_the_open_thread(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    bot.command("add (415) 555-0142 Called about the pole again")
    [note] = _notes_with(bot, "Called about the pole again")
    assert note["threadId"] == HANDOFF_THREAD


def test_a_phone_number_matching_several_open_threads_asks_which_one(bot: RunningBot) -> None:
    chen = bot.rc.user("Chen Wei")
    bot.connect("bob", chen.name)
    for queue in ("Support", "Sales"):
        bot.rc_admin.new_thread(bot.rc.resource(queue), "+19175550123", f"hello {queue}")
    replies = bot.command("add +1 917 555 0123 Same customer on both queues", user="bob")
    picks = [b for b in replies.buttons() if b["action_id"] == "thread_pick"]
    assert len(picks) == 2
    bot.click(picks[1], user="bob")
    [note] = _notes_with(bot, "Same customer on both queues")
    assert note["threadId"] == json.loads(picks[1]["value"])["t"]


def test_list_shows_notes_oldest_first_with_buttons_only_on_the_readers_own(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    replies = bot.command(f"list {HANDOFF_THREAD}")
    text = replies.text
    assert text.index("Order A-20931") < text.index("Handoff: customer waits")
    own = {b["value"] for b in replies.buttons() if b["action_id"] in ("note_edit", "note_delete")}
    ana_notes = {n["id"] for n in bot.rc_state_notes() if n["threadId"] == HANDOFF_THREAD}
    assert own == ana_notes

    bot.connect("bob", "Ben Okafor")
    theirs = bot.command(f"list {HANDOFF_THREAD}", user="bob")
    assert [b for b in theirs.buttons() if b["action_id"] in ("note_edit", "note_delete")] == []


def test_list_of_a_resolved_thread_offers_no_edit_buttons(bot: RunningBot) -> None:
    bot.connect("bob", "Ben Okafor")
    replies = bot.command(f"list {RESOLVED_THREAD}", user="bob")
    assert "resolved" in replies.text.lower()
    assert [b for b in replies.buttons() if b["action_id"] in ("note_edit", "note_delete")] == []


def test_edit_changes_the_note_in_ringcentral(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    bot.command(f"add {HANDOFF_THREAD} First draft")
    [note] = _notes_with(bot, "First draft")
    replies = bot.command(f"edit {note['id']} Second draft")
    assert _notes_with(bot, "Second draft")[0]["id"] == note["id"]
    assert "Second draft" in replies.text


def test_delete_asks_to_confirm_and_then_deletes(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    bot.command(f"add {HANDOFF_THREAD} Delete me")
    [note] = _notes_with(bot, "Delete me")
    replies = bot.command(f"delete {note['id']}")
    assert _notes_with(bot, "Delete me"), "nothing is deleted before the confirmation"
    bot.click(replies.button("note_delete_confirm"), answers=2)
    assert _notes_with(bot, "Delete me") == []


def test_a_person_who_is_not_the_author_cannot_edit_or_delete_and_is_told_why(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    bot.command(f"add {HANDOFF_THREAD} Ana's own words")
    [note] = _notes_with(bot, "Ana's own words")
    bot.connect("bob", "Ben Okafor")
    edit = bot.command(f"edit {note['id']} Ben rewrites it", user="bob")
    assert "Only the author" in edit.text
    assert "Ben rewrites it" in edit.text  # the typed text comes back so it can be copied
    delete = bot.command(f"delete {note['id']}", user="bob")
    bot.click(delete.button("note_delete_confirm"), user="bob", answers=2)
    assert _notes_with(bot, "Ana's own words"), "the note is still there"


def test_a_person_who_does_not_handle_the_queue_cannot_write_to_its_threads(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    replies = bot.command(f"add {SALES_THREAD} Not my queue")
    assert "handle" in replies.text.lower() or "wasn't found" in replies.text
    assert _notes_with(bot, "Not my queue") == []


def test_a_resolved_thread_refuses_new_notes_with_one_sentence(bot: RunningBot) -> None:
    bot.connect("bob", "Ben Okafor")
    replies = bot.command(f"add {RESOLVED_THREAD} Too late", user="bob")
    assert "resolved" in replies.text.lower()
    assert "Too late" in replies.text
    assert _notes_with(bot, "Too late") == []


def test_a_note_longer_than_ringcentral_allows_is_refused_with_the_count(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    replies = bot.command(f"add {HANDOFF_THREAD} " + "x" * 1001, answers=0)
    assert "1,001" in replies.text


def test_mentions_in_a_command_are_saved_as_names_not_slack_markup(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    bob = bot.slack.user_id("bob")
    bot.command(f"add {HANDOFF_THREAD} Ask <@{bob}|bob> about &lt;refunds&gt;")
    notes = [n for n in bot.rc_state_notes() if "about <refunds>" in (n.get("text") or "")]
    assert len(notes) == 1
    assert "<@" not in notes[0]["text"]


def test_status_says_who_the_person_is_connected_as(bot: RunningBot) -> None:
    assert "not connected" in bot.command("status").text.lower()
    bot.connect("alice", "Ana Alvarez")
    assert "Ana Alvarez" in bot.command("status").text


def test_disconnect_revokes_and_forgets_the_link(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    bot.command("disconnect")
    replies = bot.command(f"add {HANDOFF_THREAD} After disconnecting")
    assert replies.button("connect_open")
    assert _notes_with(bot, "After disconnecting") == []
    assert texts(bot.command("status").bodies)
