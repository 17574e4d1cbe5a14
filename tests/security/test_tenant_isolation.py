"""Issue 16, item 2 (Must show): no crossing between two Slack workspaces, through every Slack surface.

The bot serves two installed workspaces (Slack OAuth, the stand-in's "Sandbox" and "Second"), today on one
RingCentral account (these tests take a second account when tenants bring their own). In each, a handler of
Support connects (Ana in the first, Ben in the second) and subscribes the workspace's #handoffs to Support; a
note then reaches both channels, each copy posted with its own workspace's token. Everything is signed
requests into the bot. A person of the second workspace — in payloads signed as the second workspace, as
Slack would send them from a channel seen by both, or forged — cannot press the first workspace's notification
buttons (Take over, Resolve, Add note), cannot subscribe, unsubscribe or list the first workspace's channels,
and sees nothing of it in App Home; a person of one workspace claimed by the other is nobody there. Finally
the first workspace's admin forgets it: no row of it is left in any table (reflected), and the second
workspace goes on being served.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.slack.payloads import Payloads
from tests.kit.bot import texts, wait_for
from tests.kit.rc import RcAdmin, RcSandbox
from tests.kit.slack import SlackRequests, SlackStandin, WorkspaceInfo
from tests.notify.helpers import SUPPORT_THREAD_2, Handler
from tests.scale.helpers import answers, colleague, command, connect, install, posted
from tests.scale.test_workspaces import oauth_server
from tests.store.test_tenants import _everything, _mentioning

JSON = dict[str, Any]
FOREIGN = "isn't one of your workspace's notifications"
BEN = "62001002"
WITHIN = 30.0  # seconds to wait for the bot: generous, the machine may be loaded


@dataclass
class Tenants:
    """Two installed workspaces, a handler connected in each, #handoffs subscribed in each, and one note
    posted in both: `parents[team]` is the notification's parent message in that workspace's #handoffs."""

    url: str
    requests: SlackRequests
    slack: SlackStandin
    rc: RcSandbox
    rc_admin: RcAdmin
    db: Path
    w1: WorkspaceInfo
    w2: WorkspaceInfo
    parents: dict[str, JSON]

    def say(self, ws: WorkspaceInfo, text: str, *, wait: bool = True, **kw: Any) -> str:
        """`/thread-note <text>` in `ws` (overrides as `command`): the ack and (`wait`) the first answer
        posted to its response_url, as text."""
        response, rid = command(self.requests, ws, text, **kw)
        assert response.status_code == 200, response.text
        if wait:
            wait_for(lambda: answers(self.slack, rid) != "[]", WITHIN, f"the answer to {text}")
        return response.text + answers(self.slack, rid)

    def press(self, ws: WorkspaceInfo, user: str, button: JSON, channel_id: str, message: JSON) -> None:
        """`user` of `ws` presses `button` of `message` in `channel_id`, in a payload signed as `ws`."""
        body = Payloads(self.slack, ws).block_action(button["action_id"], button.get("value"))
        body["user"] = {"id": ws.users[user], "username": user, "name": user, "team_id": ws.team_id}
        body["channel"] = {"id": channel_id, "name": "handoffs"}
        body["message"] = message
        body["container"] = {"type": "message", "message_ts": message["ts"], "channel_id": channel_id}
        # Slack's response_url answers the presser where they are, in their own workspace
        body["response_url"] = self.slack.response_url(channel="general", user=user, team_id=ws.team_id)
        body["trigger_id"] = self.slack.trigger(user, team_id=ws.team_id)
        response = self.requests.send(self.requests.interactive(body))
        assert response.status_code == 200, response.text


def _button(message: JSON, action_id: str) -> JSON:
    return next(
        e
        for b in message.get("blocks") or []
        if b.get("type") == "actions"
        for e in b["elements"]
        if e.get("action_id") == action_id
    )


def _parent(slack: SlackStandin, ws: WorkspaceInfo) -> JSON | None:
    for message in slack.messages(ws.channels["handoffs"], team_id=ws.team_id):
        if any(b.get("block_id", "").startswith("notify:") for b in message.get("blocks") or []):
            return message
    return None


