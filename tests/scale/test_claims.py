"""Channel claims on every backend: replicas claiming together get disjoint channels, at most their share;
an expired claim moves; a released one keeps who held it (a handover is visible to the next holder)."""

from __future__ import annotations

from datetime import timedelta

from bot.store import Store
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
