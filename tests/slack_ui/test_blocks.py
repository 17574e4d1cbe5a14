"""Block Kit builders: valid for slack_sdk, inside Slack's limits, escaping everything people typed."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.blockkit.limits import MESSAGE_TEXT_BUDGET
from bot.blockkit.text import unescape
from bot.blockkit.threads import thread_label
from bot.slack import grammar
from bot.slack.errors import error_message, error_sentence
from bot.slack.views.connect import connect_failed, connect_prompt, connected, disconnected
from bot.slack.views.home import home_view, status_card
from bot.slack.views.modals import thread_option
from bot.slack.views.notes import delete_confirm, note_saved, notes_list, thread_choices
from bot.slack.views.usage import usage_card
from tests.slack_ui.factories import T0, note, thread
from tests.slack_ui.limits import buttons, message_json, mrkdwn_texts, text_of, view_json

HOSTILE = "<!channel> <@U123> &lt;"
HOSTILE_ESCAPED = "&lt;!channel&gt; &lt;@U123&gt; &amp;lt;"


def _rendered(data: object) -> object:
    """Everything Slack shows: the payload without button values, which carry data back and are never
    rendered."""
    if isinstance(data, list):
        return [_rendered(item) for item in data]
    if isinstance(data, dict):
        is_button = data.get("type") == "button"
        return {k: _rendered(v) for k, v in data.items() if not (k == "value" and is_button)}
    return data


def _no_live_markup(data: object) -> None:
    dumped = text_of(_rendered(data))
    for live in ("<!channel>", "<@U123>", "<!here>"):
        assert live not in dumped


# --- escaping -----------------------------------------------------------------------------------------------


def test_a_note_with_mentions_and_entities_is_shown_literally_in_a_list() -> None:
    data = message_json(notes_list(thread(), [note(text=HOSTILE)], "101", "UTC"))
    assert any(HOSTILE_ESCAPED in t for t in mrkdwn_texts(data))
    _no_live_markup(data)


def test_every_mrkdwn_text_is_verbatim_so_literal_at_channel_is_not_parsed() -> None:
    data = message_json(note_saved(note(text="@channel look"), thread()))
    assert all(part.get("verbatim") is True for part in _mrkdwn_objects(data))


def _mrkdwn_objects(data: object) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []

    def walk(node: object) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node)
            for value in node.values():
                walk(value)

    walk(data)
    return found


@pytest.mark.parametrize(
    "build",
    [
        lambda: note_saved(note(text=HOSTILE, author=HOSTILE), thread(label=HOSTILE)),
        lambda: delete_confirm(["n1"], {"n1": HOSTILE}),
        lambda: error_message("thread_not_found", user_text=HOSTILE, reference=HOSTILE),
        lambda: connect_prompt("https://rc.example/authorize?x=1", pending=HOSTILE),
        lambda: thread_choices([thread(label=HOSTILE)], reference=HOSTILE),
        lambda: connected(HOSTILE, "101", finish=HOSTILE),
        lambda: status_card(connected_as=("101", HOSTILE), health={"last_error": HOSTILE}),
        lambda: usage_card("list", word=HOSTILE),
    ],
)
def test_text_from_people_or_ringcentral_never_becomes_live_markup(build: object) -> None:
    assert callable(build)
    data = message_json(build())
    _no_live_markup(data)
    assert any("&lt;" in t for t in mrkdwn_texts(data))


def test_home_tab_escapes_thread_labels_latest_notes_and_resource_names() -> None:
    view = home_view(
        connected_as="Ann",
        connect_url=None,
        threads=[(thread(label=HOSTILE), note(text=HOSTILE))],
        subscriptions=[("C123ABC", HOSTILE)],
    )
    data = view_json(view)
    _no_live_markup(data)
    assert "<#C123ABC>" in text_of(data)  # our own channel mention stays live


# --- notes list ---------------------------------------------------------------------------------------------


def test_edit_and_delete_buttons_only_on_the_viewers_own_notes_of_an_open_thread() -> None:
    mine = note("mine-0001", "mine", author_id="101")
    theirs = note("theirs-001", "theirs", author_id="202", author="Bob", created=T0 + timedelta(minutes=1))
    data = message_json(notes_list(thread(), [mine, theirs], "101", "UTC"))
    assert [(b["action_id"], b["value"]) for b in buttons(data)] == [
        ("note_edit", "mine-0001"),
        ("note_delete", "mine-0001"),
    ]
    assert buttons(data)[1]["style"] == "danger"


def test_resolved_thread_shows_no_buttons_and_says_notes_are_closed() -> None:
    data = message_json(notes_list(thread(status="Resolved"), [note()], "101", "UTC"))
    assert buttons(data) == []
    assert "This conversation is resolved; notes are closed." in text_of(data)


def test_notes_are_listed_newest_last_whatever_the_input_order() -> None:
    notes = [note(f"note-{i:04d}", f"text {i}", created=T0 + timedelta(minutes=i)) for i in (3, 1, 2)]
    texts = [t for t in mrkdwn_texts(message_json(notes_list(thread(), notes, None, "UTC"))) if "text " in t]
    assert [t[-6:] for t in texts] == ["text 1", "text 2", "text 3"]


@pytest.mark.parametrize(
    ("tz_name", "shown"),
    [
        ("Europe/Berlin", "Mon 3 Nov, 14:05"),
        ("America/Los_Angeles", "Mon 3 Nov, 05:05"),
        ("Asia/Tokyo", "Mon 3 Nov, 22:05"),
        ("Not/AZone", "Mon 3 Nov, 13:05"),
        (None, "Mon 3 Nov, 13:05"),
    ],
)
def test_note_times_are_shown_in_the_readers_time_zone(tz_name: str | None, shown: str) -> None:
    data = message_json(notes_list(thread(), [note()], None, tz_name))
    assert shown in text_of(data)


def test_edited_notes_are_marked() -> None:
    data = message_json(
        notes_list(thread(), [note(edited_after=timedelta(minutes=2)), note("n-2")], None, "UTC")
    )
    assert sum(t.count("(edited)") for t in mrkdwn_texts(data)) == 1


def test_a_thousand_character_note_of_ampersands_is_escaped_and_cut_within_the_section_limit() -> None:
    data = message_json(notes_list(thread(), [note(text="&" * 1000)], "101", "UTC"))
    longest = max(mrkdwn_texts(data), key=len)
    assert len(longest) <= 3000 and longest.endswith("…")
    assert "&amp;&amp;" in longest and "&am…" not in longest


def test_non_latin_text_and_emoji_survive_unchanged() -> None:
    text = "Клиент ждёт цену 価格を待っています 😀👍🏽 مرحبا"
    data = message_json(notes_list(thread(), [note(text=text)], "101", "UTC"))
    assert any(text in t for t in mrkdwn_texts(data))


def test_a_long_thread_keeps_the_newest_notes_and_counts_the_rest() -> None:
    notes = [note(f"note-{i:04d}", f"text {i}", created=T0 + timedelta(minutes=i)) for i in range(80)]
    data = message_json(notes_list(thread(), notes, "101", "UTC"))
    shown = [t for t in mrkdwn_texts(data) if "text " in t]
    left_out = int(next(t for t in mrkdwn_texts(data) if "earlier notes not shown" in t).split()[2])
    assert left_out + len(shown) == 80
    assert shown[-1].endswith("text 79")


def test_many_long_notes_stay_within_the_total_text_budget() -> None:
    notes = [note(f"note-{i:04d}", "w" * 1000, created=T0 + timedelta(minutes=i)) for i in range(40)]
    data = message_json(notes_list(thread(), notes, None, "UTC"))
    assert sum(len(t) for t in mrkdwn_texts(data)) <= MESSAGE_TEXT_BUDGET + 1000
    assert "… and" in text_of(data)


def test_a_thread_without_notes_says_so() -> None:
    assert "No notes on this conversation yet." in text_of(
        message_json(notes_list(thread(), [], "101", None))
    )


# --- threads ------------------------------------------------------------------------------------------------


def test_thread_label_shows_number_resource_status_and_assignee() -> None:
    assert thread_label(thread()) == "+1 650-555-0101 · Sales Queue · Open, assigned to Ann Lee"
    assert thread_label(thread(assignee=None)).endswith("Open, unassigned")
    resolved = thread_label(thread(status="Resolved", label="Sure, it's A-20931."))
    assert resolved == "+1 650-555-0101 · Sales Queue · Resolved", "the label is the last message, not a name"


def test_thread_option_text_fits_75_characters_and_carries_the_id() -> None:
    option = thread_option(thread(resource="A very long queue name " * 5)).to_dict()
    assert len(option["text"]["text"]) <= 75 and option["text"]["text"].endswith("…")
    assert option["value"] == "3f2a9c1e-8b7d-4e21-9a0b-5c6d7e8f9012"


def test_thread_choices_carry_the_thread_and_the_pending_command() -> None:
    data = message_json(
        thread_choices(
            [thread("t-000001"), thread("t-000002")], "+16505550101", pending_text="add +16505550101 hello"
        )
    )
    values = [json.loads(b["value"]) for b in buttons(data)]
    assert values == [
        {"t": "t-000001", "c": "add +16505550101 hello"},
        {"t": "t-000002", "c": "add +16505550101 hello"},
    ]
    assert {b["action_id"] for b in buttons(data)} == {"thread_pick"}


def test_many_matching_threads_are_cut_to_the_message_limit_and_counted() -> None:
    data = message_json(thread_choices([thread(f"t-{i:06d}") for i in range(70)]))
    assert "more; use the thread id" in text_of(data)


def test_pending_text_too_long_for_a_button_is_shown_to_copy_instead() -> None:
    pending = "add +16505550101 " + '"' * 1000
    data = message_json(thread_choices([thread()], pending_text=pending))
    assert json.loads(buttons(data)[0]["value"]) == {"t": thread().id}
    assert "what you typed" in text_of(data)


# --- connect, delete, errors -------------------------------------------------------------------------------


def test_connect_prompt_is_a_primary_url_button_and_names_the_pending_action() -> None:
    data = message_json(
        connect_prompt("https://rc.example/authorize?state=s", "add a note to +1 650-555-0101")
    )
    (button,) = buttons(data)
    assert button["action_id"] == "connect_open" and button["style"] == "primary"
    assert (
        button["url"] == "https://rc.example/authorize?state=s"
        and button["text"]["text"] == "Connect RingCentral"
    )
    assert "After you connect, I'll finish" in text_of(data)


def test_connected_disconnected_and_failed_connections_read_as_one_line_each() -> None:
    assert "*Ann Lee*" in text_of(message_json(connected("Ann Lee", "101")))
    assert "no longer linked" in text_of(message_json(disconnected()))
    assert "weren't connected" in text_of(message_json(disconnected(False)))
    assert "expired or was already used" in text_of(message_json(connect_failed("bad_state")))


def test_delete_confirm_asks_with_a_danger_button_carrying_the_ids_as_json() -> None:
    data = message_json(delete_confirm(["n-000001", "n-000002"], [note("n-000001"), note("n-000002", "b")]))
    assert "Delete 2 notes?" in text_of(data)
    confirm, cancel = buttons(data)
    assert confirm["action_id"] == "note_delete_confirm" and confirm["style"] == "danger"
    assert json.loads(confirm["value"]) == ["n-000001", "n-000002"]
    assert cancel["action_id"] == "note_delete_cancel"


def test_delete_confirm_for_the_most_ids_the_grammar_allows_fits_the_button_value() -> None:
    ids = [f"{i:08d}-8b7d-4e21-9a0b-5c6d7e8f9012" for i in range(grammar.MAX_DELETE_IDS)]
    data = message_json(delete_confirm(ids, {}))
    assert "… and 40 more" in text_of(data)


ALL_KINDS = [
    "thread_resolved",
    "not_author",
    "not_handler",
    "thread_not_found",
    "note_not_found",
    "rate_limited",
    "unavailable",
    "disconnected",
    "not_connected",
    "too_long",
    "invalid_input",
    "invalid_command",
    "ambiguous_thread",
    "something_new",
]


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_every_error_kind_is_one_sentence(kind: str) -> None:
    sentence = error_sentence(kind)
    assert sentence.endswith(".") and sentence[0].isupper()
    assert sentence.count(". ") == 0


@pytest.mark.parametrize(
    ("seconds", "when"),
    [
        (3, "in a few seconds"),
        (37, "in about 40 seconds"),
        (60, "in about a minute"),
        (600, "in about 10 minutes"),
    ],
)
def test_rate_limited_says_when_to_retry(seconds: float, when: str) -> None:
    assert when in error_sentence("rate_limited", retry_after=seconds)


def test_errors_name_what_went_wrong() -> None:
    assert "+16505550101" in error_sentence("thread_not_found", reference="+16505550101")
    assert "1,234 characters" in error_sentence("too_long", length=1234)
    assert "text" in error_sentence("invalid_input", parameter="text")


def test_error_message_repeats_what_was_typed_so_nothing_is_lost() -> None:
    typed = "add +16505550101 " + "<&> line\n" * 600
    data = message_json(error_message("unavailable", user_text=typed))
    pieces = [t[3:-3] for t in mrkdwn_texts(data) if t.startswith("```")]
    assert len(pieces) >= 2
    assert unescape("".join(pieces)) == typed.strip()


# --- usage, status ------------------------------------------------------------------------------------------


def test_usage_card_lists_every_subcommand_with_an_example_and_the_phone_rule() -> None:
    data = message_json(usage_card())
    dumped = text_of(data)
    for name in grammar.USAGE:
        assert f"/thread-note {name}" in dumped
    assert "&lt;thread&gt;" in dumped and "longest run of leading words" in dumped


def test_usage_card_for_an_unknown_word_suggests_the_nearest_subcommand() -> None:
    assert "Did you mean `/thread-note list`?" in text_of(message_json(usage_card("list", word="lsit")))


def test_status_card_shows_who_and_each_health_check() -> None:
    data = message_json(
        status_card(
            connected_as=("101", "Ann Lee"),
            health={"ringcentral": True, "database": {"ok": False}, "last_poll": T0, "lag_seconds": 2.5},
            tz_name="Europe/Berlin",
        )
    )
    dumped = text_of(data)
    assert "Ann Lee (extension id 101)" in dumped
    assert ":white_check_mark: ok" in dumped and ":x: failing" in dumped and "Mon 3 Nov, 14:05" in dumped
    assert "not connected" in text_of(message_json(status_card(connected_as=None)))
