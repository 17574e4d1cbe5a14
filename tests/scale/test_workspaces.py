"""Many workspaces: the app installs into two Slack workspaces through Slack's OAuth (stand-in), both
subscribe a channel to the same resource and each gets its own copy, posted with its own bot token; a user
of one workspace cannot act in the other, a payload naming a workspace without the app is not served, and
an uninstall pauses that workspace's subscription and forgets its installation."""

from __future__ import annotations

import html
import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.servers import BackgroundServer
from bot.web import create_web_app
from tests.kit.bot import make_settings, wait_for
from tests.kit.rc import RcSandbox
from tests.kit.slack import SlackRequests, SlackStandin, WorkspaceInfo
from tests.notify.helpers import SUPPORT_THREAD, Handler
from tests.scale.helpers import answers, command, posted


@pytest.fixture
def oauth_bot(rc_sandbox: RcSandbox, slack_standin: SlackStandin, tmp_path: Path) -> Iterator[str]:
    app = httpx.get(f"{slack_standin.url}/sandbox/slack/app", timeout=5).json()
    server = BackgroundServer()
    settings = make_settings(
        slack=slack_standin, rc=rc_sandbox, database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        public_url=server.url, SLACK_CLIENT_ID=app["client_id"], SLACK_CLIENT_SECRET=app["client_secret"],
        SLACK_BOT_TOKEN="",
    )  # fmt: skip
    server.app = create_web_app(settings)
    server.start(timeout=30)
    try:
        yield server.url
    finally:
        server.stop()


def install(bot_url: str, ws: WorkspaceInfo) -> httpx.Response:
    """Add to Slack: the bot's install page, the stand-in's authorize page, back to the bot's redirect."""
    page = httpx.get(f"{bot_url}/slack/install", timeout=10)
    assert page.status_code == 200, page.text
    cookie = page.headers["set-cookie"].split(";")[0]  # Secure: a browser would send it back over https
    link = html.unescape(re.search(r'href="([^"]*oauth/v2/authorize[^"]*)"', page.text)[1])  # type: ignore[index]
    consent = httpx.get(f"{link}&team={ws.team_id}", timeout=10)
    assert consent.status_code == 302, consent.text
    return httpx.get(consent.headers["location"], headers={"Cookie": cookie}, timeout=10)


def subscriptions(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute("SELECT team_id, channel_id, status FROM subscriptions ORDER BY team_id"))


def test_two_workspaces_each_get_their_own_copy_and_cannot_act_in_each_other(
    oauth_bot: str, rc_sandbox: RcSandbox, slack_standin: SlackStandin, tmp_path: Path
) -> None:
    w1 = slack_standin.default
    w2 = slack_standin.add_workspace("Second")
    # One app, one signing secret for every workspace it is installed in.
    requests = SlackRequests(slack_standin, app_url=oauth_bot, signing_secret=slack_standin.signing_secret)
    for ws in (w1, w2):
        done = install(oauth_bot, ws)
        assert done.status_code == 200, done.text
    with sqlite3.connect(tmp_path / "bot.db") as conn:
        stored = conn.execute("SELECT team_id, data FROM slack_bots ORDER BY team_id").fetchall()
    assert sorted(t for t, _ in stored) == sorted([w1.team_id, w2.team_id])
    assert all(w1.bot_token not in data and w2.bot_token not in data for _, data in stored), (
        "tokens encrypted"
    )

    for ws in (w1, w2):
        response, rid = command(requests, ws, "subscribe Support", channel="handoffs")
        assert response.status_code == 200, response.text
        wait_for(
            lambda rid=rid: "now receives" in answers(slack_standin, rid), 15.0, f"subscribe in {ws.team}"
        )
    time.sleep(1.5)  # subscriptions start from now

    ana = Handler(rc_sandbox, "Ana Alvarez")
    try:
        note = ana.add(SUPPORT_THREAD, "Handoff for both workspaces")["id"]
        wait_for(
            lambda: all(note in posted(slack_standin, ws.team_id) for ws in (w1, w2)), 15.0, "both copies"
        )
        for ws in (w1, w2):
            copies = posted(slack_standin, ws.team_id)[note]
            assert copies == [
                {"channel": ws.channels["handoffs"], "team": ws.team_id, "time": copies[0]["time"]}
            ]

        # Alice of the second workspace, claiming the first: not an admin there, not connected there.
        forged, rid = command(requests, w1, "unsubscribe Support", user_id=w2.users["alice"])
        assert forged.status_code == 200
        wait_for(lambda: answers(slack_standin, rid) != "[]", 10.0, "the refusal")
        assert "unsubscribed" not in answers(slack_standin, rid).lower()
        assert [s[2] for s in subscriptions(tmp_path / "bot.db")] == ["active", "active"]
        # The second workspace's listing shows only its own channel.
        _, rid = command(requests, w2, "subscriptions", channel="handoffs")
        wait_for(lambda: answers(slack_standin, rid) != "[]", 10.0, "the listing")
        assert w1.channels["handoffs"] not in answers(slack_standin, rid)
        # A workspace the app is not installed in is not served at all.
        stranger = slack_standin.add_workspace("Stranger")
        response, rid = command(requests, stranger, "subscriptions", channel="handoffs")
        wait_for(lambda: answers(slack_standin, rid) != "[]", 10.0, "Bolt's 'not installed' answer")
        said = answers(slack_standin, rid)
        assert "reinstall this app" in said and "Support" not in said, said
        assert not any(ws.channels["handoffs"] in said for ws in (w1, w2)), said

        # The second workspace removes the app: its subscription pauses, its installation is forgotten.
        httpx.post(f"{slack_standin.url}/sandbox/slack/uninstall", json={"team_id": w2.team_id}, timeout=5)
        event = {
            "token": "unused", "team_id": w2.team_id, "api_app_id": w2.app_id, "type": "event_callback",
            "event": {"type": "app_uninstalled", "event_ts": f"{time.time():.6f}"},
            "event_id": f"Ev{secrets.token_hex(5).upper()}", "event_time": int(time.time()),
        }  # fmt: skip
        assert requests.send(requests.json_body(event)).status_code == 200
        db = tmp_path / "bot.db"
        wait_for(lambda: {t: s for t, _, s in subscriptions(db)}.get(w2.team_id) == "paused", 10.0, "paused")
        with sqlite3.connect(tmp_path / "bot.db") as conn:
            teams = {r[0] for r in conn.execute("SELECT team_id FROM slack_bots")}
        assert teams == {w1.team_id}
        later = ana.add(SUPPORT_THREAD, "Only the first workspace still gets this")["id"]
        wait_for(lambda: later in posted(slack_standin, w1.team_id), 15.0, "the first workspace's copy")
        time.sleep(1.5)
        assert later not in posted(slack_standin, w2.team_id)
    finally:
        ana.close()
