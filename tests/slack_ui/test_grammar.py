"""The `/thread-note` grammar: total, round-trips its own rendering, aliases and case, one-sentence errors."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack import grammar
from bot.slack.grammar import (
    Add,
    Command,
    Connect,
    Delete,
    Disconnect,
    Edit,
    Help,
    Invalid,
    List,
    Mute,
    PhoneRef,
    Setup,
    Status,
    Subscribe,
    SubscriptionFilters,
    Subscriptions,
    ThreadId,
    Unknown,
    Unmute,
    Unsubscribe,
    parse,
    render,
)
from bot.slack.grammar.tokens import parse_id

PHONES = ["+16505550101", "+12125550199", "+442079460958", "+4930123456", "+33612345678", "+819012345678"]

ids = st.one_of(
    st.uuids().map(str),
    st.from_regex(r"[0-9A-Za-z-]{6,40}", fullmatch=True).filter(lambda s: parse_id(s) == s),
)
thread_refs = st.one_of(ids.map(ThreadId), st.sampled_from(PHONES).map(PhoneRef))
note_texts = st.text(min_size=1, max_size=1000).map(str.strip).filter(bool)
channel_ids = st.from_regex(r"C[A-Z0-9]{8,10}", fullmatch=True)
channel_names = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)
resources = (
    st.text(alphabet=st.characters(categories=["L", "N", "Zs", "Pd"]), min_size=1, max_size=40)
    .map(str.strip)
    .filter(bool)
)
filters = st.builds(
    SubscriptionFilters,
    tags=st.lists(st.from_regex(r"[a-z0-9_-]{1,10}", fullmatch=True), max_size=4, unique=True).map(tuple),
    exclude_authors=st.lists(
        st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 ]{0,10}[A-Za-z0-9]", fullmatch=True), max_size=3, unique=True
    ).map(tuple),
    unassigned_only=st.booleans(),
    broadcast=st.booleans(),
    deleted=st.sampled_from(["strike", "remove"]),
    backfill=st.integers(0, 50),
)
channels = st.one_of(
    st.just((None, None)),
    st.tuples(channel_ids, st.none()),
    st.tuples(channel_ids, channel_names),
    st.tuples(st.none(), channel_names),
)


@st.composite
def subscribes(draw: st.DrawFn) -> Subscribe:
    channel_id, channel_name = draw(channels)
    return Subscribe(draw(resources), channel_id, draw(filters), channel_name)


@st.composite
def unsubscribes(draw: st.DrawFn) -> Unsubscribe:
    channel_id, channel_name = draw(channels)
    return Unsubscribe(draw(resources), channel_id, channel_name)


commands: st.SearchStrategy[Command] = st.one_of(
    st.just(Help()),
    st.just(Connect()),
    st.just(Disconnect()),
    st.just(Status()),
    st.just(Setup()),
    st.builds(Subscriptions, all=st.booleans()),
    st.builds(Add, thread_refs, note_texts),
    st.builds(List, thread_refs),
    st.builds(Mute, thread_refs),
    st.builds(Unmute, thread_refs),
    st.builds(Edit, ids, note_texts),
    st.lists(ids, min_size=1, max_size=grammar.MAX_DELETE_IDS, unique=True).map(lambda xs: Delete(tuple(xs))),
    subscribes(),
    unsubscribes(),
)


@given(st.text(max_size=2000))
def test_parse_never_raises_on_any_text(text: str) -> None:
    assert isinstance(parse(text), Command)


@given(
    st.lists(
        st.sampled_from(['"', "\u201c", "<", ">", "#", ":", ",", "|", " ", "\n", "a", "1", "+", "-"]),
        max_size=60,
    )
)
def test_parse_never_raises_on_punctuation_soup(chars: list[str]) -> None:
    for prefix in ("add ", "subscribe ", "delete ", "edit ", "list ", ""):
        parse(prefix + "".join(chars))


@given(commands)
def test_rendered_commands_parse_back_to_themselves(command: Command) -> None:
    assert parse(render(command)) == command


@given(commands, st.data())
def test_subcommand_names_are_case_insensitive_and_aliases_mean_the_same(
    command: Command, data: st.DataObject
) -> None:
    text = render(command)
    word, _, rest = text.partition(" ")
    names = [word] + [alias for alias, target in grammar.ALIASES.items() if target == word]
    name = data.draw(st.sampled_from(names))
    cased = "".join(c.upper() if data.draw(st.booleans()) else c.lower() for c in name)
    assert parse(f"{cased} {rest}".rstrip()) == command


@pytest.mark.parametrize("text", ["", "   ", "help", "HELP", "?", "help me please"])
def test_no_text_or_help_is_help(text: str) -> None:
    assert parse(text) == Help()


@pytest.mark.parametrize(
    ("alias", "expected"),
    [("new", "add"), ("ls", "list"), ("rm", "delete"), ("remove", "delete"), ("subs", "subscriptions")],
)
def test_aliases_map_to_their_subcommand(alias: str, expected: str) -> None:
    assert grammar.ALIASES[alias] == expected


def test_add_takes_the_longest_leading_words_that_form_a_valid_phone_number() -> None:
    assert parse("add +1 650 555 0101 customer waits") == Add(PhoneRef("+16505550101"), "customer waits")
    assert parse("add (650) 555-0101 5 boxes arrived") == Add(PhoneRef("+16505550101"), "5 boxes arrived")
    assert parse("add 650.555.0101 hi") == Add(PhoneRef("+16505550101"), "hi")
    assert parse("add tel:+1-650-555-0101 hi") == Add(PhoneRef("+16505550101"), "hi")


def test_add_with_a_quoted_phone_number_takes_exactly_the_quoted_words() -> None:
    assert parse('add "+49 30 1234567" 89 boxes') == Add(PhoneRef("+49301234567"), "89 boxes")
    assert parse("add \u201c+1 650 555 0101\u201d curly quotes") == Add(
        PhoneRef("+16505550101"), "curly quotes"
    )


def test_add_keeps_the_note_text_verbatim_except_trimming() -> None:
    text = 'Said "hi" <@U123|ann> &lt;b&gt;\n\n  second line\ttab'
    assert parse(f"add 650-555-0101   {text}  \n") == Add(PhoneRef("+16505550101"), text)


def test_thread_ids_in_uuid_form_are_lowercased_and_other_ids_kept_as_given() -> None:
    upper = str(uuid.uuid4()).upper()
    assert parse(f"list {upper}") == List(ThreadId(upper.lower()))
    assert parse("list AbC-123xyz") == List(ThreadId("AbC-123xyz"))
    assert parse("list id:2125551234") == List(ThreadId("2125551234"))


def test_note_text_over_1000_characters_is_invalid_with_its_length() -> None:
    result = parse("add +16505550101 " + "x" * 1234)
    assert result == Invalid("add", "Your note is 1,234 characters; RingCentral allows 1,000.")
    assert isinstance(parse("add +16505550101 " + "é" * 1000), Add)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("edit", "`edit` needs a note id and the new text: `/thread-note edit <note-id> <text>`"),
        ("edit abcdef1", "`edit` needs a note id and the new text: `/thread-note edit <note-id> <text>`"),
        ("add", "`add` needs a thread and the note text: `/thread-note add <thread> <text>`"),
        ("add 650-555-0101", "`add` needs a thread and the note text: `/thread-note add <thread> <text>`"),
        ("list", "`list` needs a thread id or a customer's phone number: `/thread-note list <thread>`"),
        ("status now", "`status` takes nothing after it: `/thread-note status`"),
    ],
)
def test_bad_arguments_give_one_sentence_with_the_right_form(text: str, reason: str) -> None:
    result = parse(text)
    assert isinstance(result, Invalid)
    assert result.reason == reason


def test_a_word_that_is_not_a_thread_is_named_in_the_error() -> None:
    result = parse("add bob hello")
    assert isinstance(result, Invalid)
    assert result.reason.startswith("`bob` is not a thread id or a valid phone number")


def test_list_refuses_words_after_the_thread() -> None:
    assert isinstance(parse("list +16505550101 extra"), Invalid)


def test_delete_accepts_several_ids_separated_by_spaces_or_commas_once_each() -> None:
    assert parse("rm a1b2c3d4, e5f6g7h8 a1b2c3d4") == Delete(("a1b2c3d4", "e5f6g7h8"))


def test_delete_refuses_more_than_fifty_ids() -> None:
    many = " ".join(f"note{i:04d}" for i in range(51))
    result = parse(f"delete {many}")
    assert isinstance(result, Invalid) and "up to 50" in result.reason


@pytest.mark.parametrize(
    ("word", "suggestion"),
    [
        ("lsit", "list"),
        ("ad", "add"),
        ("remvoe", "delete"),
        ("subscirbe", "subscribe"),
        ("xyzzy", None),
        ("+16505550101", "add"),
    ],
)
def test_unknown_subcommands_suggest_the_nearest(word: str, suggestion: str | None) -> None:
    assert parse(f"{word} something") == Unknown(word, suggestion)


def test_subscribe_reads_resource_channel_and_every_filter() -> None:
    text = (
        'subscribe Sales Queue <#C123ABC|support> tags:#Handoff,#urgent exclude:"Jane Doe",101 '
        "unassigned broadcast deleted:remove backfill:5"
    )
    assert parse(text) == Subscribe(
        "Sales Queue",
        "C123ABC",
        SubscriptionFilters(("handoff", "urgent"), ("Jane Doe", "101"), True, True, "remove", 5),
        "support",
    )


def test_subscribe_without_a_channel_means_this_channel_and_typed_channels_keep_their_name() -> None:
    assert parse("subscribe 900") == Subscribe("900")
    assert parse("subscribe 900 #Support") == Subscribe("900", None, SubscriptionFilters(), "support")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("subscribe", "needs a resource"),
        ("subscribe Sales backfill:51", "from 0 to 50"),
        ("subscribe Sales deleted:hide", "`strike` or `remove`"),
        ("subscribe Sales tag:#x", "did you mean `tags`"),
        ("subscribe Sales #a #b", "one channel at most"),
        ("unsubscribe Sales #a unassigned", "no filters"),
        ("subscriptions mine", "only `all`"),
    ],
)
def test_subscription_commands_explain_bad_arguments(text: str, fragment: str) -> None:
    result = parse(text)
    assert isinstance(result, Invalid)
    assert fragment in result.reason


def test_thread_refs_give_the_keyword_arguments_of_the_note_use_cases() -> None:
    assert ThreadId("abc123").as_kwargs() == {"thread_id": "abc123"}
    assert PhoneRef("+16505550101").as_kwargs() == {"phone": "+16505550101"}


@pytest.mark.parametrize("text", ['add "\n', 'add "\nfoo bar', 'list "\t\n"'])
def test_a_quoted_thread_with_line_breaks_gets_a_one_line_answer(text: str) -> None:
    """Found by the hostile-input property test: the answer quoted the word with its line break."""
    command = grammar.parse(text)
    assert isinstance(command, grammar.Invalid)
    assert "\n" not in command.reason
