"""Links: round trip, encryption at rest, key rotation, and refreshes that race."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.store import Link, NotFoundInStore, StaleLink, Store, TokenCipher, Tokens, UndecryptableSecret
from tests.kit.db import FakeClock
from tests.store.helpers import raw_rows

ACCESS = "U0FNUExFLWFjY2Vzcy10b2tlbi0xMjM"
REFRESH = "U0FNUExFLXJlZnJlc2gtdG9rZW4tNDU2"


def _tokens(clock: FakeClock, access: str = ACCESS, refresh: str | None = REFRESH) -> Tokens:
    return Tokens.from_lifetimes(
        now=clock(),
        access_token=access,
        expires_in=3600,
        refresh_token=refresh,
        refresh_token_expires_in=604800,
    )


async def _link(store: Store, clock: FakeClock, user: str = "U1", extension: str = "101") -> Link:
    return await store.save_link(
        "T1", user, extension_id=extension, extension_name="Alice Handler", tokens=_tokens(clock)
    )


async def test_saved_link_reads_back_with_tokens_and_aware_times(store: Store, clock: FakeClock) -> None:
    saved = await _link(store, clock)
    got = await store.get_link("T1", "U1")
    assert got == saved
    assert got.extension_id == "101" and got.extension_name == "Alice Handler"
    assert got.tokens.access_token == ACCESS and got.tokens.refresh_token == REFRESH
    assert got.tokens.access_expires_at == clock() + timedelta(hours=1)
    assert got.tokens.refresh_expires_at == clock() + timedelta(days=7)
    assert got.connected_at == got.updated_at == clock()
    assert got.connected_at.tzinfo is not None and got.connected_at.utcoffset() == timedelta(0)
    assert await store.get_link("T1", "U2") is None


async def test_times_in_other_zones_are_stored_as_the_same_instant(store: Store, clock: FakeClock) -> None:
    clock.now = datetime(2026, 3, 2, 11, 30, tzinfo=timezone(timedelta(hours=2)))
    saved = await _link(store, clock)
    assert saved.connected_at == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert saved.connected_at.tzinfo == UTC


async def test_database_row_holds_no_plaintext_token(
    store: Store, clock: FakeClock, database_url: str
) -> None:
    await _link(store, clock)
    rows = await raw_rows(database_url, "SELECT * FROM rc_links")
    assert len(rows) == 1
    dumped = repr(rows)
    assert ACCESS not in dumped and REFRESH not in dumped
    assert "gAAAAA" in dumped  # Fernet ciphertext


async def test_repr_of_a_link_shows_no_token(store: Store, clock: FakeClock) -> None:
    link = await _link(store, clock)
    assert ACCESS not in repr(link) and REFRESH not in repr(link) and ACCESS not in str(link.tokens)
    assert "101" in repr(link)


async def test_saving_again_replaces_the_link_and_moves_its_version(store: Store, clock: FakeClock) -> None:
    first = await _link(store, clock)
    clock.advance(minutes=5)
    again = await store.save_link(
        "T1", "U1", extension_id="102", extension_name=None, tokens=_tokens(clock, access="other")
    )
    assert again.version == first.version + 1
    assert (again.extension_id, again.tokens.access_token, again.connected_at) == ("102", "other", clock())


async def test_update_link_tokens_compares_and_sets_on_the_version(store: Store, clock: FakeClock) -> None:
    link = await _link(store, clock)
    clock.advance(hours=1)
    updated = await store.update_link_tokens(
        "T1", "U1", _tokens(clock, "new-access"), expected_version=link.version
    )
    assert updated.version == link.version + 1
    assert updated.tokens.access_token == "new-access"
    assert updated.updated_at == clock() and updated.connected_at == link.connected_at
    with pytest.raises(StaleLink):
        await store.update_link_tokens("T1", "U1", _tokens(clock, "late"), expected_version=link.version)
    assert (await store.get_link("T1", "U1")) == updated


async def test_racing_refreshes_leave_exactly_one_winner(store: Store, clock: FakeClock) -> None:
    link = await _link(store, clock)
    results = await asyncio.gather(
        *(
            store.update_link_tokens("T1", "U1", _tokens(clock, f"access-{i}"), expected_version=link.version)
            for i in range(6)
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, Link)]
    assert len(winners) == 1
    assert all(isinstance(r, StaleLink) for r in results if not isinstance(r, Link))
    assert (await store.get_link("T1", "U1")) == winners[0]


async def test_updating_a_deleted_link_is_not_found(store: Store, clock: FakeClock) -> None:
    link = await _link(store, clock)
    assert await store.delete_link("T1", "U1") is True
    assert await store.delete_link("T1", "U1") is False
    with pytest.raises(NotFoundInStore):
        await store.update_link_tokens("T1", "U1", _tokens(clock), expected_version=link.version)


async def test_deleting_at_a_version_leaves_a_link_refreshed_since(store: Store, clock: FakeClock) -> None:
    """A refused refresh drops the link only if nobody stored newer tokens meanwhile (another replica)."""
    link = await _link(store, clock)
    refreshed = await store.update_link_tokens(
        "T1", "U1", _tokens(clock, "new"), expected_version=link.version
    )
    assert await store.delete_link("T1", "U1", expected_version=link.version) is False
    assert (await store.get_link("T1", "U1")) == refreshed
    assert await store.delete_link("T1", "U1", expected_version=refreshed.version) is True
    assert (await store.get_link("T1", "U1")) is None


async def test_users_linked_to_an_extension_are_found(store: Store, clock: FakeClock) -> None:
    await _link(store, clock, user="U1", extension="101")
    await _link(store, clock, user="U2", extension="101")
    await _link(store, clock, user="U3", extension="202")
    assert [user for _, user in await store.users_linked_to("101")] == ["U1", "U2"]
    assert await store.users_linked_to("999") == []


async def test_a_workspaces_links_are_deleted_together_and_no_other_workspaces(
    store: Store, clock: FakeClock
) -> None:
    """A workspace that changed RingCentral account forgets its people's links; another keeps its own."""
    await _link(store, clock, user="U1")
    await _link(store, clock, user="U2")
    await store.save_link("T2", "U1", extension_id="101", extension_name="Ana", tokens=_tokens(clock))
    assert await store.delete_team_links("T1") == 2
    assert await store.get_link("T1", "U1") is None and await store.get_link("T1", "U2") is None
    assert await store.get_link("T2", "U1") is not None
    assert await store.delete_team_links("T1") == 0


