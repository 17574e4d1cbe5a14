"""Issue 16, "Must show": two emulated RingCentral accounts, two Slack workspaces, and no crossing in either
direction through any surface a person uses.

The bot serves both workspaces (`two_tenants`, tests/notify/accounts_kit.py): the first reads the deployment's
account (`rc.accounts[0]`), the second linked `rc.accounts[1]`. Ana Alvarez exists in both accounts (the
second is a copy of the first under ids of its own); in each workspace a Slack user with her email of that
account connects to it. Everything goes through signed requests into the bot and real HTTP to the
emulators; what RingCentral holds is read from the emulator's state.

For each direction (the first workspace against the second account, the second against the first):

- `/thread-note list | add | edit | delete` naming the other account's thread or note is answered "not
  found", and nothing is written at either account;
- "Save as thread note" offers only its own account's conversations, and a submission naming the other
  account's thread is refused beside the field and saves nothing;
- the other workspace's notification buttons (Take over, Add note), pressed in a payload signed as this
  workspace, act on nothing; a button of this workspace's own notification carrying the other account's
  thread id acts on nothing either;
- App Home names this workspace's account and conversations only.

Each test checks the same action on the person's own account too, so that a refusal for any other reason
(not connected, a broken command) cannot pass for isolation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.slack.payloads import Payloads
from tests.kit.bot import texts, wait_for
from tests.kit.rc import RcAdmin, RcSandbox
from tests.kit.slack import SlackRequests, SlackStandin, WorkspaceInfo
from tests.notify.accounts_kit import Tenants, add_notes, home_view, two_tenants
from tests.notify.helpers import Handler
from tests.scale.helpers import colleague, command, connect, posted
from tests.security.test_tenant_isolation import FOREIGN, _button, _parent
from tests.security.test_tenant_link import Two
from tests.slack_app.test_shortcut_and_home import _values

pytestmark = pytest.mark.parametrize("sandbox_profile", ["default"], indirect=True)

JSON = dict[str, Any]
WITHIN = 30.0  # seconds to wait for the bot: generous, the machine may be loaded
# Ana Alvarez of account i is the Slack user PEOPLE[i] of workspace i, with her email of that account.
PEOPLE = ("ana", "ana2")
EMAILS = ("ana@acme.example", "ana@a2.acme.example")
NO_THREAD = "No open conversation matches"
NO_NOTE = "No note with the id"


@pytest.fixture
def rc_sandbox_accounts() -> int:
    return 2


@dataclass
class Pair:
    """`two_tenants`, with Ana of account i connected in workspace i."""

    t: Tenants
    requests: SlackRequests

    @property
    def slack(self) -> SlackStandin:
        return self.t.slack

    def ws(self, i: int) -> WorkspaceInfo:
        return self.t.w[i]

    def account(self, i: int) -> RcSandbox:
        return self.t.accounts()[i]

    def say(self, i: int, text: str) -> str:
        """`/thread-note <text>` from Ana in workspace i's #general: what the bot answered, as text."""
        response, rid = command(self.requests, self.ws(i), text, user=PEOPLE[i], channel="general")
        assert response.status_code == 200, response.text

        def told() -> str | None:
            bodies = [r["body"] for r in self.slack.responses() if r["id"] == rid]
            return texts(bodies) if bodies else None

        return str(wait_for(told, WITHIN, f"the answer to {text!r} in workspace {i + 1}"))

    def rc(self, i: int) -> JSON:
        """What account i holds now: its threads and notes, as the emulator stores them."""
        state = self.t.admin.state(self.account(i).account_id)
        return {"threads": state["threads"], "notes": state["notes"]}

    def thread_ids(self, i: int) -> set[str]:
        return {str(x["id"]) for x in self.rc(i)["threads"]}

    def unassigned(self, i: int) -> JSON:
        """Account i's open Support thread that nobody has taken over."""
        support = self.account(i).resource("Support")
        return next(
            x
            for x in self.rc(i)["threads"]
            if x["owner"]["extensionId"] == support and x["status"] == "Open" and not x.get("assignee")
        )

    def note_texts(self, i: int) -> list[str]:
        return [str(n.get("text")) for n in self.rc(i)["notes"]]

    def signed_as(self, i: int, body: JSON, channel: str | None = None) -> JSON:
        """`body` as Slack sends it for Ana of workspace i: her id, a fresh trigger and, from her workspace's
        `channel`, its id and a response_url there. (The payload builders ask the stand-in about the default
        workspace's people and channels: they build for Alice in #general, then this makes it Ana's.)"""
        ws, name = self.ws(i), PEOPLE[i]
        body["user"] = {"id": ws.users[name], "username": name, "name": name, "team_id": ws.team_id}
        body["trigger_id"] = self.slack.trigger(name, team_id=ws.team_id)
        if channel is not None:
            cid = ws.channels[channel]
            body["channel"] = {"id": cid, "name": channel}
            body["response_url"] = self.slack.response_url(channel=cid, user=name, team_id=ws.team_id)
        return body

    def modal(self, i: int, *shows: str) -> JSON:
        """The "Save as thread note" form on top of Ana's stack in workspace i, once it shows `shows`."""
        ws, uid = self.ws(i), self.ws(i).users[PEOPLE[i]]

        def top() -> JSON | None:
            state = self.slack.views(uid, team_id=ws.team_id)
            stack = state["modal_stacks"].get(uid) or []
            view = next((v for v in state["views"] if stack and v["id"] == stack[-1]), None)
            if view is None or view.get("callback_id") != "save_note":
                return None
            return dict(view) if all(s in texts(view) for s in shows) else None

        return dict(wait_for(top, WITHIN, f"Ana's form in workspace {i + 1} showing {shows}"))

    def press(self, i: int, button: JSON, channel_id: str, message: JSON) -> None:
        """Ana of workspace i presses `button` of `message` in `channel_id`, in a payload signed as her
        workspace (Slack would send one like it from a channel both see; else it is forged)."""
        ws = self.ws(i)
        body = self.signed_as(
            i, Payloads(self.slack, ws).block_action(button["action_id"], button.get("value"))
        )
        body["channel"] = {"id": channel_id, "name": "handoffs"}
        body["message"] = message
        body["container"] = {"type": "message", "message_ts": message["ts"], "channel_id": channel_id}
        body["response_url"] = self.slack.response_url(channel="general", user=PEOPLE[i], team_id=ws.team_id)
        response = self.requests.send(self.requests.interactive(body))
        assert response.status_code == 200, response.text

    def told_since(self, since: int) -> str:
        return texts([r["body"] for r in self.slack.responses()[since:]])


