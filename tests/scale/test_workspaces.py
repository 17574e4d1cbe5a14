"""Many workspaces: the app installs into two allowed Slack workspaces through Slack's OAuth (stand-in), a
connected handler in each subscribes a channel to the same resource and each gets its own copy, posted with
its own bot token; an admin without a RingCentral link cannot subscribe; a user of one workspace cannot act
in the other, a workspace outside SLACK_ALLOWED_TEAMS is not served, and an uninstall pauses that
workspace's subscription and forgets its installation."""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from bot.sandbox.slack.payloads import Payloads
from bot.servers import BackgroundServer
from bot.web import create_web_app
from tests.kit.bot import make_settings, wait_for
from tests.kit.rc import RcAdmin, RcSandbox
from tests.kit.slack import SlackRequests, SlackStandin, WorkspaceInfo
from tests.notify.helpers import SUPPORT_THREAD, Handler
from tests.scale.helpers import answers, colleague, command, connect, install, posted


@contextmanager
def oauth_server(
    rc: RcSandbox, slack: SlackStandin, db: Path, allowed: list[WorkspaceInfo], **extra: str
) -> Iterator[str]:
    """The bot in many-workspace mode, serving the workspaces `allowed` (SLACK_ALLOWED_TEAMS)."""
    app = httpx.get(f"{slack.url}/sandbox/slack/app", timeout=5).json()
    server = BackgroundServer()
    settings = make_settings(
        slack=slack, rc=rc, database_url=f"sqlite:///{db}", public_url=server.url,
        SLACK_CLIENT_ID=app["client_id"], SLACK_CLIENT_SECRET=app["client_secret"], SLACK_BOT_TOKEN="",
        SLACK_ALLOWED_TEAMS=",".join(ws.team_id for ws in allowed), **extra,
    )  # fmt: skip
    server.app = create_web_app(settings)
    server.start(timeout=30)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def second(slack_standin: SlackStandin) -> WorkspaceInfo:
    return slack_standin.add_workspace("Second")


@pytest.fixture
def oauth_bot(
    rc_sandbox: RcSandbox, slack_standin: SlackStandin, second: WorkspaceInfo, tmp_path: Path
) -> Iterator[str]:
    with oauth_server(rc_sandbox, slack_standin, tmp_path / "bot.db", [slack_standin.default, second]) as url:
        yield url


def subscriptions(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute("SELECT team_id, channel_id, status FROM subscriptions ORDER BY team_id"))


def test_two_workspaces_each_get_their_own_copy_and_cannot_act_in_each_other(
    oauth_bot: str, rc_sandbox: RcSandbox, slack_standin: SlackStandin, second: WorkspaceInfo, tmp_path: Path
) -> None:
    w1, w2 = slack_standin.default, second
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

    # Carol owns the second workspace but has no RingCentral link: many workspaces give admins no shortcut.
    _, rid = command(requests, w2, "subscribe Support", user="carol", channel="handoffs")
    wait_for(lambda: "connect" in answers(slack_standin, rid).lower(), 10.0, "the connect prompt")
    assert "now receives" not in answers(slack_standin, rid) and subscriptions(tmp_path / "bot.db") == []
    # A handler of Support (one of its SMS recipients) connects in each workspace, and subscribes.
    # (Each workspace shares emails with the app: each connects as a Slack user with the RingCentral email.)
    handlers = {w1.team_id: "ana", w2.team_id: "ben"}
    colleague(slack_standin, w1, "ana", "ana@acme.example")
    colleague(slack_standin, w2, "ben", "ben@acme.example")
    connect(requests, w1, "ana", rc_sandbox.user("Ana").extension_id)
    connect(requests, w2, "ben", rc_sandbox.user("Ben").extension_id)
    for ws in (w1, w2):
        response, rid = command(
            requests, ws, "subscribe Support", user=handlers[ws.team_id], channel="handoffs"
        )
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
        # A workspace outside SLACK_ALLOWED_TEAMS is not served at all.
        stranger = slack_standin.add_workspace("Stranger")
        response, rid = command(requests, stranger, "subscriptions", channel="handoffs")
        said = response.text
        assert response.status_code == 200 and "SLACK_ALLOWED_TEAMS" in said and "Support" not in said, said
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

        def teams() -> set[str]:
            with sqlite3.connect(tmp_path / "bot.db") as conn:
                return {r[0] for r in conn.execute("SELECT team_id FROM slack_bots")}

        wait_for(lambda: teams() == {w1.team_id}, 10.0, "the installation forgotten")
        later = ana.add(SUPPORT_THREAD, "Only the first workspace still gets this")["id"]
        wait_for(lambda: later in posted(slack_standin, w1.team_id), 15.0, "the first workspace's copy")
        time.sleep(1.5)
        assert later not in posted(slack_standin, w2.team_id)
    finally:
        ana.close()


def service_reads(rc: RcSandbox, rc_admin: RcAdmin) -> dict[str, int]:
    """Resource lists the service identity read (what `subscribe <anything>` used to spend on anyone)."""
    service = rc.service_user.extension_id
    return {
        route: users[service]
        for route, users in rc_admin.requests()["byRouteAndUser"].items()
        if service in users and route.endswith(("/call-queues", "/sites"))
    }