@pytest.fixture
def tenants(
    rc_sandbox: RcSandbox, rc_admin: RcAdmin, slack_standin: SlackStandin, tmp_path: Path
) -> Iterator[Tenants]:
    w1, w2 = slack_standin.default, slack_standin.add_workspace("Second")
    db = tmp_path / "bot.db"
    with oauth_server(rc_sandbox, slack_standin, db, [w1, w2]) as url:
        requests = SlackRequests(slack_standin, app_url=url)
        for ws in (w1, w2):
            assert install(url, ws).status_code == 200
        colleague(slack_standin, w1, "ana", "ana@acme.example")
        colleague(slack_standin, w2, "ben", "ben@acme.example")
        connect(requests, w1, "ana", rc_sandbox.user("Ana").extension_id)
        connect(requests, w2, "ben", rc_sandbox.user("Ben").extension_id)
        t = Tenants(url, requests, slack_standin, rc_sandbox, rc_admin, db, w1, w2, {})
        for ws, user in ((w1, "ana"), (w2, "ben")):
            assert "now receives" in t.say(ws, "subscribe Support", user=user)
        wait_for(lambda: _subscriptions(db) == 2, WITHIN, "both subscriptions")
        ana = Handler(rc_sandbox, "Ana Alvarez")
        try:
            note = ana.add(SUPPORT_THREAD_2, "Handoff: customer waits for the refund")["id"]
            wait_for(
                lambda: all(note in posted(slack_standin, ws.team_id) for ws in (w1, w2)), WITHIN, "copies"
            )
        finally:
            ana.close()
        for ws in (w1, w2):
            t.parents[ws.team_id] = wait_for(lambda ws=ws: _parent(slack_standin, ws), WITHIN, "the parent")
        yield t


