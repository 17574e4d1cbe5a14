"""A feed per RingCentral account (issue 16), end to end: the emulator serves two accounts, the Slack stand-in
two workspaces, and the bot (many-workspace mode, installed in both through Slack's OAuth) reads the
deployment's account (RINGCENTRAL_JWT) for the first workspace and the account the second workspace linked for
the second. In each workspace Alice (an admin) subscribes #handoffs to that account's Support queue.

A note of one account reaches only its own workspace's channel, in both directions (even where the second
workspace kept a subscription it made before it linked its own account), by polling and by each
account's webhook (a delivery pokes only its own account's feed); a credential RingCentral refuses for good
pauses only that account's link and is told only to that workspace's subscription creators, while the other
keeps delivering."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.store import Store
from tests.kit.bot import wait_for
from tests.kit.rc import RcAdmin, RcSandbox
from tests.kit.slack import SlackRequests, SlackStandin, WorkspaceInfo
from tests.notify.accounts_kit import SYNC, Tenants, add_notes, home, link, two_tenants
from tests.notify.helpers import Handler
from tests.scale.helpers import answers, command, posted

pytestmark = pytest.mark.parametrize("sandbox_profile", ["default"], indirect=True)

TOKEN = "operators-metrics-token"


@pytest.fixture
def rc_sandbox_accounts() -> int:
    return 2


def crossing(t: Tenants, notes: list[str]) -> None:
    """Each note i reached workspace i's #handoffs once, and no other workspace at all."""
    for i, note in enumerate(notes):
        mine, other = t.w[i], t.w[1 - i]
        copies = posted(t.slack, mine.team_id).get(note, [])
        assert [c["channel"] for c in copies] == [mine.channels["handoffs"]], (i, copies)
        assert note not in posted(t.slack, other.team_id), (
            f"account {i + 1}'s note reached the other workspace"
        )


def test_each_accounts_notes_reach_only_its_own_workspace_by_polling(
    rc_sandbox: RcSandbox, rc_admin: RcAdmin, slack_standin: SlackStandin, tmp_path: Path
) -> None:
    with two_tenants(rc_sandbox, rc_admin, slack_standin, tmp_path) as t:
        with sqlite3.connect(t.database_url.removeprefix("sqlite:///")) as db:
            kept = db.execute("SELECT resource_id FROM subscriptions WHERE team_id = ?", (t.w[1].team_id,))
            assert {r for (r,) in kept} == {a.resource("Support") for a in t.accounts()}, "both stand"
        time.sleep(1.5)  # subscriptions start from now
        notes = add_notes(t, "Handoff: call the customer back")
        wait_for(
            lambda: all(n in posted(t.slack, t.w[i].team_id) for i, n in enumerate(notes)), 20.0, "both notes"
        )
        time.sleep(2.0)  # every feed polled again meanwhile: nothing more arrives
        crossing(t, notes)
        # Each account was read with its own service identity.
        assert t.syncs(0) > 0 and t.syncs(1) > 0


def test_each_accounts_webhook_pokes_only_its_own_feed(
    rc_sandbox: RcSandbox, rc_admin: RcAdmin, slack_standin: SlackStandin, tmp_path: Path
) -> None:
    # Polls every 5 minutes: only RingCentral's pushes bring the notes in within the test.
    with two_tenants(rc_sandbox, rc_admin, slack_standin, tmp_path, THREAD_NOTE_POLL_INTERVAL="300") as t:

        def hooked(i: int) -> list[dict[str, Any]]:
            return [
                s
                for s in t.admin.state(t.accounts()[i].account_id)["subscriptions"]
                if s.get("status") == "Active"
            ]

        wait_for(lambda: hooked(0) and hooked(1), 20.0, "a webhook subscription in each account")
        addresses = [hooked(i)[0]["deliveryMode"]["address"] for i in range(2)]
        assert addresses[0] == f"{t.url}/ringcentral/webhook"
        assert addresses[1] == f"{t.url}/ringcentral/webhook?account={t.accounts()[1].account_id}"
        time.sleep(1.5)
        for i in range(2):  # one account at a time: its push polls its feed, not the other's
            t.admin.reset_requests()
            ana = Handler(t.accounts()[i], "Ana Alvarez")
            try:
                note = str(ana.add(t.open_thread(i), f"pushed in account {i + 1}")["id"])
            finally:
                ana.close()
            wait_for(lambda note=note, i=i: note in posted(t.slack, t.w[i].team_id), 15.0, f"note {i + 1}")
            time.sleep(1.0)
            assert t.syncs(i) >= 1 and t.syncs(1 - i) == 0, (
                i,
                t.admin.requests()["byRouteAndUser"].get(SYNC),
            )
            assert note not in posted(t.slack, t.w[1 - i].team_id)
        # A delivery with one account's secret, sent as the other account's, is refused.
        forged = httpx.post(
            f"{t.url}/ringcentral/webhook?account={t.accounts()[1].account_id}",
            json={"uuid": "x", "event": "/restapi/v1.0/account/1/message-threads/entries/sync", "body": {}},
            headers={"Verification-Token": "not-the-token"},
            timeout=5,
        )
        assert forged.status_code == 403