def test_an_outsider_workspace_installs_nothing_and_is_served_nothing_even_with_a_stored_installation(
    rc_sandbox: RcSandbox, rc_admin: RcAdmin, slack_standin: SlackStandin, tmp_path: Path
) -> None:
    ours, outsider = slack_standin.default, slack_standin.add_workspace("Outsider")
    db, key = tmp_path / "bot.db", Fernet.generate_key().decode()
    requests = SlackRequests(slack_standin, signing_secret=slack_standin.signing_secret)
    # Before the operator narrowed the list, the outsider was let in, connected and subscribed.
    with oauth_server(rc_sandbox, slack_standin, db, [ours, outsider], THREAD_NOTE_SECRET_KEY=key) as url:
        requests.app_url = url
        assert install(url, outsider).status_code == 200
        colleague(slack_standin, outsider, "ana", "ana@acme.example")
        connect(requests, outsider, "ana", rc_sandbox.user("Ana").extension_id)
        _, rid = command(requests, outsider, "subscribe Support", user="ana", channel="handoffs")
        wait_for(lambda: "now receives" in answers(slack_standin, rid), 15.0, "the early subscription")
    with oauth_server(rc_sandbox, slack_standin, db, [ours], THREAD_NOTE_SECRET_KEY=key) as url:
        requests.app_url = url
        refused = install(url, outsider)  # a fresh install through our own install page
        assert refused.status_code == 403 and "SLACK_ALLOWED_TEAMS" in refused.text, refused.text
        assert install(url, ours).status_code == 200
        rc_admin.reset_requests()
        response, rid = command(requests, outsider, "subscribe Support backfill:10", channel="general")
        assert response.status_code == 200 and "not enabled for this Slack workspace" in response.text
        assert "SLACK_ALLOWED_TEAMS" in response.text and "Support" not in response.text.replace(
            "subscribe Support", "")  # fmt: skip
        # A forged confirm button and an options request from the outsider: refused too.
        payloads = Payloads(slack_standin, outsider)
        value = json.dumps({"r": rc_sandbox.resource("Support"), "n": "Support", "k": 10,
                            "c": outsider.channels["general"]})  # fmt: skip
        click = payloads.block_action("subscription_confirm", value, channel="general")
        assert requests.send(requests.interactive(click)).status_code == 200
        wait_for(lambda: "not enabled" in str(slack_standin.responses()), 10.0, "the refusal")
        suggest = {
            **click,
            "type": "block_suggestion",
            "action_id": "thread_pick",
            "block_id": "b",
            "value": "S",
        }
        options = requests.send(requests.interactive(suggest))
        assert options.status_code == 200 and options.json() == {"options": []}
        note = Handler(rc_sandbox, "Ana Alvarez")
        try:
            added = note.add(SUPPORT_THREAD, "Internal: customer's card ends 4242")["id"]
            db_subs = lambda: {t: s for t, _, s in subscriptions(db)}  # noqa: E731
            wait_for(lambda: db_subs().get(outsider.team_id) == "paused", 15.0, "the outsider's pause")
            time.sleep(1.5)
        finally:
            note.close()
        assert added not in posted(slack_standin, outsider.team_id)
        assert posted(slack_standin, outsider.team_id) == {}
        assert [s for s in subscriptions(db) if s[0] == outsider.team_id and s[2] == "active"] == []
        assert service_reads(rc_sandbox, rc_admin) == {}


def test_an_allowed_workspaces_admin_without_a_ringcentral_link_gets_nothing_not_even_queue_names(
    rc_sandbox: RcSandbox, rc_admin: RcAdmin, slack_standin: SlackStandin, tmp_path: Path
) -> None:
    ours = slack_standin.default
    requests = SlackRequests(slack_standin, signing_secret=slack_standin.signing_secret)
    with oauth_server(rc_sandbox, slack_standin, tmp_path / "bot.db", [ours]) as url:
        requests.app_url = url
        assert install(url, ours).status_code == 200
        rc_admin.reset_requests()
        for text in ("subscribe Support backfill:10", "subscribe Nope"):
            _, rid = command(requests, ours, text, user="carol", channel="handoffs")  # the owner
            wait_for(lambda rid=rid: "connect" in answers(slack_standin, rid).lower(), 10.0, "the prompt")
            said = answers(slack_standin, rid)
            assert "now receives" not in said and "Sales" not in said and "Yours" not in said, said
        time.sleep(1.5)
        assert subscriptions(tmp_path / "bot.db") == []
        assert posted(slack_standin, ours.team_id) == {}
        assert service_reads(rc_sandbox, rc_admin) == {}


def test_with_no_allowed_team_the_install_page_is_closed_and_names_the_setting(
    rc_sandbox: RcSandbox, slack_standin: SlackStandin, tmp_path: Path
) -> None:
    with oauth_server(rc_sandbox, slack_standin, tmp_path / "bot.db", []) as url:
        page = httpx.get(f"{url}/slack/install", timeout=10)
    assert page.status_code == 403 and "SLACK_ALLOWED_TEAMS" in page.text
