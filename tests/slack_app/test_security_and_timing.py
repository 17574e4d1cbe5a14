"""Signatures, acknowledging before RingCentral answers, the connect flow's defences, tokens at rest,
Socket Mode."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from bot.servers import BackgroundServer
from bot.web import create_web_app
from tests.kit.bot import RunningBot, make_settings, texts, wait_for
from tests.kit.rc import RcSandbox
from tests.kit.slack import SlackRequests, SlackStandin

HANDOFF_THREAD = "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c01"
NOTES_PATH = "/restapi/v1.0/account/~/message-threads/notes"
THREADS_PATH = "/restapi/v1.0/account/~/message-threads"


def _notes_with(bot: RunningBot, text: str) -> list[dict]:  # type: ignore[type-arg]
    return [n for n in bot.rc_state_notes() if n.get("text") == text and n["availability"] == "Alive"]


@pytest.mark.parametrize("signature,age", [("wrong", 0), ("missing", 0), ("valid", 360)])
def test_requests_with_a_bad_or_stale_signature_get_401_and_change_nothing(
    bot: RunningBot, signature: str, age: float
) -> None:
    bot.connect("alice", "Ana Alvarez")
    before = len(bot.rc_state_notes())
    response = bot.requests.send(
        bot.requests.build_command(f"add {HANDOFF_THREAD} Forged note", signature=signature, age=age)  # type: ignore[arg-type]
    )
    assert response.status_code == 401
    time.sleep(0.3)
    assert len(bot.rc_state_notes()) == before


def test_a_command_is_acknowledged_while_ringcentral_is_still_holding_its_answer(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    hold = bot.rc_admin.fault("hold", path=NOTES_PATH, method="POST")
    started = time.monotonic()
    replies = bot.command(f"add {HANDOFF_THREAD} Held note", answers=0)
    assert replies.ack is not None and "Saving" in texts(replies.ack)
    assert _notes_with(bot, "Held note") == [], "RingCentral has not answered yet"
    assert time.monotonic() - started < 3.0
    bot.rc_admin.release(hold)
    wait_for(lambda: _notes_with(bot, "Held note"), what="the note after release")


def test_buttons_shortcuts_and_submissions_are_acknowledged_while_ringcentral_holds(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    listing = bot.command(f"list {HANDOFF_THREAD}")
    delete = next(b for b in listing.buttons() if b["action_id"] == "note_delete")
    hold = bot.rc_admin.fault("hold", path=THREADS_PATH)
    try:
        clicked = bot.requests.send(
            bot.requests.interactive(bot.requests.payloads.block_action("note_delete", delete["value"]))
        )
        assert clicked.status_code == 200
        posted = bot.slack.post_as("bob", "support", "a message")
        shortcut = bot.requests.send(
            bot.requests.interactive(
                bot.requests.payloads.message_shortcut(
                    posted["ts"], callback_id="save_as_thread_note", channel="support"
                )
            )
        )
        assert shortcut.status_code == 200
        view = bot.modal(callback_id="save_note")
        text_block = next(b["block_id"] for b in view["blocks"] if b["block_id"].startswith("text"))
        values = {
            "thread_ref": {"thread_ref_input": HANDOFF_THREAD},
            text_block: {"text_input": "Held submit"},
            "thread": {"thread_select": {"type": "external_select", "selected_option": None}},
        }
        submitted = bot.submit(view, values)
        assert submitted.status_code == 200
        assert submitted.json()["response_action"] == "update"
    finally:
        bot.rc_admin.release(hold)
        bot.rc_admin.clear_faults()
    wait_for(lambda: _notes_with(bot, "Held submit"), what="the submitted note after release")


def test_a_forged_state_is_refused_and_links_nobody(bot: RunningBot) -> None:
    url = bot.authorize_url()
    forged = url.replace("state=", "state=forged")
    page = bot.visit_authorize(forged, "Ana Alvarez")
    assert page.status_code == 400
    assert "expired or was already used" in page.text
    assert "not connected" in bot.command("status").text.lower()


def test_a_state_used_twice_is_refused_the_second_time(bot: RunningBot) -> None:
    url = bot.authorize_url()
    assert bot.visit_authorize(url, "Ana Alvarez").status_code == 200
    again = bot.visit_authorize(url, "Ben Okafor")
    assert again.status_code == 400
    status = bot.command("status").text
    assert "Ana Alvarez" in status, "the first connection stands"
    assert "Ben Okafor" not in status


def test_declining_access_in_ringcentral_connects_nothing(bot: RunningBot) -> None:
    url = bot.authorize_url()
    state = url.split("state=")[1].split("&")[0]
    page = httpx.get(f"{bot.url}/ringcentral/oauth/callback?error=access_denied&state={state}", timeout=10)
    assert page.status_code == 400
    assert "declined" in page.text
    assert "not connected" in bot.command("status").text.lower()


def test_a_revoked_session_asks_the_person_to_reconnect(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    bot.rc_admin.revoke(bot.rc.user("Ana Alvarez").extension_id)
    bot.rc_admin.fault("expire_tokens")
    replies = bot.command(f"add {HANDOFF_THREAD} After the revoke")
    assert replies.button("connect_open")
    assert "connect" in replies.text.lower()
    assert _notes_with(bot, "After the revoke") == []


def test_a_revoked_session_drops_the_dead_link(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    assert "Ana Alvarez" in bot.command("status").text
    bot.rc_admin.revoke(bot.rc.user("Ana Alvarez").extension_id)
    bot.rc_admin.fault("expire_tokens")
    assert bot.command(f"add {HANDOFF_THREAD} After the revoke").button("connect_open")
    status = bot.command("status").text
    assert "not connected" in status.lower() and "Ana Alvarez" not in status, status
    bot.connect("alice", "Ana Alvarez")  # connecting again works as the first time
    bot.command(f"add {HANDOFF_THREAD} After reconnecting")
    assert len(_notes_with(bot, "After reconnecting")) == 1


def test_the_database_holds_no_token_in_plain_text(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    bot.command(f"list {HANDOFF_THREAD}")
    path = Path(bot.database_url.removeprefix("sqlite:///"))
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT * FROM rc_links").fetchone()
        columns = [d[0] for d in db.execute("SELECT * FROM rc_links").description]
    link = dict(zip(columns, row, strict=True))
    cipher = Fernet(bot.settings.secret_keys[0].get_secret_value().encode())
    access = cipher.decrypt(
        link["access_token"].encode() if isinstance(link["access_token"], str) else link["access_token"]
    ).decode()
    assert len(access) > 20
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert access.encode() not in raw


@pytest.fixture
def socket_bot(
    rc_sandbox: RcSandbox, slack_standin: SlackStandin, slack_request: SlackRequests, tmp_path: Path
) -> BackgroundServer:
    server = BackgroundServer()
    settings = make_settings(
        slack=slack_standin,
        rc=rc_sandbox,
        database_url=f"sqlite:///{tmp_path / 's.db'}",
        public_url=server.url,
        SLACK_APP_TOKEN=slack_standin.app_token,
        THREAD_NOTE_METRICS_TOKEN="operators-token-0123456789",
    )
    server.app = create_web_app(settings)
    server.start(timeout=30)
    yield server
    server.stop()


async def test_socket_mode_delivers_a_command_and_a_shortcut_and_the_app_answers(
    socket_bot: BackgroundServer, slack_standin: SlackStandin, slack_request: SlackRequests
) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        auth = {"Authorization": "Bearer operators-token-0123456789"}  # the detail is for operators
        health = (await http.get(f"{socket_bot.url}/healthz", headers=auth)).json()
    assert health["mode"] == "socket"
    command = slack_request.payloads.command("help")
    acked = await slack_standin.dispatch_socket("slash_commands", command)
    assert acked.status_code == 200, acked.text
    assert "/thread-note add" in texts(acked.json())
    posted = slack_standin.post_as("bob", "support", "over the socket")
    shortcut = slack_request.payloads.message_shortcut(
        posted["ts"], callback_id="save_as_thread_note", channel="support"
    )
    acked = await slack_standin.dispatch_socket("interactive", shortcut)
    assert acked.status_code == 200, acked.text
    await asyncio.sleep(0)
    wait_for(lambda: slack_standin.calls("views.open"), what="the modal opened over Socket Mode")