@pytest.fixture
def pair(
    rc_sandbox: RcSandbox, rc_admin: RcAdmin, slack_standin: SlackStandin, tmp_path: Path
) -> Iterator[Pair]:
    with two_tenants(rc_sandbox, rc_admin, slack_standin, tmp_path) as t:
        requests = SlackRequests(t.slack, app_url=t.url, signing_secret=t.slack.signing_secret)
        for i, ws in enumerate(t.w):
            colleague(t.slack, ws, PEOPLE[i], EMAILS[i])
            connect(requests, ws, PEOPLE[i], t.accounts()[i].user("Ana Alvarez").extension_id)
        yield Pair(t, requests)


def test_commands_reach_only_the_workspaces_own_account_in_either_direction(pair: Pair) -> None:
    p = pair
    seeded = add_notes(p.t, "Seeded")  # one note by Ana in an open Support thread of each account
    for i in (0, 1):
        other = 1 - i
        own_thread, their_thread = p.t.open_thread(i), p.t.open_thread(other)
        their_text = f"Seeded (account {other + 1})"
        before = [p.rc(0), p.rc(1)]

        # Own account first: listing, editing and the delete confirmation work for this person.
        listed = p.say(i, f"list {own_thread}")
        assert f"Seeded (account {i + 1})" in listed and their_text not in listed, listed
        edited = p.say(i, f"edit {seeded[i]} Edited in workspace {i + 1}")
        assert NO_NOTE not in edited and f"Edited in workspace {i + 1}" in p.note_texts(i), edited
        assert "Delete" in p.say(i, f"delete {seeded[i]}")

        # The other account's thread and note are not found, whatever the command.
        listed = p.say(i, f"list {their_thread}")
        assert NO_THREAD in listed and their_text not in listed, listed
        said = p.say(i, f"add {their_thread} Crossing from workspace {i + 1}")
        assert NO_THREAD in said and "saved" not in said.lower(), said
        assert NO_NOTE in p.say(i, f"edit {seeded[other]} Crossed by workspace {i + 1}")
        deleting = p.say(i, f"delete {seeded[other]}")
        assert NO_NOTE in deleting and their_text not in deleting, deleting

        # Nothing was written at the other account; this account holds only its own edit.
        assert p.rc(other) == before[other]
        assert not [n for n in p.note_texts(i) if "Crossing" in n or "Crossed" in n]

        # The same `add` on the own thread saves (the refusal above was no broken command).
        p.say(i, f"add {own_thread} Own note from workspace {i + 1}")
        assert f"Own note from workspace {i + 1}" in p.note_texts(i)
        assert f"Own note from workspace {i + 1}" not in p.note_texts(other)


