"""Slack message text to plain words for a note, and the "Save as thread note" prefill."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from bot.blockkit.text import escape, unescape
from bot.slack.text import (
    mentioned_user_ids,
    message_to_plain,
    prefill_from_message,
    trim_to_limit,
)
from tests.conftest import SLACK_FIXTURES

NAMES = {"U123": "Ann Lee", "W222": "Bob"}


def test_user_mentions_become_names() -> None:
    assert message_to_plain("hi <@U123> and <@U999|carl>", NAMES) == "hi @Ann Lee and @carl"
    assert message_to_plain("<@U777>", NAMES) == "@U777"


def test_channels_links_and_mail_become_plain_words() -> None:
    text = "see <#C1|general> <https://x.com/a?b=1&amp;c=2|the doc> <https://x.com> <mailto:a@b.co|a@b.co>"
    assert (
        message_to_plain(text, NAMES) == "see #general the doc (https://x.com/a?b=1&c=2) https://x.com a@b.co"
    )
    assert message_to_plain("<#C2>", {}, {"C2": "support"}) == "#support"


def test_special_mentions_groups_and_dates_become_words() -> None:
    text = "<!here> <!channel> <!everyone> <!subteam^S1|@oncall> <!date^1392734382^{date}|Feb 18, 2014>"
    assert message_to_plain(text, NAMES) == "@here @channel @everyone @oncall Feb 18, 2014"


def test_slack_escapes_are_undone_once() -> None:
    assert message_to_plain("a &lt;b&gt; &amp;lt; &amp;amp;", NAMES) == "a <b> &lt; &amp;"


@given(st.text())
def test_escaped_text_comes_back_exactly_as_plain_words(text: str) -> None:
    assert message_to_plain(escape(text), {}) == text
    assert unescape(escape(text)) == text


def test_mentioned_user_ids_are_listed_once_in_order() -> None:
    assert mentioned_user_ids("<@U2> <@U1|x> <@U2> <#C1> <!here>") == ["U2", "U1"]


def test_prefill_from_a_real_shortcut_payload_names_author_channel_and_permalink() -> None:
    payload = json.loads((SLACK_FIXTURES / "message_shortcut.json").read_text())
    text = prefill_from_message(payload["message"], NAMES, "https://t.slack.com/p1", "dev", "Bob")
    assert text == "@Bob test\n— from @Bob in #dev: https://t.slack.com/p1"


def test_prefill_of_a_message_without_text_is_just_the_source_line() -> None:
    assert prefill_from_message({"text": ""}, {}, None, None, "Ann") == "— from @Ann"


def test_trim_keeps_the_source_line_whole_and_fits_the_limit() -> None:
    text = prefill_from_message({"text": "x" * 1500}, {}, "https://t.slack.com/p1", "dev", "Ann")
    trimmed = trim_to_limit(text)
    assert len(trimmed) == 1000
    assert trimmed.endswith("…\n— from @Ann in #dev: https://t.slack.com/p1")


def test_trim_leaves_short_text_alone_and_cuts_text_without_a_source_line() -> None:
    assert trim_to_limit("short") == "short"
    cut = trim_to_limit("y" * 1200)
    assert len(cut) == 1000 and cut.endswith("…")


def test_trim_counts_non_latin_and_emoji_as_characters() -> None:
    text = "Клиент ждёт 😀 " * 100
    assert len(trim_to_limit(text, 1000)) <= 1000
