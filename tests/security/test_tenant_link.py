"""Issue 16, items 1 and 2: a workspace admin links the workspace's own RingCentral account, and its people
connect only to that account.

Two emulated RingCentral accounts (Acme, the default; its copy "Acme Outdoor Gear 2") and two Slack workspaces
(the stand-in's default, "Second"), the bot serving both through Slack's OAuth, everything through public
surfaces: signed slash commands, button clicks and modal submissions, the emulator's sign-in page and the
bot's callback page, and the database read as an operator would. The first workspace keeps the deployment's
account (RINGCENTRAL_JWT, Acme); the second links Acme 2.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.demo import click_link
from bot.sandbox.slack.payloads import Payloads
from bot.service.clients import ClientFactory
from bot.service.tenants import account_key_for_team
from bot.store import Store, TenantAccount
from tests.kit.bot import texts, wait_for
from tests.kit.rc import RcAdmin, RcSandbox
from tests.kit.slack import SlackRequests, SlackStandin, WorkspaceInfo
from tests.scale.helpers import answers, colleague, command, install
from tests.scale.test_workspaces import oauth_server

JSON = dict[str, Any]
NOT_ADMIN = "Only a Slack workspace admin or owner can set up this workspace's RingCentral account"
OTHER_ACCOUNT = "belongs to another RingCentral account than the one your Slack workspace uses"


@pytest.fixture
def rc_sandbox_accounts() -> int:
    return 2


@dataclass
class Two:
    """The bot serving two workspaces; `w1` uses the deployment's account, `w2` may link its own."""

    url: str
    db: Path
    slack: SlackStandin
    rc: RcSandbox
    rc_admin: RcAdmin
    requests: SlackRequests
    w1: WorkspaceInfo
    w2: WorkspaceInfo

    def command(self, ws: WorkspaceInfo, text: str, user: str = "alice") -> str:
        """`/thread-note <text>`; the text of its first answer."""
        response, rid = command(self.requests, ws, text, user=user, channel="general")
        assert response.status_code == 200, response.text
        return str(wait_for(lambda: answers(self.slack, rid) != "[]" and answers(self.slack, rid), 15.0))

    def click(
        self, ws: WorkspaceInfo, action_id: str, *, user: str = "alice", value: str | None = None
    ) -> None:
        """A button of the bot's App Home, pressed by `user` of `ws`."""
        body = Payloads(self.slack, ws).block_action(action_id, value, user=user, view={"id": "VHOME"})
        self._as(ws, user, body)
        body["view"]["type"] = "home"
        response = self.requests.send(self.requests.interactive(body))
        assert response.status_code == 200, response.text

    def modal(self, ws: WorkspaceInfo, user: str = "alice", callback_id: str | None = None) -> JSON:
        """The modal on top of `user`'s stack once it is no longer "working on it" (and has `callback_id`)."""
        uid = ws.users[user]

        def top() -> JSON | None:
            state = self.slack.views(uid, team_id=ws.team_id)
            stack = state["modal_stacks"].get(uid) or []
            view = next((v for v in state["views"] if stack and v["id"] == stack[-1]), None)
            if view is None or ":hourglass_flowing_sand:" in texts(view):
                return None
            return view if callback_id is None or view.get("callback_id") == callback_id else None

        return dict(wait_for(top, 10.0, f"a modal for {user}"))

    def jwt_modal(self, ws: WorkspaceInfo, user: str = "alice") -> JSON:
        """The modal "Paste a JWT" opens."""
        self.click(ws, "tenant_jwt_open", user=user)
        return self.modal(ws, user, "tenant_jwt")

    def submit_jwt(self, ws: WorkspaceInfo, jwt: str, user: str = "alice", view: JSON | None = None) -> JSON:
        """Paste `jwt` into the modal "Paste a JWT" opens (or `view`); the acknowledgement Slack gets."""
        view = view or self.jwt_modal(ws, user)
        body = Payloads(self.slack, ws).view_submission(
            view, {"tenant_jwt": {"tenant_jwt_input": jwt}}, user=user
        )
        self._as(ws, user, body)
        response = self.requests.send(self.requests.interactive(body))
        assert response.status_code == 200, response.text
        return dict(response.json()) if response.content else {}

    def home(self, ws: WorkspaceInfo, user: str, shows: str) -> str:
        """`user` opens App Home; its text once the bot has published one that shows `shows`."""
        uid = ws.users[user]
        event = Payloads(self.slack, ws).app_home_opened(user)
        event["event"]["user"] = uid
        self.requests.send(self.requests.json_body(event))

        def published() -> str | None:
            view = self.slack.home_view(uid, team_id=ws.team_id)
            return texts(view) if view is not None and shows in texts(view) else None

        return str(wait_for(published, 10.0, f"{user}'s Home tab showing {shows!r}"))

    def _as(self, ws: WorkspaceInfo, user: str, body: JSON) -> None:
        body["user"]["id"] = ws.users[user]
        body["trigger_id"] = self.slack.trigger(user, team_id=ws.team_id)

    def sign_in(self, ws: WorkspaceInfo, rc_user: Any, user: str = "alice") -> httpx.Response:
        """App Home's "Sign in with RingCentral", then the emulator signs `rc_user` in: the callback page."""
        self.click(ws, "tenant_sign_in", user=user)
        link = next(
            e["url"]
            for b in self.modal(ws, user)["blocks"]
            for e in [b.get("accessory") or {}]
            if e.get("action_id") == "tenant_sign_in_link"
        )
        return httpx.get(f"{link}&sandbox_user={rc_user.extension_id}", follow_redirects=True, timeout=10)

    def connect(self, ws: WorkspaceInfo, user: str, rc_user: Any) -> httpx.Response:
        """A person's `/thread-note connect`, signed in as `rc_user`: the last page (Link pressed)."""
        said = self.command(ws, "connect", user=user)
        found = re.search(r"https?://[^\"\s']*oauth/authorize\?[^\"\s'\]]*", said)
        assert found is not None, said
        url = found[0]
        page = httpx.get(f"{url}&sandbox_user={rc_user.extension_id}", follow_redirects=True, timeout=10)
        return click_link(page)

    def handles_nothing(self, name: str) -> Any:
        """A user of the second account whom an admin took off every SMS recipient list (Admin Portal)."""
        acme2 = self.rc.accounts[1]
        user = acme2.user(name)
        for resource in ("Support", "Sales", "Main Office"):
            self.rc_admin.sms_recipients(acme2.resource(resource), removed=[user.extension_id])
        return user

    def dms(self, ws: WorkspaceInfo, user: str) -> list[JSON]:
        uid = ws.users[user]
        calls = self.slack.calls("chat.postMessage", team_id=ws.team_id)
        return [c for c in calls if c["args"].get("channel") == uid]

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db) as conn:
            return list(conn.execute(sql))


