"""Audit log, named state, and the translation of driver errors."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.store import AuditAction, Conflict, Store, StoreError
from bot.store.engine import make_engine
from bot.store.errors import translated
from bot.store.schema import leases
from bot.store.urls import async_url
from tests.kit.db import FakeClock
from tests.store.helpers import raw_rows


async def test_audit_entries_record_who_did_what_and_how_it_ended(store: Store, clock: FakeClock) -> None:
    added = await store.record_audit(
        team_id="T1", user_id="U1", extension_id="101", action="add", thread_id="th-1", note_ids=["n-1"]
    )
    clock.advance(seconds=1)
    failed = await store.record_audit(
        team_id="T1",
        user_id="U2",
        action=AuditAction.DELETE,
        note_ids=[7],
        outcome=PermissionError("author only"),
    )
    assert (added.action, added.outcome, added.note_ids) == (AuditAction.ADD, "ok", ("n-1",))
    assert (added.at, failed.at) == (clock() - timedelta(seconds=1), clock())
    assert failed.outcome == "PermissionError" and failed.note_ids == ("7",)
    assert await store.audit_entries(team_id="T1") == [failed, added]
    assert await store.audit_entries(user_id="U1") == [added]
    assert await store.audit_entries(action="delete") == [failed]
    assert await store.audit_entries(since=clock()) == [failed]
    assert await store.audit_entries(team_id="T2") == []


async def test_audit_refuses_unknown_actions(store: Store) -> None:
    with pytest.raises(ValueError, match="launch"):
        await store.record_audit(team_id="T1", user_id="U1", action="launch")


async def test_audit_detail_is_scrubbed_of_tokens(store: Store) -> None:
    entry = await store.record_audit(
        team_id="T1", user_id="U1", action="connect", outcome="AuthExpired", detail="sent Bearer abc.def-123"
    )
    assert "abc.def-123" not in (entry.detail or "")


async def test_named_state_round_trips_and_secret_state_is_encrypted(store: Store, database_url: str) -> None:
    assert await store.get_state("cursor") is None
    await store.set_state("cursor", {"syncToken": "s-1", "n": 3})
    await store.set_state("cursor", {"syncToken": "s-2", "n": 4})
    assert await store.get_state("cursor") == {"syncToken": "s-2", "n": 4}
    await store.set_state("service", {"access_token": "svc-access-token-zzz"}, secret=True)
    assert await store.get_state("service") == {"access_token": "svc-access-token-zzz"}
    assert "svc-access-token-zzz" not in repr(await raw_rows(database_url, "SELECT * FROM kv_state"))
    assert await store.delete_state("service") is True
    assert await store.get_state("service") is None


async def test_unique_violations_become_conflict(store: Store, database_url: str, clock: FakeClock) -> None:
    engine = make_engine(async_url(database_url))
    row = {"name": "n", "holder": "h", "acquired_at": clock(), "expires_at": clock()}
    try:
        async with engine.begin() as conn:
            await conn.execute(leases.insert().values(row))
        with pytest.raises(Conflict):
            async with translated("test"), engine.begin() as conn:
                await conn.execute(leases.insert().values(row))
    finally:
        await engine.dispose()


async def test_other_database_errors_become_store_errors(store: Store, database_url: str) -> None:
    engine = make_engine(async_url(database_url))
    try:
        with pytest.raises(StoreError) as caught:
            async with translated("test"), engine.connect() as conn:
                await conn.execute(sa.text("SELECT * FROM no_such_table"))
        assert type(caught.value) is StoreError
    finally:
        await engine.dispose()


async def test_a_clock_without_time_zone_is_refused(database_url: str, secret_key: str) -> None:
    async with await Store.open(database_url, [secret_key], clock=datetime.now) as naive:
        with pytest.raises(ValueError, match="aware"):
            await naive.set_state("x", 1)