def test_save_as_thread_note_offers_and_saves_only_the_workspaces_own_conversations(pair: Pair) -> None:
    p = pair
    for i in (0, 1):
        other, ws = 1 - i, p.ws(i)
        uid, general = ws.users[PEOPLE[i]], ws.channels["general"]
        message = p.slack.post_as(uid, general, f"Customer {i + 1} asks for a callback", team_id=ws.team_id)
        shortcut = Payloads(p.slack, ws).message_shortcut(message, callback_id="save_as_thread_note")
        assert p.requests.send(p.requests.interactive(p.signed_as(i, shortcut, "general"))).status_code == 200
        view = p.modal(i, "#general")  # the form, prefilled once the bot knows the person is connected

        # The picker offers this account's open conversations only, also for a number both accounts'
        # customers share (a guest keeps their number across companies).
        for query in ("", "212 555"):
            asked = Payloads(p.slack, ws).block_suggestion(
                "thread_select", query, block_id="thread", view=view
            )
            offered = p.requests.send(p.requests.interactive(p.signed_as(i, asked)))
            values = {str(o["value"]) for o in offered.json()["options"]}
            assert p.unassigned(i)["id"] in values, (query, values)
            assert values <= p.thread_ids(i) and not values & p.thread_ids(other), (query, values)

        # The other account's thread, picked (a forged option) or typed, is refused beside the field.
        before = p.rc(other)
        theirs = p.t.open_thread(other)
        tries: list[tuple[str | None, str | None]] = [(theirs, None), (None, theirs)]
        for picked, typed in tries:
            text = f"Crossing by {'picker' if picked else 'typing'} from workspace {i + 1}"
            body = Payloads(p.slack, ws).view_submission(view, _values(view, picked, text, thread_ref=typed))
            answer = p.requests.send(p.requests.interactive(p.signed_as(i, body)))
            assert answer.json()["response_action"] == "update", answer.text  # "Saving…"
            view = p.modal(i, NO_THREAD, text)  # the form again, the text kept, the reason beside it
            assert not [n for n in p.note_texts(i) + p.note_texts(other) if text in n]
        assert p.rc(other) == before

        # The own thread, from the same form: saved in this account.
        own = p.t.open_thread(i)
        body = Payloads(p.slack, ws).view_submission(
            view, _values(view, own, f"Saved from workspace {i + 1}")
        )
        assert p.requests.send(p.requests.interactive(p.signed_as(i, body))).status_code == 200
        saved = f"Saved from workspace {i + 1}"
        wait_for(lambda: saved in p.note_texts(i), WITHIN, "the own note")  # noqa: B023 - waited for here
        assert p.rc(other) == before


def test_notification_buttons_act_only_on_the_pressers_own_account(pair: Pair) -> None:
    p = pair
    threads = [str(p.unassigned(i)["id"]) for i in (0, 1)]
    for i, account in enumerate(p.t.accounts()):
        handler = Handler(account, "Ana Alvarez")
        try:
            note = str(handler.add(threads[i], f"Handoff (account {i + 1})")["id"])
        finally:
            handler.close()
        team = p.ws(i).team_id
        wait_for(lambda: note in posted(p.slack, team), WITHIN, f"note {i + 1}")  # noqa: B023 - waited for here
    parents: list[JSON] = [wait_for(partial(_parent, p.slack, ws), WITHIN, "the parent") for ws in p.t.w]
    before = [p.rc(0), p.rc(1)]
    for i in (0, 1):
        presser, theirs, ours = 1 - i, parents[i], parents[1 - i]
        their_channel, our_channel = p.ws(i).channels["handoffs"], p.ws(presser).channels["handoffs"]
        # The other workspace's notification, pressed in a payload of the presser's workspace.
        refused(p, presser, _button(theirs, "notify_take_over"), their_channel, theirs, FOREIGN)
        refused(p, presser, _button(theirs, "add_note_open"), their_channel, theirs, FOREIGN)
        # The presser's own notification, its buttons carrying the other account's thread id.
        for action in ("notify_take_over", "add_note_open"):
            refused(p, presser, {"action_id": action, "value": threads[i]}, our_channel, ours, NO_THREAD)
        assert [p.rc(0), p.rc(1)] == before, "nothing changed at either account"

    # Each workspace's own button does take over its own account's conversation.
    for i in (0, 1):
        p.press(i, _button(parents[i], "notify_take_over"), p.ws(i).channels["handoffs"], parents[i])
        ana = p.account(i).user("Ana Alvarez").extension_id
        taken = lambda i=i, ana=ana: assignee(p, i, threads[i]) == ana  # noqa: E731 - one line to wait on
        wait_for(taken, WITHIN, f"Ana's take-over in account {i + 1}")
    assert p.rc(0)["notes"] == before[0]["notes"] and p.rc(1)["notes"] == before[1]["notes"]


