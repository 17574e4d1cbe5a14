"""Two emulated RingCentral accounts and two Slack workspaces served by one bot (issue 16).

`two_tenants` starts the bot in many-workspace mode, installed in both workspaces through Slack's OAuth; the
first workspace reads the deployment's account (RINGCENTRAL_JWT, `rc.accounts[0]`), the second links
`rc.accounts[1]`. In each, Alice (an admin) subscribes #handoffs to that account's Support queue. A test
module using it serves two accounts: it overrides `rc_sandbox_accounts` to return 2."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from bot.sandbox.slack.payloads import Payloads
from bot.servers import BackgroundServer
from bot.store import Store, TenantAccount
from bot.web import create_web_app
from tests.kit.bot import make_settings, texts, wait_for
from tests.kit.rc import RcAdmin, RcSandbox
from tests.kit.slack import SlackRequests, SlackStandin, WorkspaceInfo
from tests.notify.helpers import Handler
from tests.scale.helpers import answers, command, install

SYNC = "GET /restapi/v1.0/account/{accountId}/message-threads/entries/sync"


@dataclass
class Tenants:
    """The running bot, the two accounts and their workspaces (`w[i]` reads `rc.accounts[i]`)."""

    url: str
    rc: RcSandbox
    admin: RcAdmin
    slack: SlackStandin
    w: list[WorkspaceInfo]
    database_url: str
    key: str

    def accounts(self) -> list[RcSandbox]:
        return self.rc.accounts

    def open_thread(self, i: int) -> str:
        """An open thread of account i's Support queue."""
        account = self.accounts()[i]
        support = account.resource("Support")
        threads = self.admin.state(account.account_id)["threads"]
        return str(
            next(t["id"] for t in threads if t["owner"]["extensionId"] == support and t["status"] == "Open")
        )

    def syncs(self, i: int) -> int:
        """The entries/sync requests account i's service identity made since the last reset."""
        service = self.accounts()[i].service_user.extension_id
        return int(self.admin.requests()["byRouteAndUser"].get(SYNC, {}).get(service, 0))

    def notices(self, ws: WorkspaceInfo) -> str:
        """What the bot told Alice of `ws` directly (a subscription creator)."""
        uid = ws.users["alice"]
        return texts([c["args"] for c in self.slack.calls("chat.postMessage", team_id=ws.team_id)
                      if c["args"].get("channel") == uid])  # fmt: skip


async def link(database_url: str, key: str, team_id: str, account: RcSandbox, credential: str) -> None:
    """What linking the workspace to its own account stores (`tenant_accounts`), as an admin's link does."""
    store = await Store.open(database_url, [key])
    try:
        await store.save_tenant_account(
            TenantAccount(
                team_id=team_id,
                account_id=account.account_id,
                kind="jwt",
                credential=credential,
                extension_id=account.service_user.extension_id,
                account_name=str(account.credentials.get("accountName") or ""),
            ),
            by="U0ADMIN",
        )
    finally:
        await store.close()


@contextmanager
def two_tenants(
    rc: RcSandbox, admin: RcAdmin, slack: SlackStandin, tmp_path: Path, **env: str
) -> Iterator[Tenants]:
    """The bot serving both workspaces. The second subscribes #handoffs to Support while it still reads the
    deployment's account (the first account's queue), then links the second account and subscribes #handoffs
    to that account's Support: from then on the first account's notes must not reach it, that older
    subscription notwithstanding."""
    w1, w2 = slack.default, slack.add_workspace("Second")
    key, database_url = Fernet.generate_key().decode(), f"sqlite:///{tmp_path / 'bot.db'}"
    app = httpx.get(f"{slack.url}/sandbox/slack/app", timeout=5).json()
    server = BackgroundServer()
    settings = make_settings(
        slack=slack, rc=rc, database_url=database_url, public_url=server.url,
        SLACK_CLIENT_ID=app["client_id"], SLACK_CLIENT_SECRET=app["client_secret"], SLACK_BOT_TOKEN="",
        SLACK_ALLOWED_TEAMS=f"{w1.team_id},{w2.team_id}", THREAD_NOTE_ADMIN_SUBSCRIBE="true",
        THREAD_NOTE_SECRET_KEY=key, THREAD_NOTE_LEASE_TTL="4", **env,
    )  # fmt: skip
    server.app = create_web_app(settings)
    server.start(timeout=30)
    try:
        requests = SlackRequests(slack, app_url=server.url, signing_secret=slack.signing_secret)
        for ws in (w1, w2):
            assert install(server.url, ws).status_code == 200
            subscribe(requests, slack, ws)
        account2 = rc.accounts[1]
        asyncio.run(link(database_url, key, w2.team_id, account2, account2.service_user.jwt))
        time.sleep(1.5)  # the workspace's account as the bot reads it: at most a second old
        subscribe(requests, slack, w2)
        yield Tenants(server.url, rc, admin, slack, [w1, w2], database_url, key)
    finally:
        server.stop()


def subscribe(requests: SlackRequests, slack: SlackStandin, ws: WorkspaceInfo) -> None:
    """Alice (an admin) subscribes #handoffs to Support, of the account her workspace reads."""
    _, rid = command(requests, ws, "subscribe Support", user="alice", channel="handoffs")
    wait_for(lambda: "now receives" in answers(slack, rid), 15.0, f"subscribe in {ws.team}")


def add_notes(t: Tenants, text: str) -> list[str]:
    """A note in an open Support thread of each account, by that account's Ana."""
    notes = []
    for i, account in enumerate(t.accounts()):
        ana = Handler(account, "Ana Alvarez")
        try:
            notes.append(str(ana.add(t.open_thread(i), f"{text} (account {i + 1})")["id"]))
        finally:
            ana.close()
    return notes


def home_view(t: Tenants, ws: WorkspaceInfo, shows: str, user: str = "alice") -> dict[str, Any]:
    """`user` of `ws` opens App Home: the view the bot published once it shows `shows`."""
    requests = SlackRequests(t.slack, app_url=t.url, signing_secret=t.slack.signing_secret)
    uid = ws.users[user]

    def published() -> dict[str, Any] | None:
        event = Payloads(t.slack, ws).app_home_opened(user)
        event["event"]["user"] = uid
        requests.send(requests.json_body(event))
        time.sleep(0.5)
        view = t.slack.home_view(uid, team_id=ws.team_id)
        return dict(view) if view is not None and shows in texts(view) else None

    return dict(wait_for(published, 15.0, f"{user}'s Home in {ws.team} showing {shows!r}"))


def home(t: Tenants, ws: WorkspaceInfo, shows: str) -> str:
    """Alice (an admin) opens App Home in `ws`: its text once the bot published one that shows `shows`."""
    return texts(home_view(t, ws, shows))
