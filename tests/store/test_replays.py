"""The replay guard's signatures: claimed once across replicas, forgotten on request, expired and pruned by
the store's clock, and never stored in the clear."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta

from bot.store import Store
from tests.kit.db import FakeClock
from tests.store.helpers import raw_rows

TTL = timedelta(minutes=6)
SIGNATURE = "v0=" + "a1" * 32


async def test_a_signature_is_claimed_once_and_refused_while_it_lives(store: Store, clock: FakeClock) -> None:
    assert await store.claim_signature(SIGNATURE, TTL) is True
    assert await store.claim_signature(SIGNATURE, TTL) is False
    clock.advance(minutes=5, seconds=59)
    assert await store.claim_signature(SIGNATURE, TTL) is False
    assert await store.claim_signature("v0=" + "b2" * 32, TTL) is True  # another request


async def test_an_expired_claim_is_taken_again(store: Store, clock: FakeClock) -> None:
    assert await store.claim_signature(SIGNATURE, TTL)
    clock.advance(TTL)
    assert await store.claim_signature(SIGNATURE, TTL) is True
    assert await store.claim_signature(SIGNATURE, TTL) is False  # and lives for a full TTL again


async def test_a_forgotten_signature_is_accepted_once_more(store: Store) -> None:
    assert await store.claim_signature(SIGNATURE, TTL)
    assert await store.forget_signature(SIGNATURE) is True
    assert await store.forget_signature(SIGNATURE) is False
    assert await store.claim_signature(SIGNATURE, TTL) is True
    assert await store.claim_signature(SIGNATURE, TTL) is False


async def test_only_a_hash_of_the_signature_is_stored(store: Store, database_url: str) -> None:
    await store.claim_signature(SIGNATURE, TTL)
    rows = await raw_rows(database_url, "SELECT signature_hash FROM seen_signatures")
    assert rows == [(hashlib.sha256(SIGNATURE.encode()).hexdigest(),)]


async def test_replicas_claiming_one_signature_together_have_one_winner(
    database_url: str, secret_key: str, clock: FakeClock
) -> None:
    replicas = [await Store.open(database_url, [secret_key], clock=clock) for _ in range(5)]
    try:
        for round_ in range(5):
            signature = f"v0={round_:064x}"
            won = await asyncio.gather(*(r.claim_signature(signature, TTL) for r in replicas))
            assert sorted(won) == [False] * 4 + [True]
    finally:
        await asyncio.gather(*(r.close() for r in replicas))


async def test_expired_claims_are_pruned_by_later_claims_at_most_once_a_minute(
    store: Store, clock: FakeClock
) -> None:
    await store.claim_signature("v0=first", TTL)  # prunes (nothing yet): the minute starts now
    clock.advance(seconds=30)
    await store.claim_signature("v0=early", TTL)
    clock.advance(minutes=5, seconds=45)  # "first" expired, "early" lives 15 s more
    await store.claim_signature("v0=mid", TTL)  # a minute since the last prune: prunes
    assert await store.seen_signature_count() == 2
    clock.advance(seconds=30)  # "early" expired now, but the last prune was 30 s ago
    assert await store.claim_signature("v0=late", TTL) is True
    assert await store.seen_signature_count() == 3
    assert await store.claim_signature("v0=early", TTL) is True  # expired is expired, pruned or not
    clock.advance(seconds=30)
    await store.claim_signature("v0=last", TTL)
    assert await store.seen_signature_count() == 4  # early (claimed again), mid, late, last
