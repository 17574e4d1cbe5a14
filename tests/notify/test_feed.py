"""The change feed and the outbox, driven directly (`await notifier.run_once()`) against the RingCentral
emulator over HTTP and the Slack stand-in: no sleeping, no scheduler."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.metrics import Metrics
from bot.notify import Notifier
from bot.notify.feed import TOKEN_KEY
from bot.service.clients import ClientFactory
from bot.store import Store, TokenCipher
from bot.store._base import Clock, utcnow
from bot.store.subscriptions import NewSubscription, Subscription
from tests.kit.rc import RcAdmin, RcSandbox, sandbox_test_settings, start_rc_sandbox
from tests.kit.slack import SlackStandin
from tests.notify.helpers import SUPPORT_THREAD, SUPPORT_THREAD_2, Handler, shown, with_note

SEEDS = Path(__file__).resolve().parents[2] / "bot" / "sandbox" / "ringcentral" / "seeds"


@dataclass
class World:
    rc: RcSandbox
    admin: RcAdmin
    slack: SlackStandin
    store: Store
    notifier: Notifier

    async def subscribe(self, resource_id: str, channel: str = "handoffs", **filters: Any) -> Subscription:
        sub, _ = await self.store.save_subscription(
            NewSubscription(
                team_id=self.slack.team_id,
                channel_id=self.slack.channel_id(channel),
                channel_name=channel,
                channel_private=True,
                resource_id=resource_id,
                resource_name=resource_id,
                filters=filters,
                broadcast=False,
                deleted_mode="strike",
                created_by=self.slack.user_id("alice"),
                start_at=await self.notifier.feed.rc_now(),
            )
        )
        return sub

    def api_requests(self) -> int:
        """The bot's (the service identity's) API requests since the last reset; the test's own handler, who
        writes the notes, is not the bot and is not counted."""
        service = self.rc.service_user.extension_id
        by_route = self.admin.requests()["byRouteAndUser"]
        return sum(users.get(service, 0) for route, users in by_route.items() if "/restapi/v1.0/" in route)

    async def reconcile_after_loss(self, max_polls: int = 8) -> list[int]:
        """Poll until the reconciliation a lost token started is over (every subscribed resource reconciled);
        the API requests each poll cost, counted by the emulator."""
        left = {sub.resource_id for sub in await self.store.list_subscriptions()}
        costs = []
        for _ in range(max_polls):
            self.admin.reset_requests()
            result = await self.notifier.run_once()
            costs.append(self.api_requests())
            assert result is not None and result.requests_ok
            left -= set(result.reconciled)
            if not left:
                return costs
        raise AssertionError(f"not reconciled after {max_polls} polls: {costs}")


async def make_world(
    rc: RcSandbox, slack: SlackStandin, tmp_path: Path, *, clock: Clock = utcnow, **slack_options: Any
) -> AsyncIterator[World]:
    """The feed and the sender on `clock` (the store, the notifier, the access token's expiry), Slack's client
    made with `slack_options`."""
    store = await Store.open(f"sqlite:///{tmp_path / 'feed.db'}", [TokenCipher.generate_key()], clock=clock)
    clients = ClientFactory(rc.url, rc.client_id, rc.client_secret, jwt=rc.service_user.jwt, clock=clock)
    notifier = Notifier(
        store, clients.service, slack.client(**slack_options), Metrics(), poll_interval=1, channel_interval=0,
        clock=clock,
    )  # fmt: skip
    admin = RcAdmin(rc.url)
    try:
        yield World(rc, admin, slack, store, notifier)
    finally:
        admin.close()
        await clients.aclose()
        await store.close()


@pytest.fixture
async def world(rc_sandbox: RcSandbox, slack_standin: SlackStandin, tmp_path: Path) -> AsyncIterator[World]:
    async for w in make_world(rc_sandbox, slack_standin, tmp_path):
        yield w


async def test_expired_sync_token_loses_no_note_and_misses_no_deletion(world: World) -> None:
    support = world.rc.resource("Support")
    await world.subscribe(support)
    await world.notifier.run_once()
    ana = Handler(world.rc, "Ana Alvarez")
    try:
        early = ana.add(SUPPORT_THREAD, "posted before the token dies")
        await world.notifier.run_once()
        assert with_note(world.slack, "handoffs", early["id"])
        token = await world.store.get_state(TOKEN_KEY)

        assert world.admin.expire_sync_tokens() >= 1
        during = ana.add(SUPPORT_THREAD_2, "written while the token was dead")
        ana.delete(early["id"])
        world.admin.reset_requests()
        result = await world.notifier.run_once()
        first = world.api_requests()
        world.admin.reset_requests()
        await world.notifier.run_once()
        second = world.api_requests()
        assert len(with_note(world.slack, "handoffs", during["id"])) == 1, "new notes first, by the next poll"
        costs = await world.reconcile_after_loss()
    finally:
        ana.close()
    assert result is not None and result.full_resync
    assert await world.store.get_state(TOKEN_KEY) != token
    # The poll that finds the token refused: that request and the full sync; the next, the sync and the lookup
    # of the new note's thread (a conversation the bot had not seen); reconciliation then goes at most one
    # request a poll, within 2.
    assert first <= 2 and second <= 2 and all(cost <= 2 for cost in costs), (first, second, costs)
    assert len(with_note(world.slack, "handoffs", during["id"])) == 1
    struck = with_note(world.slack, "handoffs", early["id"])
    assert len(struck) == 1 and "(deleted)" in shown(struck[0])


async def test_a_503_period_loses_no_note_and_the_cursor_waits(world: World) -> None:
    await world.subscribe(world.rc.resource("Support"))
    await world.notifier.run_once()
    token = await world.store.get_state(TOKEN_KEY)
    ana = Handler(world.rc, "Ana Alvarez")
    try:
        world.admin.fault("status", path="/restapi/v1.0/account/~/message-threads/entries/sync", status=503)
        notes = [ana.add(SUPPORT_THREAD, f"during the outage {i}") for i in range(3)]
        for _ in range(2):
            result = await world.notifier.run_once()
            assert result is not None and not result.requests_ok
        assert await world.store.get_state(TOKEN_KEY) == token, "the cursor must not move on a failed poll"
        world.admin.clear_faults()
        await world.notifier.run_once()
    finally:
        ana.close()
    for note in notes:
        assert len(with_note(world.slack, "handoffs", note["id"])) == 1


async def test_requests_to_ringcentral_per_poll_stay_constant_from_1_to_200_resources(
    slack_standin: SlackStandin, tmp_path: Path
) -> None:
    seed = yaml.safe_load((SEEDS / "demo.yml").read_text())
    service = next(u["id"] for u in seed["users"] if u.get("service"))
    for i in range(200 - len(seed["resources"])):  # the demo's own queues and site, then as many more
        seed["resources"].append(
            {
                "id": str(63000000 + i),
                "name": f"Queue {i}",
                "extensionNumber": str(7000 + i),
                "phoneNumbers": [f"+1650555{2000 + i:04d}"],
                "handlers": ["62001001", service],
            }
        )
    rc = start_rc_sandbox(seed, sandbox_test_settings())
    try:
        async for world in make_world(rc, slack_standin, tmp_path):
            ana = Handler(rc, "Ana Alvarez")
            try:
                await world.subscribe(rc.resource("Support"))
                # first sync: old notes are skipped, their threads not fetched
                await world.notifier.run_once()
                ana.add(SUPPORT_THREAD, "warm-up")
                await world.notifier.run_once()  # a note to route: its thread is fetched once, then cached
                counts = []
                for wanted in (1, 200):
                    resources = [r["extensionId"] for r in rc.credentials["resources"]]
                    assert len(resources) == 200
                    have = {s.resource_id for s in await world.store.list_subscriptions()}
                    for rid in [r for r in resources if r not in have][: wanted - len(have)]:
                        await world.subscribe(rid)
                    await world.notifier.run_once()  # settle the new subscriptions
                    world.admin.reset_requests()
                    note = ana.add(SUPPORT_THREAD, f"with {wanted} resources")
                    world.admin.reset_requests()
                    await world.notifier.run_once()
                    counts.append(world.api_requests())
                    assert len(with_note(world.slack, "handoffs", note["id"])) == 1
                    assert len(await world.store.list_subscriptions()) == wanted
            finally:
                ana.close()
    finally:
        rc.server.stop()
    assert counts == [1, 1], counts


async def test_a_crash_between_posting_and_recording_is_repaired_by_lookup_not_by_posting_twice(
    world: World,
) -> None:
    from bot.notify import messages
    from bot.notify.feed import note_json
    from bot.ringcentral.models import Note
    from bot.store.outbox import OutboxEntry

    sub = await world.subscribe(world.rc.resource("Support"))
    await world.notifier.run_once()
    ana = Handler(world.rc, "Ana Alvarez")
    try:
        note = Note.model_validate(ana.add(SUPPORT_THREAD, "posted by a process that then died"))
    finally:
        ana.close()
    entry = OutboxEntry(sub.id, note.id, note.version, "note", note.thread_id, note_json(note))
    await world.store.enqueue([entry])
    row = next(r for r in await world.store.outbox_rows() if r.note_id == note.id)
    await world.store.mark_attempt(row.id)  # what the dead process committed before posting …
    await world.slack.client().chat_postMessage(  # … and what it posted before dying
        channel=world.slack.channel_id("handoffs"),
        text="posted by a process that then died",
        metadata=messages.metadata(
            subscription_id=sub.id, note_id=note.id, version=note.version, thread_id=note.thread_id
        ),
    )
    await world.notifier.run_once()
    assert len(with_note(world.slack, "handoffs", note.id)) == 1
    done = await world.store.get_outbox(row.id)
    assert done is not None and done.status == "done"
    shown_as = await world.store.get_note_message(sub.team_id, sub.channel_id, note.id)
    assert shown_as is not None and shown_as.is_parent