def _subscriptions(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM subscriptions WHERE status = 'active'").fetchone()[0])


def _told(t: Tenants, since: int) -> str:
    """What the bot answered through response_urls since the `since`-th answer."""
    return texts([r["body"] for r in t.slack.responses()[since:]])


def test_a_person_of_workspace_2_cannot_press_workspace_1s_notification_buttons(tenants: Tenants) -> None:
    t, w1, w2 = tenants, tenants.w1, tenants.w2
    theirs = t.parents[w1.team_id]
    since = len(t.slack.responses())
    for action in ("notify_take_over", "notify_resolve"):
        t.press(w2, "ben", _button(theirs, action), w1.channels["handoffs"], theirs)
        wait_for(lambda: FOREIGN in _told(t, since), WITHIN, f"the refusal of {action}")
    opened = len(t.slack.calls("views.open", team_id=w2.team_id))
    t.press(w2, "ben", _button(theirs, "add_note_open"), w1.channels["handoffs"], theirs)
    wait_for(
        lambda: FOREIGN in texts([c["args"] for c in t.slack.calls("views.update", team_id=w2.team_id)]),
        WITHIN,
        "Add note refused in its modal",
    )
    assert len(t.slack.calls("views.open", team_id=w2.team_id)) == opened + 1  # the loading modal only
    thread = next(x for x in t.rc_admin.state()["threads"] if x["id"] == SUPPORT_THREAD_2)
    assert thread["status"] == "Open" and BEN not in json.dumps(thread), "nothing changed in RingCentral"

    ours = t.parents[w2.team_id]  # the same buttons on the second workspace's own copy do act
    t.press(w2, "ben", _button(ours, "notify_take_over"), w2.channels["handoffs"], ours)
    wait_for(
        lambda: (
            BEN in json.dumps(next(x for x in t.rc_admin.state()["threads"] if x["id"] == SUPPORT_THREAD_2))
        ),
        WITHIN,
        "Ben's own take-over",
    )


def test_workspace_2_cannot_subscribe_unsubscribe_list_or_see_workspace_1s_channels(tenants: Tenants) -> None:
    t, w1, w2 = tenants, tenants.w1, tenants.w2
    theirs = w1.channels["handoffs"]
    for text in ("subscribe Support", f"unsubscribe Support <#{theirs}|handoffs>", "unsubscribe Support"):
        said = t.say(w2, text, user="ben", channel_id=theirs)
        assert "now receives" not in said and "nsubscribed" not in said, said
    said = t.say(w2, f"mute {SUPPORT_THREAD_2}", user="ben", channel_id=theirs)
    assert "nothing to mute" in said, said
    since = len(t.slack.responses())  # a forged "Subscribe" confirmation naming the first one's channel
    value = {"r": t.rc.resource("Support"), "n": "Support", "k": 0, "c": theirs}
    t.press(
        w2, "ben", {"action_id": "subscription_confirm", "value": json.dumps(value)}, theirs, {"ts": "1.2"}
    )
    wait_for(lambda: _told(t, since), WITHIN, "the forged confirmation's answer")
    assert "now receives" not in _told(t, since)
    listed = t.say(w2, "subscriptions all", user="ben")
    assert theirs not in listed and w2.channels["handoffs"] in listed
    with sqlite3.connect(t.db) as conn:
        rows = conn.execute("SELECT team_id, channel_id, resource_name, status FROM subscriptions").fetchall()
        muted = conn.execute("SELECT team_id, muted FROM slack_threads ORDER BY team_id").fetchall()
    assert sorted(rows) == sorted(
        [
            (w1.team_id, theirs, "Support", "active"),
            (w2.team_id, w2.channels["handoffs"], "Support", "active"),
        ]
    )
    assert sorted(muted) == sorted([(w1.team_id, 0), (w2.team_id, 0)])

    home = Payloads(t.slack, w2).app_home_opened("ben")
    home["event"]["user"] = w2.users["ben"]
    assert t.requests.send(t.requests.json_body(home)).status_code == 200
    published = wait_for(lambda: t.slack.calls("views.publish", team_id=w2.team_id), WITHIN, "Ben's Home")
    shown = json.dumps(published[-1]["args"])
    assert w2.channels["handoffs"] in shown and theirs not in shown and w1.team_id not in shown

    # A person of one workspace, claimed by the other, is nobody there: no link, nothing done.
    note = next(n for n in t.rc_admin.state()["notes"] if "refund" in n["text"])
    for ws, user_id in ((w2, w1.users["ana"]), (w1, w2.users["ben"])):
        for text in (
            "add +12125550199 From the wrong workspace",
            "list +12125550199",
            f"delete {note['id']}",
        ):
            said = t.say(ws, text, user_id=user_id)
            assert "connect" in said.lower() and "refund" not in said and "saved" not in said.lower(), said
    notes = {n["id"]: n["text"] for n in t.rc_admin.state()["notes"]}
    assert "From the wrong workspace" not in notes.values() and note["id"] in notes


def test_an_admin_forgets_workspace_1_leaving_nothing_of_it_and_workspace_2_is_served_as_before(
    tenants: Tenants,
) -> None:
    t, w1, w2 = tenants, tenants.w1, tenants.w2
    url = f"sqlite:///{t.db}"
    before, schema = _everything(url)
    assert _mentioning(w1.team_id, before, schema) and _mentioning(w2.team_id, before, schema)
    kept_before = {name: len(rows) for name, rows in _mentioning(w2.team_id, before, schema).items()}

    t.say(w1, "forget-workspace", user="ana", wait=False)  # a member, not an admin
    wait_for(
        lambda: (
            "Only an admin or owner" in texts([c["args"] for c in t.slack.calls("views.update", w1.team_id)])
        ),
        WITHIN,
        "Ana refused",
    )
    t.say(w1, "forget-workspace", user="carol", wait=False)  # the owner: a modal
    view = wait_for(
        lambda: next(
            (v for v in t.slack.views("carol", team_id=w1.team_id)["views"] if "Type Sandbox" in texts(v)),
            None,
        ),
        WITHIN,
        "the confirmation",
    )
    assert "• 1 people connected to RingCentral" in texts(view) and "• 1 channel subscriptions" in texts(view)
    submitted = Payloads(t.slack, w1).view_submission(
        view, {"forget_confirm": {"forget_confirm_input": "Sandbox"}}, user="carol"
    )
    assert t.requests.send(t.requests.interactive(submitted)).status_code == 200
    wait_for(
        lambda: (
            "Forgot *Sandbox*"
            in texts([c["args"] for c in t.slack.calls("views.update", team_id=w1.team_id)])
        ),
        WITHIN,
        "the modal's last view",
    )

    after, schema = _everything(url)
    left = _mentioning(w1.team_id, after, schema)
    assert list(left) == ["audit_log"] and len(left["audit_log"]) == 1, left
    record = dict(zip(schema.tables["audit_log"].columns.keys(), left["audit_log"][0], strict=True))
    assert (record["action"], record["user_id"]) == ("forget_workspace", w1.users["carol"])
    kept = _mentioning(w2.team_id, after, schema)
    for table in ("rc_links", "subscriptions", "slack_installations", "slack_bots", "slack_threads"):
        assert len(kept.get(table, [])) == kept_before[table], table

    ana = Handler(t.rc, "Ana Alvarez")  # the second workspace is still served; the first gets nothing
    try:
        later = ana.add(SUPPORT_THREAD_2, "After the first workspace was forgotten")["id"]
        wait_for(lambda: later in posted(t.slack, w2.team_id), WITHIN, "the second workspace's copy")
    finally:
        ana.close()
    assert later not in posted(t.slack, w1.team_id)
