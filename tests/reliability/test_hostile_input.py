"""Hostile input: each gets a clear answer and changes nothing it should not.

Property tests drive the command grammar and the phone parser directly (cheap, many examples) and through
the real app (signed requests, fewer examples); notes full of Slack markup, scripts, emoji and invisible
characters go through RingCentral and back into a channel; oversized, malformed and replayed requests,
OAuth abuse and a payload from another workspace are refused.
"""

from __future__ import annotations

import hmac
import json
import time
import unicodedata
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.demo import click_link
from bot.slack import grammar
from bot.slack.phone import normalise
from bot.web import BODY_LIMITS
from tests.kit.bot import RunningBot, texts, wait_for
from tests.notify.helpers import SUPPORT_THREAD, Handler, all_messages, note_id_of, with_note
from tests.reliability.conftest import long_or_short

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e", "\u2066"]
CONTROL = [chr(c) for c in (*range(0, 9), 11, 12, *range(14, 32), 127)]
SUBCOMMANDS = [
    "add",
    "list",
    "edit",
    "delete",
    "subscribe",
    "unsubscribe",
    "subscriptions",
    "mute",
    "unmute",
    "status",
    "help",
    "connect",
    "take",
    "resolve",
    "",
]

TOKENS = [
    *INVISIBLE,
    *CONTROL,
    "<",
    ">",
    "&",
    "<!here>",
    "<@U123>",
    "*",
    "`",
    '"',
    "'",
    "\n",
    "+1 415 555 0142",
]
hostile_text = st.lists(
    st.one_of(st.text(max_size=40), st.sampled_from(TOKENS), st.text(alphabet="Яあ🚀\u200b", max_size=300)),
    max_size=30,
).map("".join)


# --- the grammar and the phone parser, directly ------------------------------------------------------


@given(st.sampled_from(SUBCOMMANDS), hostile_text)
@settings(max_examples=long_or_short(5000, 400), deadline=None)
def test_every_subcommand_with_any_tail_parses_to_a_command_or_one_sentence(sub: str, tail: str) -> None:
    command = grammar.parse(f"{sub} {tail}")
    if isinstance(command, grammar.Invalid):
        sentence = command.reason
        assert sentence and "\n" not in sentence.strip() and len(sentence) < 600


@given(st.text(alphabet="0123456789 +-().", min_size=7, max_size=20), st.sampled_from(INVISIBLE))
@settings(max_examples=long_or_short(3000, 300), deadline=None)
def test_invisible_characters_never_turn_a_phone_number_into_another_number(
    text: str, invisible: str
) -> None:
    plain = normalise(text)
    spliced = normalise(invisible.join(text))
    assert spliced in (plain, None), f"{text!r} → {plain}, with {invisible!r} → {spliced}"


@given(st.text(max_size=60))
@settings(max_examples=long_or_short(3000, 300), deadline=None)
def test_normalising_a_normalised_number_keeps_it(text: str) -> None:
    once = normalise(text)
    if once is not None:
        assert normalise(once) == once


# --- through the real app ----------------------------------------------------------------------------


@pytest.fixture
def connected(bot: RunningBot) -> RunningBot:
    bot.connect("alice", "Ana Alvarez")
    return bot


