"""Channel claims on every backend: replicas claiming together get disjoint channels, at most their share;
an expired claim moves; a released one keeps who held it (a handover is visible to the next holder); a
replica holding its share in channels still draining claims the channel of a row just queued at once."""

from __future__ import annotations

from datetime import timedelta

from bot.notify.claims import REPLICA_LEASE, ChannelClaims
from bot.notify.posting import Pacer
from bot.store import Store
from bot.store.outbox import OutboxEntry
from bot.store.subscriptions import NewSubscription
from tests.kit.db import FakeClock

NAMES = [f"notify:channel:T1:C{i}" for i in range(4)]
TTL = timedelta(seconds=10)


async def test_replicas_claim_disjoint_shares_and_a_dead_replicas_claims_move(
    store: Store, clock: FakeClock
) -> None:
    a = await store.claim_leases(NAMES, "a", TTL, limit=2)
    b = await store.claim_leases(NAMES, "b", TTL, limit=2)
    assert [x.name for x in a] == NAMES[:2] and [x.name for x in b] == NAMES[2:]
    assert await store.claim_leases(NAMES, "c", TTL, limit=4) == []
    # Already mine: kept (and extended) even past the limit.
    assert {x.name for x in await store.claim_leases(NAMES, "a", TTL, limit=1)} == set(NAMES[:2])
    clock.advance(seconds=11)  # a and b died
    taken = await store.claim_leases(NAMES, "c", TTL, limit=4)
    assert {x.name for x in taken} == set(NAMES)
    assert {x.holder for x in taken} == {"a", "b"}, "the new holder sees it took the claims over"


async def test_a_released_claim_is_free_at_once_and_remembers_its_holder(
    store: Store, clock: FakeClock
) -> None:
    await store.claim_leases(NAMES[:1], "a", TTL, limit=1)
    assert await store.release_leases(NAMES[:1], "a") == 1
    assert await store.release_leases(NAMES[:1], "b") == 0
    (before,) = await store.claim_leases(NAMES[:1], "b", TTL, limit=1)
    assert before.holder == "a" and before.expires_at == clock.now
    assert await store.live_leases("notify:channel:") != []


async def test_a_replica_holding_its_share_still_takes_the_channel_of_a_row_just_queued(
    store: Store, clock: FakeClock
) -> None:
    """Three replicas, five channels draining a burst: a (first to claim) holds three of them, its share of
    five and one more. A note's row is then queued in a sixth channel, by a's poll: a claims it at once,
    though six channels over three replicas is a share of two, rather than leave it to b's or c's next send
    tick."""
    subs = []
    for i in range(6):
        sub, _ = await store.save_subscription(
            NewSubscription(
                "T1", f"C{i}", f"q{i}", True, f"60{i}", "Support", {}, False, "strike", "U1", clock()
            )
        )
        subs.append(sub.id)
    for holder in "abc":
        await store.try_acquire_lease(REPLICA_LEASE + holder, holder, TTL)
    a, b = (ChannelClaims(store, Pacer(1.0), holder=h, ttl=lambda: TTL, clock=clock) for h in "ab")
    burst = [
        OutboxEntry(sub, f"n{i}-{k}", "v1", "note", f"t{i}")
        for i, sub in enumerate(subs[:5])
        for k in range(9)
    ]
    await store.enqueue(burst)
    _, held_a = await a.claim()
    _, held_b = await b.claim()
    assert len(held_a) == 3 and len(held_b) == 2 and not set(held_a) & set(held_b)

    await store.enqueue([OutboxEntry(subs[5], "new", "v1", "note", "t5")])
    waiting, held_a_now = await a.claim()
    assert len(waiting) == 6
    assert set(held_a_now) == {*held_a, ("T1", "C5")}, "the queuing replica posts the new channel itself"
    _, held_b_now = await b.claim()
    assert set(held_b_now) == set(held_b), "and the others keep theirs"