async def test_key_rotation_keeps_every_link_working(database_url: str, clock: FakeClock) -> None:
    old, new = TokenCipher.generate_key(), TokenCipher.generate_key()
    async with await Store.open(database_url, [old], clock=clock) as before:
        await _link(before, clock)
        await before.set_state("service-tokens", {"access": ACCESS}, secret=True)
        verifier_state = await before.create_oauth_state("T1", "U1", code_verifier="verifier-1")
    async with await Store.open(database_url, [new, old], clock=clock) as both:
        link = await both.get_link("T1", "U1")  # old ciphertext, new key list
        assert link is not None and link.tokens.access_token == ACCESS
        assert await both.reencrypt_secrets() == 4  # access, refresh, verifier, service tokens
        assert await both.reencrypt_secrets() == 0
    async with await Store.open(database_url, [new], clock=clock) as after:
        link = await after.get_link("T1", "U1")
        assert link is not None and link.tokens.refresh_token == REFRESH
        assert await after.get_state("service-tokens") == {"access": ACCESS}
        assert (await after.consume_oauth_state(verifier_state)).code_verifier == "verifier-1"
    async with await Store.open(database_url, [old], clock=clock) as stale:
        with pytest.raises(UndecryptableSecret, match="THREAD_NOTE_SECRET_KEY"):
            await stale.get_link("T1", "U1")