def refused(p: Pair, presser: int, button: JSON, channel_id: str, message: JSON, sentence: str) -> None:
    """Ana of workspace `presser` presses `button`; the bot answers her with `sentence`: through the
    response_url (Take over), or in the modal the button opened (Add note)."""
    ws = p.ws(presser)
    answered, updated = len(p.slack.responses()), len(p.slack.calls("views.update", team_id=ws.team_id))
    p.press(presser, button, channel_id, message)

    def told() -> bool:
        modals = p.slack.calls("views.update", team_id=ws.team_id)[updated:]
        return sentence in p.told_since(answered) + texts([c["args"] for c in modals])

    wait_for(told, WITHIN, f"{button['action_id']} refused with {sentence!r}")


def assignee(p: Pair, i: int, thread_id: str) -> str | None:
    found = next(x for x in p.rc(i)["threads"] if x["id"] == thread_id)
    return (found.get("assignee") or {}).get("extensionId")


def names(blob: str, token: str) -> bool:
    """Whether `token` (an id or a name) stands in `blob` on its own: "62001001" not inside "262001001",
    "Acme Outdoor Gear" not as the start of "Acme Outdoor Gear 2"."""
    return re.search(rf"(?<![\w]){re.escape(token)}(?![\w]| \d)", blob) is not None


def test_app_home_shows_each_workspace_its_own_account_only(pair: Pair) -> None:
    p = pair
    add_notes(p.t, "Latest")  # each account's open Support thread's latest note, on its handlers' Home
    for i in (0, 1):
        other, ws = 1 - i, p.ws(i)
        card = home_view(p.t, ws, "RingCentral account")  # Alice, an admin: the account card
        conversations = home_view(p.t, ws, f"Latest (account {i + 1})", user=PEOPLE[i])
        shown = json.dumps([card, conversations])
        own, theirs = p.account(i), p.account(other)
        if i == 0:
            assert "the RingCentral account this app was set up with" in texts(card)
        else:
            assert names(texts(card), own.account_id), texts(card)
        for token in (
            theirs.account_id,
            str(theirs.credentials["accountName"]),
            theirs.service_user.extension_id,
            theirs.user("Ana Alvarez").extension_id,
            f"Latest (account {other + 1})",
        ):
            assert not names(shown, token), (i, token)
        assert p.t.open_thread(i) in shown  # an "Add note" button of the own conversation
        assert not p.thread_ids(other) & set(re.findall(r"[0-9a-f-]{36}", shown)), "no thread of the other"


def test_people_connected_before_their_workspace_changed_account_no_longer_reach_the_old_one(
    pair: Pair,
) -> None:
    """Ana of each account is connected in her workspace. Then the first workspace's admin links the second
    account (Paste a JWT, App Home), and the second's removes its link (back to the deployment's, the
    first account). Each Ana's connection was to the account her workspace no longer uses: she is told to
    connect again, and nothing she does there reaches that account."""
    p = pair
    t = p.t
    admin = Two(
        t.url, Path(t.database_url.removeprefix("sqlite:///")), t.slack, t.rc, t.admin, p.requests, *t.w
    )
    for i in (0, 1):  # before: each reaches her own account's conversation
        listed = p.say(i, f"list {t.open_thread(i)}")
        assert NO_THREAD not in listed and "connect" not in listed.lower(), listed

    account2 = t.accounts()[1]
    assert admin.submit_jwt(t.w[0], account2.service_user.jwt)["response_action"] == "update"
    admin.click(t.w[1], "tenant_remove", value=account2.account_id)
    wait_for(
        lambda: admin.rows("SELECT team_id FROM tenant_accounts") == [(t.w[0].team_id,)], WITHIN, "moved"
    )

    for i in (0, 1):
        before = p.rc(i)
        said = p.say(i, f"add {t.open_thread(i)} After the switch, from workspace {i + 1}")
        assert "connect" in said.lower() and "saved" not in said.lower(), said
        listed = p.say(i, f"list {t.open_thread(i)}")
        assert "connect" in listed.lower() and f"(account {i + 1})" not in listed, listed
        assert p.rc(i) == before, f"account {i + 1} untouched by a workspace that no longer uses it"
