"""OAuth states work once, before expiry, and only when this bot issued them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.store import InvalidOAuthState, OAuthState, Store
from bot.store.links import Tokens
from bot.store.oauth import PendingLink
from tests.kit.db import FakeClock
from tests.store.helpers import raw_rows

PENDING = {"kind": "add_note", "thread_id": "th-1", "text": "customer waits for pricing"}


async def test_state_is_consumed_once_with_its_verifier_and_pending_action(
    store: Store, clock: FakeClock
) -> None:
    state = await store.create_oauth_state(
        "T1", "U1", code_verifier="pkce-verifier-xyz", pending_action=PENDING
    )
    got = await store.consume_oauth_state(state)
    assert (got.team_id, got.user_id, got.code_verifier, got.pending_action) == (
        "T1",
        "U1",
        "pkce-verifier-xyz",
        PENDING,
    )
    assert got.created_at == clock() and got.expires_at == clock() + timedelta(minutes=10)
    assert "pkce-verifier-xyz" not in repr(got)
    with pytest.raises(InvalidOAuthState) as again:
        await store.consume_oauth_state(state)
    assert again.value.reason == "used"


async def test_database_keeps_only_a_hash_of_the_state_and_no_plain_verifier(
    store: Store, database_url: str
) -> None:
    state = await store.create_oauth_state("T1", "U1", code_verifier="pkce-verifier-xyz")
    dumped = repr(await raw_rows(database_url, "SELECT * FROM oauth_states"))
    assert state not in dumped
    assert "pkce-verifier-xyz" not in dumped


async def test_expired_state_is_refused(store: Store, clock: FakeClock) -> None:
    state = await store.create_oauth_state("T1", "U1", code_verifier="v", ttl=timedelta(minutes=5))
    clock.advance(minutes=5)
    with pytest.raises(InvalidOAuthState, match="expired") as caught:
        await store.consume_oauth_state(state)
    assert caught.value.reason == "expired"


async def test_forged_state_is_refused(store: Store) -> None:
    await store.create_oauth_state("T1", "U1", code_verifier="v")
    with pytest.raises(InvalidOAuthState) as caught:
        await store.consume_oauth_state("made-up-by-an-attacker")
    assert caught.value.reason == "unknown"


async def test_concurrent_consumes_have_exactly_one_winner(store: Store) -> None:
    state = await store.create_oauth_state("T1", "U1", code_verifier="v")
    results = await asyncio.gather(
        *(store.consume_oauth_state(state) for _ in range(8)), return_exceptions=True
    )
    assert sum(isinstance(r, OAuthState) for r in results) == 1
    losers = [r for r in results if not isinstance(r, OAuthState)]
    assert all(isinstance(r, InvalidOAuthState) and r.reason == "used" for r in losers)


async def test_pruning_removes_only_expired_states(store: Store, clock: FakeClock) -> None:
    old = await store.create_oauth_state("T1", "U1", code_verifier="v", ttl=timedelta(minutes=1))
    clock.advance(minutes=2)
    fresh = await store.create_oauth_state("T1", "U2", code_verifier="v")
    assert await store.prune_oauth_states() == 1
    with pytest.raises(InvalidOAuthState) as caught:
        await store.consume_oauth_state(old)
    assert caught.value.reason == "unknown"
    assert (await store.consume_oauth_state(fresh)).user_id == "U2"


async def test_a_reusable_state_is_found_again_while_alive_and_unused(store: Store, clock: FakeClock) -> None:
    state = await store.create_oauth_state("T1", "U1", code_verifier="v1", reusable=True)
    await store.create_oauth_state("T1", "U1", code_verifier="v2")  # a /connect state: never reused
    assert await store.live_oauth_state("T1", "U1", valid_for=timedelta(minutes=2)) == (state, "v1")
    assert await store.live_oauth_state("T1", "U2", valid_for=timedelta(minutes=2)) is None
    clock.advance(minutes=9)  # one minute left: too little to hand out again
    assert await store.live_oauth_state("T1", "U1", valid_for=timedelta(minutes=2)) is None
    clock.advance(minutes=-9)
    await store.consume_oauth_state(state)
    assert await store.live_oauth_state("T1", "U1", valid_for=timedelta(minutes=2)) is None


async def test_a_pending_link_is_taken_once_before_expiry_and_pruned_after(
    store: Store, clock: FakeClock, database_url: str
) -> None:
    tokens = Tokens(access_token="at-secret", access_expires_at=clock() + timedelta(hours=1))
    pending = PendingLink("T1", "U1", "101", "Ana", tokens, PENDING)
    token = await store.create_pending_link(pending)
    assert "at-secret" not in repr(await raw_rows(database_url, "SELECT * FROM pending_links"))
    assert await store.take_pending_link(token) == pending
    with pytest.raises(InvalidOAuthState):
        await store.take_pending_link(token)
    late = await store.create_pending_link(pending, ttl=timedelta(minutes=1))
    clock.advance(minutes=2)
    assert await store.prune_oauth_states() == 1
    with pytest.raises(InvalidOAuthState):
        await store.take_pending_link(late)