def test_a_refused_credential_pauses_only_its_account_and_tells_only_its_workspace(
    rc_sandbox: RcSandbox, rc_admin: RcAdmin, slack_standin: SlackStandin, tmp_path: Path
) -> None:
    with two_tenants(rc_sandbox, rc_admin, slack_standin, tmp_path) as t:
        # The second workspace's credential is replaced by one RingCentral refuses (a JWT signed by no one).
        account2 = t.accounts()[1]
        forged = account2.service_user.jwt[:-4] + (
            "AAAA" if not account2.service_user.jwt.endswith("AAAA") else "BBBB"
        )
        asyncio.run(link(t.database_url, t.key, t.w[1].team_id, account2, forged))

        # Polls of the second account now fail for good: its access token expires, the JWT is refused.
        t.admin.fault("expire_tokens", account_id=account2.account_id)
        reason = wait_for(lambda: paused_reason(t), 20.0, "the second account's link paused")
        assert "link it again" in reason
        wait_for(lambda: "link it again" in t.notices(t.w[1]), 10.0, "the second workspace's creators told")
        assert t.notices(t.w[0]) == "", "the first workspace's people are told nothing"

        # The first account keeps delivering, the second none, to nobody.
        notes = add_notes(t, "After the second account's credential was refused")
        wait_for(lambda: notes[0] in posted(t.slack, t.w[0].team_id), 15.0, "the first account's note")
        time.sleep(2.0)
        assert notes[1] not in posted(t.slack, t.w[1].team_id) and notes[1] not in posted(
            t.slack, t.w[0].team_id
        )

        # /thread-note status in the second workspace tells of its own account only, not the deployment's.
        status = status_of(t, t.w[1])
        assert "paused: " in status and "link it again" in status, status
        assert "paused" not in status_of(t, t.w[0])


def test_a_credential_refused_while_the_feed_already_fails_still_pauses_its_account(
    rc_sandbox: RcSandbox, rc_admin: RcAdmin, slack_standin: SlackStandin, tmp_path: Path
) -> None:
    """RingCentral answers the second account's syncs with 503 until its creators are told it is failing; then
    its credential is refused for good. The link is paused all the same, and the creators told why, once."""
    with two_tenants(rc_sandbox, rc_admin, slack_standin, tmp_path, THREAD_NOTE_METRICS_TOKEN=TOKEN) as t:
        account2 = t.accounts()[1]
        t.admin.fault(
            "status",
            path="/restapi/v1.0/account/~/message-threads/entries/sync",
            status=503,
            account_id=account2.account_id,
        )
        wait_for(
            lambda: "failing since" in t.notices(t.w[1]), 20.0, "the second workspace told of failing polls"
        )
        assert "Reading its changes is failing since" in home(t, t.w[1], "Reading its changes")
        forged = account2.service_user.jwt[:-4] + (
            "AAAA" if not account2.service_user.jwt.endswith("AAAA") else "BBBB"
        )
        asyncio.run(link(t.database_url, t.key, t.w[1].team_id, account2, forged))
        t.admin.clear_faults()
        t.admin.fault("expire_tokens", account_id=account2.account_id)
        wait_for(lambda: paused_reason(t) is not None, 20.0, "the second account's link paused")
        wait_for(
            lambda: "link it again" in t.notices(t.w[1]), 10.0, "the second workspace told to link again"
        )
        time.sleep(3.0)  # more polls would have come by now: told once
        assert t.notices(t.w[1]).count("link it again") == 1, t.notices(t.w[1])
        assert t.notices(t.w[0]) == ""
        # Operators see it too: the detailed /healthz names the paused account, the metrics flag it.
        auth = {"Authorization": f"Bearer {TOKEN}"}
        health = httpx.get(f"{t.url}/healthz", headers=auth, timeout=10).json()
        assert health["accounts"]["linked"] == 1 and "paused" in health["accounts"][account2.account_id]
        assert health["feed"] == "ok", "the deployment's own feed is well"
        metrics = httpx.get(f"{t.url}/metrics", headers=auth, timeout=10).text
        assert f'thread_note_account_paused{{account="{account2.account_id}"}} 1.0' in metrics
        assert 'thread_note_feed_failing{account="deployment"} 0.0' in metrics
        # ...and the first workspace's /thread-note status says nothing of the other account
        assert account2.account_id not in status_of(t, t.w[0])


def paused_reason(t: Tenants) -> str | None:
    """Why the second workspace's link is paused; None while it is active."""

    async def read() -> str | None:
        store = await Store.open(t.database_url, [t.key])
        try:
            row = await store.tenant_account(t.w[1].team_id)
        finally:
            await store.close()
        return row.paused_reason if row is not None and row.status == "paused" else None

    return asyncio.run(read())


def status_of(t: Tenants, ws: WorkspaceInfo) -> str:
    """`/thread-note status` as Alice (an admin) of `ws` sees it."""
    requests = SlackRequests(t.slack, app_url=t.url, signing_secret=t.slack.signing_secret)
    _, rid = command(requests, ws, "status", user="alice", channel="handoffs")
    wait_for(lambda: "thread-note status" in answers(t.slack, rid), 15.0, f"status in {ws.team}")
    return answers(t.slack, rid)


def test_status_tells_each_workspace_of_its_own_account_only(
    rc_sandbox: RcSandbox, rc_admin: RcAdmin, slack_standin: SlackStandin, tmp_path: Path
) -> None:
    with two_tenants(rc_sandbox, rc_admin, slack_standin, tmp_path) as t:
        ids = [f"extension id {a.service_user.extension_id})" for a in t.accounts()]
        wait_for(lambda: "real time*: on" in status_of(t, t.w[1]), 20.0, "the second account's webhook")
        for i, ws in enumerate(t.w):
            status = status_of(t, ws)
            assert ids[i] in status and ids[1 - i] not in status, (i, status)
        assert t.accounts()[1].account_id in status_of(t, t.w[1])
        assert t.accounts()[1].account_id not in status_of(t, t.w[0])