@given(st.sampled_from([s for s in SUBCOMMANDS if s not in ("connect",)]), hostile_text)
@settings(
    max_examples=long_or_short(300, 25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_any_command_text_is_acknowledged_and_never_ends_in_an_internal_error(
    connected: RunningBot, sub: str, tail: str
) -> None:
    bot = connected
    text = f"{sub} {tail}".replace("disconnect", "disc0nnect")
    response = bot.requests.command(text, user="alice", channel="general")
    assert response.status_code == 200
    assert "went wrong on our side" not in response.text


def test_after_the_hostile_commands_no_answer_was_an_internal_error(connected: RunningBot) -> None:
    """A run of awkward commands, then every answer they got is read."""
    bot = connected
    for text in [
        "add",
        "add +",
        "add \u202e+14155550142 x",
        "edit",
        "delete ,,,",
        "list <!here>",
        'subscribe "',
        "mute <#C1|x>",
        "add " + "9" * 200,
        "list \x00",
        "help " + "<" * 500,
    ]:
        assert bot.requests.command(text).status_code == 200
    time.sleep(1.0)
    said = texts(bot.slack.responses())
    assert "went wrong on our side" not in said


HOSTILE_NOTES = [
    "<!here> <!channel> <!everyone> please look",
    "ping <@U0123ABCD> and <#C0123ABCD|general> and <!subteam^S123|@team>",
    "*bold* _it_ ~strike~ `code` ```block``` > quote <https://evil.example|click me>",
    "Клиент ждёт цену — 客户在等报价 — العميل ينتظر — ลูกค้ารอราคา",
    "emoji 🚀🔥👍🏽👨‍👩‍👧‍👦 :smile: :+1:",
    "zero\u200bwidth\u200c joiner\u200d word\u2060 joiner\ufeff bom\u202e rtl override",
    "control \x01\x02\x07 bell \x1b[31m ansi \x7f del",
    "&amp; &lt;not a tag&gt; <script>alert(1)</script> & < >",
    "Я" * 1000,
]


@pytest.fixture
def ana(bot: RunningBot) -> Iterator[Handler]:
    handler = Handler(bot.rc, "Ana Alvarez")
    yield handler
    handler.close()


def test_hostile_notes_round_trip_verbatim_and_ping_nobody_in_the_channel(connected: RunningBot) -> None:
    bot = connected
    replies = bot.command("subscribe Support", channel="handoffs")
    if any(b.get("action_id") == "subscription_confirm" for b in replies.buttons()):
        bot.click(replies.button("subscription_confirm"), channel="handoffs")
    time.sleep(1.5)
    for text in HOSTILE_NOTES:
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # as Slack sends it
        answer = bot.command(f"add {SUPPORT_THREAD} {escaped}", timeout=15)
        assert "saved" in answer.text.lower(), (text, answer.text)
    stored = {n["id"]: n["text"] for n in bot.rc_state_notes() if n["threadId"] == SUPPORT_THREAD}
    for text in HOSTILE_NOTES:
        expected = text.strip()
        assert any(_same(expected, s) for s in stored.values()), f"not stored as typed: {text!r}"
    wait_for(
        lambda: len([m for m in all_messages(bot.slack, "handoffs") if note_id_of(m)]) >= len(HOSTILE_NOTES),
        30,
        "every hostile note in the channel",
    )
    for message in all_messages(bot.slack, "handoffs"):
        raw = json.dumps(message.get("blocks")) + str(message.get("text"))
        for ping in ("<!here", "<!channel", "<!everyone", "<@U0123ABCD>", "<!subteam", "<#C0123ABCD"):
            assert ping not in raw, f"{ping} would notify people: {raw[:300]}"
        assert "<script>" not in raw


def _same(typed: str, stored: str) -> bool:
    """RingCentral keeps what was typed; control characters may be dropped, nothing else changes."""
    keep = "".join(c for c in typed if unicodedata.category(c) != "Cc" or c in "\n\t")
    return stored in (typed, keep) or stored.strip() in (typed.strip(), keep.strip())


# --- malformed and oversized requests ----------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_with_413_before_it_reaches_slack_or_the_webhook(
    bot: RunningBot,
) -> None:
    huge = b"payload=" + b"x" * (BODY_LIMITS["/slack/events"] + 1)
    signed = bot.requests.sign(huge, "application/x-www-form-urlencoded")
    assert httpx.post(signed.url, content=signed.body, headers=signed.headers, timeout=30).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the streamed size counts
        for _ in range(20):
            yield b"x" * 64 * 1024

    streamed = httpx.post(
        f"{bot.url}/slack/events", content=chunks(), headers={"Content-Type": "text/plain"}, timeout=30
    )
    assert streamed.status_code == 413
    webhook = httpx.post(
        f"{bot.url}/ringcentral/webhook",
        content=b"{" + b" " * BODY_LIMITS["/ringcentral/webhook"],
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert webhook.status_code == 413
    assert httpx.get(f"{bot.url}/healthz", timeout=10).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"payload=%7Bnot%20json",
        b"payload=" + json.dumps({"type": "block_actions"}).encode(),
        b"payload=" + json.dumps({"type": "view_submission", "view": None}).encode(),
        b"payload=" + json.dumps([1, 2, 3]).encode(),
        b"command=%2Fthread-note",
        b"\xff\xfe\x00garbage",
        b"",
    ],
)
def test_malformed_signed_payloads_get_an_answer_and_change_nothing(bot: RunningBot, body: bytes) -> None:
    before = len(bot.rc_state_notes())
    timestamp = str(int(time.time()))  # signed over the raw bytes (the kit's signer needs UTF-8)
    digest = hmac.new(bot.slack.signing_secret.encode(), b"v0:" + timestamp.encode() + b":" + body, "sha256")
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }
    response = httpx.post(f"{bot.url}/slack/events", content=body, headers=headers, timeout=10)
    assert response.status_code in (200, 400, 404), response.text
    assert len(bot.rc_state_notes()) == before
    assert httpx.get(f"{bot.url}/healthz", timeout=10).status_code == 200


