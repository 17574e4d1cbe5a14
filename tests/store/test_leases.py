"""Leases: one holder at a time, expiry by the injected clock, takeover, release; replicas race fairly."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.store import Lease, Store
from tests.kit.db import FakeClock

TTL = timedelta(seconds=30)


async def test_a_free_lease_is_acquired_and_others_are_refused(store: Store, clock: FakeClock) -> None:
    lease = await store.try_acquire_lease("poll:101", "replica-a", TTL)
    assert lease == Lease("poll:101", "replica-a", clock(), clock() + TTL)
    assert await store.try_acquire_lease("poll:101", "replica-b", TTL) is None
    assert await store.current_lease("poll:101") == lease
    assert await store.try_acquire_lease("poll:202", "replica-b", TTL) is not None  # other names are free


async def test_the_holder_reacquiring_extends_its_lease(store: Store, clock: FakeClock) -> None:
    first = await store.try_acquire_lease("poll:101", "replica-a", TTL)
    assert first is not None
    clock.advance(seconds=20)
    again = await store.try_acquire_lease("poll:101", "replica-a", TTL)
    assert again is not None
    assert (again.acquired_at, again.expires_at) == (first.acquired_at, clock() + TTL)


async def test_an_expired_lease_is_taken_over(store: Store, clock: FakeClock) -> None:
    await store.try_acquire_lease("poll:101", "replica-a", TTL)
    clock.advance(TTL)
    assert await store.current_lease("poll:101") is None
    taken = await store.try_acquire_lease("poll:101", "replica-b", TTL)
    assert taken is not None and taken.holder == "replica-b" and taken.acquired_at == clock()
    assert await store.renew_lease("poll:101", "replica-a", TTL) is None  # the old holder must stop


async def test_renewing_extends_only_a_live_lease_of_the_holder(store: Store, clock: FakeClock) -> None:
    await store.try_acquire_lease("poll:101", "replica-a", TTL)
    clock.advance(seconds=29)
    renewed = await store.renew_lease("poll:101", "replica-a", TTL)
    assert renewed is not None and renewed.expires_at == clock() + TTL
    assert await store.renew_lease("poll:101", "replica-b", TTL) is None
    clock.advance(TTL)
    assert await store.renew_lease("poll:101", "replica-a", TTL) is None


async def test_release_frees_the_lease_at_once(store: Store) -> None:
    await store.try_acquire_lease("poll:101", "replica-a", TTL)
    assert await store.release_lease("poll:101", "replica-b") is False
    assert await store.release_lease("poll:101", "replica-a") is True
    assert await store.try_acquire_lease("poll:101", "replica-b", TTL) is not None


async def test_replicas_racing_for_a_lease_have_one_winner(
    database_url: str, secret_key: str, clock: FakeClock
) -> None:
    replicas = [await Store.open(database_url, [secret_key], clock=clock) for _ in range(5)]
    try:
        for _ in range(2):  # a fresh lease, then an expired one
            results = await asyncio.gather(
                *(r.try_acquire_lease("poll:101", f"replica-{i}", TTL) for i, r in enumerate(replicas))
            )
            winners = [lease for lease in results if lease is not None]
            assert len(winners) == 1
            assert await replicas[0].current_lease("poll:101") == winners[0]
            clock.advance(TTL)
    finally:
        for replica in replicas:
            await replica.close()
