"""Real time as RingCentral documents it: the handshake told from a delivery by its body, our secret accepted
in either header (profiles `default` and `validation-token-header`), `disabledFilters` raised as an alarm in
status, /metrics and `check` while polling carries on, renewals that fail for any reason replaced with
backoff, and no subscription leaked (`listSubscriptions` at start)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.check import check_realtime
from bot.notify.webhook import WebhookSubscription
from bot.servers import BackgroundServer
from bot.service.clients import ClientFactory
from bot.store import Store, TokenCipher
from tests.kit.bot import RunningBot, texts, wait_for
from tests.kit.rc import RcAdmin, RcSandbox
from tests.notify.helpers import SUPPORT_THREAD, Handler, with_note
from tests.reliability.conftest import BotFactory

SYNC = "GET /restapi/v1.0/account/{accountId}/message-threads/entries/sync"
ENVELOPE = {
    "uuid": "5a3b1c1e-8a71-4a5e-9f0e-1c2d3e4f5a6b",
    "event": "/restapi/v1.0/account/1/message-threads/entries/sync",
    "timestamp": "2026-12-02T04:00:00.000Z",
    "subscriptionId": "forged",
    "ownerId": "1",
    "body": {"lastModifiedTime": "2026-12-02T04:00:00.000Z"},
}


def subscribe(bot: RunningBot, resource: str, channel: str) -> None:
    replies = bot.command(f"subscribe {resource}", channel=channel)
    if any(b.get("action_id") == "subscription_confirm" for b in replies.buttons()):
        replies = bot.click(replies.button("subscription_confirm"), channel=channel)
    assert "now receives" in replies.text, replies.text


def syncs(admin: RcAdmin) -> int:
    return sum(admin.requests()["byRouteAndStatus"].get(SYNC, {}).values())


def hooks(admin: RcAdmin) -> list[dict[str, Any]]:
    return list(admin.state()["subscriptions"])


@pytest.mark.parametrize("sandbox_profile", ["default", "validation-token-header"], indirect=True)
def test_every_genuine_delivery_polls_at_once_and_a_forged_one_or_a_handshake_never_does(
    make_bot: BotFactory, rc_admin: RcAdmin, rc_sandbox: RcSandbox
) -> None:
    bot = make_bot(THREAD_NOTE_POLL_INTERVAL="300")  # only a delivery can bring the note in time
    bot.connect("alice", "Ana Alvarez")
    subscribe(bot, "Support", "support")
    wait_for(lambda: hooks(rc_admin), 15.0, "the webhook subscription")
    time.sleep(1.5)  # the subscription starts from now: let the poll it asked for pass
    ana = Handler(rc_sandbox, "Ana Alvarez")
    try:
        note = ana.add(SUPPORT_THREAD, "Pushed, not polled")
        wait_for(lambda: with_note(bot.slack, "support", note["id"]), 10.0, "the note, brought by a delivery")
    finally:
        ana.close()
    delivered = [d for d in rc_admin.state()["deliveries"] if d["status"] is not None]
    assert delivered and all(d["status"] == 200 for d in delivered), delivered

    before = syncs(rc_admin)
    url = f"{bot.url}/ringcentral/webhook"
    body = json.dumps(ENVELOPE)
    for header in ("Verification-Token", "Validation-Token"):
        forged = httpx.post(url, content=body, headers={header: "not-our-secret"}, timeout=5)
        assert forged.status_code == 403, (header, forged.status_code)
    assert httpx.post(url, content=body, timeout=5).status_code == 403  # no secret at all
    handshake = httpx.post(url, headers={"Validation-Token": "hs-1"}, timeout=5)
    assert handshake.status_code == 200 and handshake.headers["Validation-Token"] == "hs-1"
    time.sleep(2.0)
    assert syncs(rc_admin) == before, "a forged delivery or a handshake started a poll"


def _metric(text: str, name: str) -> float:
    line = next(x for x in text.splitlines() if x.startswith(name + " "))
    return float(line.split()[1])


def test_disabled_filters_raise_an_alarm_in_status_metrics_and_check_and_polling_carries_on(
    make_bot: BotFactory, rc_admin: RcAdmin, rc_sandbox: RcSandbox
) -> None:
    rc_admin.config(disabledEventFilters=["*"])  # as when the app lacks the SMS permission
    bot = make_bot()
    bot.connect("alice", "Ana Alvarez")
    subscribe(bot, "Support", "support")
    subs = wait_for(lambda: hooks(rc_admin), 15.0, "the webhook subscription")
    assert subs[0]["status"] == "Active" and len(subs[0]["disabledFilters"]) == 2

    metrics = wait_for(
        lambda: (m := bot.metrics()) and _metric(m, "thread_note_webhook_disabled_filters") == 2 and m,
        15.0,
        "the disabled filters in /metrics",
    )
    assert _metric(metrics, "thread_note_realtime") == 0
    status = texts(bot.command("status").last)
    assert "real time is OFF" in status and "SMS" in status, status
    [line] = asyncio.run(check_realtime(bot.settings))
    assert line.ok is False and "SMS permission" in line.text and "polling" in line.text

    ana = Handler(rc_sandbox, "Ana Alvarez")
    try:
        note = ana.add(SUPPORT_THREAD, "Polled, since nothing is pushed")
        wait_for(lambda: with_note(bot.slack, "support", note["id"]), 10.0, "the note, by polling")
    finally:
        ana.close()
    assert not rc_admin.state()["deliveries"]


def test_a_healthy_webhook_is_green_in_check_and_metrics(make_bot: BotFactory, rc_admin: RcAdmin) -> None:
    bot = make_bot()
    wait_for(lambda: hooks(rc_admin), 15.0, "the webhook subscription")
    [line] = asyncio.run(check_realtime(bot.settings))
    assert line.ok is True and "SMS" in line.text
    wait_for(
        lambda: _metric(bot.metrics(), "thread_note_realtime") == 1,
        15.0,
        "real time on in /metrics",
    )


# --- the lifecycle, driven directly (`await hook.ensure()`) against the emulator ---------------------------


@pytest.fixture
def receiver() -> Iterator[str]:
    """A webhook address that answers the handshake (and accepts anything else)."""

    async def hook(request: Request) -> Response:
        token = request.headers.get("Validation-Token")
        return JSONResponse({}, headers={"Validation-Token": token} if token else {})

    server = BackgroundServer()
    server.app = Starlette(routes=[Route("/{path:path}", hook, methods=["POST"])])
    server.start(timeout=30)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
async def parts(rc_sandbox: RcSandbox, tmp_path: Path) -> AsyncIterator[tuple[Store, ClientFactory]]:
    store = await Store.open(f"sqlite:///{tmp_path / 'hook.db'}", [TokenCipher.generate_key()])
    clients = ClientFactory(
        rc_sandbox.url, rc_sandbox.client_id, rc_sandbox.client_secret, jwt=rc_sandbox.service_user.jwt
    )
    try:
        yield store, clients
    finally:
        await clients.aclose()
        await store.close()


def _hook(parts: tuple[Store, ClientFactory], address: str) -> WebhookSubscription:
    store, clients = parts
    return WebhookSubscription(store, clients.service, address=address, holder="test", check_every=300)


async def test_a_renewal_that_fails_for_any_reason_is_replaced_with_backoff_and_the_old_one_removed(
    parts: tuple[Store, ClientFactory], receiver: str, rc_admin: RcAdmin
) -> None:
    hook = _hook(parts, f"{receiver}/ringcentral/webhook")
    assert await hook.ensure() == "created"
    [first] = [s["id"] for s in hooks(rc_admin)]

    rc_admin.fault("status", path=f"/restapi/v1.0/subscription/{first}/renew", status=500)
    assert await hook.ensure() == "created"  # a 500, not a 404: replaced all the same
    [second] = [s["id"] for s in hooks(rc_admin)]
    assert second != first, "the old subscription is removed"
    rc_admin.clear_faults()

    rc_admin.fault("status", path=f"/restapi/v1.0/subscription/{second}/renew", status=503)
    rc_admin.fault("status", path="/restapi/v1.0/subscription", method="POST", status=503)
    assert await hook.ensure() == "failed"
    assert hook.retry_in() == 5.0
    assert await hook.ensure() == "failed"
    assert hook.retry_in() == 10.0, "each failed run waits longer"
    assert "failing" in (await hook.alarm() or "")
    rc_admin.clear_faults()
    assert await hook.ensure() == "created"
    assert hook.retry_in() == 5.0 and await hook.alarm() is None
    assert len(hooks(rc_admin)) == 1, "nothing leaked"


async def test_at_start_the_saved_subscription_is_adopted_and_every_other_one_of_ours_deleted(
    parts: tuple[Store, ClientFactory], receiver: str, rc_admin: RcAdmin, rc_sandbox: RcSandbox
) -> None:
    address = f"{receiver}/ringcentral/webhook"
    assert await _hook(parts, address).ensure() == "created"
    [saved] = [s["id"] for s in hooks(rc_admin)]
    # Left behind by earlier runs (created, never saved), and one of another deployment of the same user.
    service = Handler(rc_sandbox, rc_sandbox.service_user.extension_id)
    try:
        for target in (address, address, f"{receiver}/elsewhere"):
            created = service.http.post(
                "/restapi/v1.0/subscription",
                json={
                    "eventFilters": ["/restapi/v1.0/account/~/message-threads/entries/sync"],
                    "deliveryMode": {"transportType": "WebHook", "address": target},
                },
            )
            assert created.status_code == 200, created.text
    finally:
        service.close()
    assert len(hooks(rc_admin)) == 4

    restarted = _hook(parts, address)  # a new process on the same database
    assert await restarted.ensure() == "renewed"
    left = {s["id"]: s["deliveryMode"]["address"] for s in hooks(rc_admin)}
    assert left.get(saved) == address, "the saved one is adopted, not replaced"
    assert sorted(left.values()) == sorted([address, f"{receiver}/elsewhere"]), "strays deleted, others kept"


async def test_disabled_filters_are_retried_anew_so_a_permission_granted_later_takes_effect(
    parts: tuple[Store, ClientFactory], receiver: str, rc_admin: RcAdmin
) -> None:
    rc_admin.config(disabledEventFilters=["message-threads/entries/sync"])
    hook = _hook(parts, f"{receiver}/ringcentral/webhook")
    assert await hook.ensure() == "created"
    assert "OFF" in (await hook.alarm() or "") and "entries/sync" in (await hook.alarm() or "")
    assert await hook.ensure() == "created", "made anew while a filter is disabled"
    assert len(hooks(rc_admin)) == 1, "the old one is removed each time"
    rc_admin.config(disabledEventFilters=[])  # the app got the SMS permission
    assert await hook.ensure() in ("renewed", "created")  # the emulator re-reads permissions on renewal
    assert await hook.alarm() is None
    assert await hook.ensure() == "renewed"
    assert (await hook.status())["disabled_filters"] == [] and len(hooks(rc_admin)) == 1
