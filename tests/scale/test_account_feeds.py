"""Two replicas (notifiers, each with its own store connection and RingCentral clients, as two `serve`
processes have) on one PostgreSQL database split the feeds of two RingCentral accounts (issue 16): each holds
one account's lease (`notify:feed`, `notify:feed:<account>`, claimed with SKIP LOCKED, fair share), each
account's notes reach only its own workspace; when one replica stops, the other takes its account over and
both accounts keep delivering."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.metrics import Metrics
from bot.notify import Notifier
from bot.notify.workspaces import InstalledWorkspaces
from bot.service.clients import ClientFactory
from bot.store import Store, TenantAccount, TokenCipher
from bot.store.subscriptions import NewSubscription
from tests.kit.db import POSTGRES_ENV
from tests.kit.rc import RcAdmin, RcSandbox
from tests.kit.slack import SlackStandin, WorkspaceInfo
from tests.notify.helpers import Handler
from tests.scale.helpers import fresh_postgres, posted

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get(POSTGRES_ENV), reason=f"{POSTGRES_ENV} is not set"),
    pytest.mark.parametrize("sandbox_profile", ["default"], indirect=True),
]


@pytest.fixture
def rc_sandbox_accounts() -> int:
    return 2


@asynccontextmanager
async def replica(
    url: str, key: str, rc: RcSandbox, slack: SlackStandin, name: str
) -> AsyncIterator[Notifier]:
    """A notifier as `serve` runs it (`start`), on its own store and clients."""
    store = await Store.open(url, [key])
    clients = ClientFactory(rc.url, rc.client_id, rc.client_secret, jwt=rc.service_user.jwt, tenants=store)
    notifier = Notifier(
        store, clients.service, InstalledWorkspaces(store, slack.api_url), Metrics(), poll_interval=1,
        channel_interval=0, lease_ttl=timedelta(seconds=3), holder=name, service_for=clients.service_for,
    )  # fmt: skip
    notifier.start()
    try:
        yield notifier
    finally:
        await notifier.stop()
        await clients.aclose()
        await store.close()


async def setup(url: str, key: str, rc: RcSandbox, w: list[WorkspaceInfo]) -> None:
    """Both workspaces installed, the second linked to the second account, #handoffs of each subscribed to
    its account's Support queue."""
    store = await Store.open(url, [key])
    try:
        account2 = rc.accounts[1]
        await store.save_tenant_account(
            TenantAccount(
                team_id=w[1].team_id, account_id=account2.account_id, kind="jwt",
                credential=account2.service_user.jwt, extension_id=account2.service_user.extension_id,
            ),
            by="U0ADMIN",
        )  # fmt: skip
        for ws, account in zip(w, rc.accounts, strict=True):
            await store.save_slack_bot(None, ws.team_id, {"bot_token": ws.bot_token, "team_id": ws.team_id})
            await store.save_subscription(
                NewSubscription(
                    team_id=ws.team_id, channel_id=ws.channels["handoffs"], channel_name="handoffs",
                    channel_private=True, resource_id=account.resource("Support"), resource_name="Support",
                    filters={}, broadcast=False, deleted_mode="strike", created_by=ws.users["alice"],
                    start_at=datetime.now(UTC),
                )
            )  # fmt: skip
    finally:
        await store.close()


async def until(predicate: Callable[[], Any], seconds: float, what: str) -> Any:
    """Wait (up to `seconds`) until the awaited `predicate()` holds, the replicas running meanwhile."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = await predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        await asyncio.sleep(0.1)


def add_notes(rc: RcSandbox, admin: RcAdmin, text: str) -> list[str]:
    notes = []
    for i, account in enumerate(rc.accounts):
        support = account.resource("Support")
        threads = admin.state(account.account_id)["threads"]
        thread = next(
            t["id"] for t in threads if t["owner"]["extensionId"] == support and t["status"] == "Open"
        )
        ana = Handler(account, "Ana Alvarez")
        try:
            notes.append(str(ana.add(thread, f"{text} (account {i + 1})")["id"]))
        finally:
            ana.close()
    return notes


def test_two_replicas_split_two_accounts_feeds_and_one_takes_over_when_the_other_stops(
    rc_sandbox: RcSandbox, rc_admin: RcAdmin, slack_standin: SlackStandin
) -> None:
    w = [slack_standin.default, slack_standin.add_workspace("Second")]
    key = TokenCipher.generate_key()

    def delivered(notes: list[str]) -> bool:
        return all(n in posted(slack_standin, w[i].team_id) for i, n in enumerate(notes))

    def no_crossing(notes: list[str]) -> None:
        for i, note in enumerate(notes):
            assert len(posted(slack_standin, w[i].team_id)[note]) == 1, note
            assert note not in posted(slack_standin, w[1 - i].team_id), f"account {i + 1} crossed"

    async def run(url: str) -> None:
        await setup(url, key, rc_sandbox, w)
        probe = await Store.open(url, [key])
        async with replica(url, key, rc_sandbox, slack_standin, "replica-a") as a:
            async with replica(url, key, rc_sandbox, slack_standin, "replica-b") as b:

                async def split() -> bool:
                    holders = {lease.holder for lease in await probe.live_leases("notify:feed")}
                    return holders == {"replica-a", "replica-b"} and a.feeds.held != b.feeds.held

                await until(split, 20.0, "each replica holding one account's feed")
                assert len(a.feeds.held) == len(b.feeds.held) == 1
                await asyncio.sleep(1.5)  # the subscriptions started a moment ago
                first = await asyncio.to_thread(add_notes, rc_sandbox, rc_admin, "Before the stop")
                await until(lambda: asyncio.to_thread(delivered, first), 20.0, "both accounts' notes")
                no_crossing(first)
            # b stopped: its leases are given up and a takes its account over.
            await until(lambda: _holds_both(a), 20.0, "the survivor holding both feeds")
            second = await asyncio.to_thread(add_notes, rc_sandbox, rc_admin, "After the stop")
            await until(lambda: asyncio.to_thread(delivered, second), 20.0, "both accounts' notes again")
            no_crossing(first)
            no_crossing(second)
        await probe.close()

    with fresh_postgres() as url:
        asyncio.run(run(url))


async def _holds_both(notifier: Notifier) -> bool:
    return len(notifier.feeds.held) == 2