def test_a_webhook_with_a_wrong_or_missing_verification_token_is_refused(bot: RunningBot) -> None:
    for headers in ({}, {"Verification-Token": "guess"}):
        response = httpx.post(
            f"{bot.url}/ringcentral/webhook", json={"event": "x"}, headers=headers, timeout=10
        )
        assert response.status_code == 403


def test_a_replayed_request_is_refused_and_the_note_is_saved_once(connected: RunningBot) -> None:
    bot = connected
    answer = bot.command(f"add {SUPPORT_THREAD} Replay me")
    assert "saved" in answer.text.lower()
    replayed = bot.requests.replay()
    assert replayed.status_code == 401
    time.sleep(1.0)
    assert len([n for n in bot.rc_state_notes() if n["text"] == "Replay me"]) == 1


# --- OAuth abuse ---------------------------------------------------------------------------------------


def _code_for(bot: RunningBot, url: str, rc_user: str) -> tuple[str, str]:
    """Sign in at the emulator without following the redirect back: (code, state) of that sign-in."""
    ext = bot.rc.user(rc_user).extension_id
    response = httpx.get(url + f"&sandbox_user={ext}", follow_redirects=False, timeout=10)
    location = response.headers["location"]
    query = parse_qs(urlsplit(location).query)
    return query["code"][0], query["state"][0]


def test_a_code_used_twice_links_once_and_the_second_use_is_refused(bot: RunningBot) -> None:
    code, state = _code_for(bot, bot.authorize_url("alice"), "Ana Alvarez")
    callback = f"{bot.url}/ringcentral/oauth/callback?" + urlencode({"code": code, "state": state})
    first = httpx.get(callback, timeout=10)
    assert first.status_code == 200
    assert click_link(first).status_code == 200
    again = httpx.get(callback, timeout=10)
    assert again.status_code == 400 and "already used" in again.text
    assert "Ana Alvarez" in bot.command("status").text


def test_a_code_from_another_sign_in_fails_pkce_and_links_nobody(bot: RunningBot) -> None:
    first = bot.authorize_url("alice")
    second = bot.authorize_url("alice")  # a second sign-in: its own state and PKCE verifier
    code, _ = _code_for(bot, second, "Ana Alvarez")
    state_of_first = parse_qs(urlsplit(first).query)["state"][0]
    page = httpx.get(
        f"{bot.url}/ringcentral/oauth/callback?" + urlencode({"code": code, "state": state_of_first}),
        timeout=10,
    )
    assert page.status_code == 400 and "did not accept" in page.text
    assert "not connected" in bot.command("status").text.lower()


# --- workspaces ----------------------------------------------------------------------------------------


def test_a_payload_from_another_workspace_does_not_act_on_this_workspaces_links(
    connected: RunningBot,
) -> None:
    bot = connected
    payload = bot.requests.payloads.command(f"add {SUPPORT_THREAD} From another workspace")
    payload["team_id"] = "T0OTHERORG"
    payload["team_domain"] = "other"
    response = bot.requests.send(bot.requests.form(payload))
    assert response.status_code == 403  # served only with its own team's token (bot/slack/app.py)
    time.sleep(1.5)
    assert [n for n in bot.rc_state_notes() if n["text"] == "From another workspace"] == []
    rid = payload["response_url"].rstrip("/").rsplit("/", 1)[-1]
    assert [r for r in bot.slack.responses() if r["id"] == rid] == []


def test_a_non_handler_cannot_take_over_through_a_forged_button(connected: RunningBot, ana: Handler) -> None:
    bot = connected
    bot.connect("bob", "Dana Kowalski")  # Dana does not handle Support
    replies = bot.command("subscribe Support", channel="handoffs")
    if any(b.get("action_id") == "subscription_confirm" for b in replies.buttons()):
        bot.click(replies.button("subscription_confirm"), channel="handoffs")
    time.sleep(1.5)
    note = ana.add(SUPPORT_THREAD, "Forged take over target")
    parent = wait_for(lambda: with_note(bot.slack, "handoffs", note["id"]), 10, "the note")[0]
    button = next(
        e
        for b in parent["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "notify_take_over"
    )
    bot.click(button, user="bob", channel="handoffs", answers=0)
    time.sleep(1.5)
    threads = bot.rc_admin.state()["threads"]
    thread = next(t for t in threads if t["id"] == SUPPORT_THREAD)
    assert "Dana" not in json.dumps(thread.get("assignee"))