@pytest.fixture
def two(
    rc_sandbox: RcSandbox, rc_admin: RcAdmin, slack_standin: SlackStandin, tmp_path: Path
) -> Iterator[Two]:
    w1, w2 = slack_standin.default, slack_standin.add_workspace("Second")
    db = tmp_path / "bot.db"
    with oauth_server(rc_sandbox, slack_standin, db, [w1, w2]) as url:
        requests = SlackRequests(slack_standin, app_url=url, signing_secret=slack_standin.signing_secret)
        for ws in (w1, w2):
            assert install(url, ws).status_code == 200
        yield Two(url, db, slack_standin, rc_sandbox, rc_admin, requests, w1, w2)


def test_an_admin_links_a_jwt_checked_at_once_and_each_refusal_is_one_sentence_beside_the_field(
    two: Two,
) -> None:
    acme2 = two.rc.accounts[1]
    card = two.command(two.w2, "setup")
    assert "uses the RingCentral account this app was set up with" in card and "Paste a JWT" in card

    refused = two.submit_jwt(two.w2, "hello")
    assert refused["response_action"] == "errors"
    assert "This is not a JWT credential" in refused["errors"]["tenant_jwt"]
    refused = two.submit_jwt(two.w2, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl")
    assert "RingCentral refused this JWT" in refused["errors"]["tenant_jwt"]
    eli = two.handles_nothing("Eli Navarro")
    refused = two.submit_jwt(two.w2, eli.jwt)
    assert (
        "Eli Navarro (ext. 105) is no SMS recipient of any call queue or site"
        in refused["errors"]["tenant_jwt"]
    )
    assert two.rows("SELECT * FROM tenant_accounts") == []

    linked = two.submit_jwt(two.w2, acme2.service_user.jwt)
    assert linked["response_action"] == "update"
    said = texts(linked["view"])
    assert f"now uses RingCentral account {acme2.account_id}" in said and "Support" in said
    rows = two.rows("SELECT team_id, account_id, kind, credential, extension_id FROM tenant_accounts")
    assert [r[:3] for r in rows] == [(two.w2.team_id, acme2.account_id, "jwt")]
    assert rows[0][4] == acme2.service_user.extension_id
    assert acme2.service_user.jwt not in str(two.rows("SELECT * FROM tenant_accounts")), "encrypted"
    assert "Remove" in two.home(two.w2, "alice", acme2.account_id)
    assert "Paste a JWT" not in two.home(two.w2, "bob", "Thread notes"), "no card for a non-admin"
    assert "this app was set up with" in two.home(two.w1, "alice", "RingCentral account"), "W1 unchanged"
    audit = two.rows("SELECT team_id, user_id, action FROM audit_log WHERE action = 'link_account'")
    assert audit == [(two.w2.team_id, two.w2.users["alice"], "link_account")]


def test_only_an_admin_may_set_up_and_anyone_else_is_told_who_can(two: Two) -> None:
    assert NOT_ADMIN in two.command(two.w2, "setup", user="bob")
    two.click(two.w2, "tenant_jwt_open", user="bob")
    assert NOT_ADMIN in texts(two.modal(two.w2, "bob"))
    form = two.jwt_modal(two.w2, "alice")  # the admin's modal, submitted by someone else
    refused = two.submit_jwt(two.w2, two.rc.accounts[1].service_user.jwt, user="bob", view=form)
    assert refused["response_action"] == "errors" and NOT_ADMIN in refused["errors"]["tenant_jwt"]
    two.click(two.w2, "tenant_remove", user="bob")
    assert two.rows("SELECT * FROM tenant_accounts") == []
    assert "Paste a JWT" not in two.home(two.w2, "bob", "Thread notes")


def test_an_admin_links_by_signing_in_as_the_service_user_replaces_and_removes(two: Two) -> None:
    acme, acme2 = two.rc.accounts
    assert two.submit_jwt(two.w2, acme.service_user.jwt)["response_action"] == "update"

    page = two.sign_in(two.w2, acme2.service_user)
    assert page.status_code == 200, page.text
    assert "RingCentral account linked" in page.text and "Second" in page.text
    assert f"now uses RingCentral account {acme2.account_id}" in page.text
    rows = two.rows("SELECT account_id, kind, version FROM tenant_accounts")
    assert rows == [(acme2.account_id, "oauth", 2)], "replaced"
    dm = wait_for(lambda: two.dms(two.w2, "alice"), 10.0, "the admin told")
    assert acme2.account_id in texts(dm[-1]["args"])

    refused = two.sign_in(two.w2, two.handles_nothing("Eli Navarro"))
    assert refused.status_code == 400 and "is no SMS recipient" in refused.text
    assert two.rows("SELECT account_id, kind FROM tenant_accounts") == [(acme2.account_id, "oauth")]

    def pushing() -> list[JSON]:
        """The second account's webhook subscriptions at RingCentral that would still push to us."""
        subs = two.rc_admin.state(acme2.account_id)["subscriptions"]
        return [s for s in subs if s.get("status") == "Active"]

    wait_for(pushing, 20.0, "the linked account's webhook subscription")
    two.click(two.w2, "tenant_remove", value=acme2.account_id)
    wait_for(lambda: two.rows("SELECT * FROM tenant_accounts") == [], 10.0, "the link removed")
    # RingCentral stops pushing the removed account's changes at once, not when the subscription expires
    assert not pushing(), "the removed account's webhook subscription was deleted with the link"
    time.sleep(2.0)  # the replica that held its feed re-creates nothing
    assert not pushing()
    # the card offers linking again (waited for: a Home published while Slack could not say who is an admin
    # shows no admin card, and the next one does)
    assert "this app was set up with" in two.home(two.w2, "alice", "Paste a JWT")
    actions = [a for (a,) in two.rows("SELECT action FROM audit_log ORDER BY id")]
    assert actions[-1] == "unlink_account" and actions.count("link_account") == 2


def test_people_connect_only_to_their_own_workspaces_account_in_either_direction(two: Two) -> None:
    acme, acme2 = two.rc.accounts
    assert two.submit_jwt(two.w2, acme2.service_user.jwt)["response_action"] == "update"
    colleague(two.slack, two.w1, "ana", "ana@acme.example")
    colleague(two.slack, two.w2, "ana2", "ana@a2.acme.example")

    for ws, user, stranger in ((two.w1, "ana", acme2.user("Ana")), (two.w2, "ana2", acme.user("Ana"))):
        page = two.connect(ws, user, stranger)
        assert page.status_code == 400 and OTHER_ACCOUNT in page.text, page.text
    assert two.rows("SELECT * FROM rc_links") == [] and two.rows("SELECT * FROM pending_links") == []

    for ws, user, own in ((two.w1, "ana", acme.user("Ana")), (two.w2, "ana2", acme2.user("Ana"))):
        page = two.connect(ws, user, own)
        assert page.status_code == 200 and "You are connected" in page.text, page.text
    assert sorted(two.rows("SELECT team_id, extension_id FROM rc_links")) == sorted(
        [(two.w1.team_id, acme.user("Ana").extension_id), (two.w2.team_id, acme2.user("Ana").extension_id)]
    )


async def test_service_for_reads_each_workspaces_own_account_and_writes_refreshed_tokens_back(
    rc_sandbox: RcSandbox, rc_admin: RcAdmin, store: Store
) -> None:
    acme, acme2 = rc_sandbox.accounts
    clients = ClientFactory(
        rc_sandbox.url,
        rc_sandbox.client_id,
        rc_sandbox.client_secret,
        jwt=acme.service_user.jwt,
        tenants=store,
    )
    try:
        session = await clients.oauth.jwt_grant(acme2.service_user.jwt)  # a session of Acme 2's service user
        linked = TenantAccount("T2", acme2.account_id, "oauth", session.model_dump_json(), "262001099")
        await store.save_tenant_account(linked, by="U1")
        account = await store.tenant_account("T2")
        assert account is not None
        assert await account_key_for_team(store, "T2") == acme2.account_id
        assert await account_key_for_team(store, "T1") == ""

        own = clients.service_for(account)
        assert clients.service_for(account) is own, "one client per account"
        assert (await own.get_extension()).account_id == acme2.account_id
        assert (await clients.service_for(None).get_extension()).account_id == acme.account_id

        rc_admin.advance(3600)  # the emulator's access tokens expire: the client refreshes, and keeps it
        assert (await own.get_extension()).account_id == acme2.account_id
        refreshed = await store.tenant_account("T2")
        assert refreshed is not None and refreshed.version == 2
        assert refreshed.credential != account.credential
        assert clients.service_for(refreshed) is own, "its own refresh does not rebuild the client"
    finally:
        await clients.aclose()
