"""A workspace's own RingCentral account: round trip, encryption at rest, replace and remove (audited), the
compare-and-set of a refreshed credential, pausing, and key rotation."""

from __future__ import annotations

from dataclasses import replace

from bot.store import AuditAction, Store, TenantAccount, TokenCipher
from tests.kit.db import FakeClock
from tests.store.helpers import raw_rows

JWT_TEXT = "eyJhbGciOiJSUzI1NiJ9.c2VydmljZS11c2VyLWp3dA.c2lnbmF0dXJl"
ACME = TenantAccount("T1", "37439510", "jwt", JWT_TEXT, "62000001", "Acme Support")


async def test_a_linked_account_reads_back_and_other_workspaces_have_none(store: Store) -> None:
    await store.save_tenant_account(ACME, by="U_ADMIN")
    got = await store.tenant_account("T1")
    assert got == replace(ACME, version=1)
    assert got is not None and JWT_TEXT not in repr(got)
    assert await store.tenant_account("T2") is None
    assert await store.tenant_accounts() == [got]


async def test_the_credential_is_stored_only_as_ciphertext(store: Store, database_url: str) -> None:
    await store.save_tenant_account(ACME, by="U_ADMIN")
    rows = await raw_rows(database_url, "SELECT * FROM tenant_accounts")
    assert len(rows) == 1 and JWT_TEXT not in repr(rows)


async def test_replacing_moves_the_version_on_and_removing_is_audited_once(store: Store) -> None:
    await store.save_tenant_account(ACME, by="U_ADMIN")
    other = replace(ACME, account_id="40000001", kind="oauth", credential='{"access_token": "x"}')
    await store.save_tenant_account(other, by="U_OWNER")
    got = await store.tenant_account("T1")
    assert got is not None and got.account_id == "40000001" and got.kind == "oauth" and got.version == 2

    assert await store.remove_tenant_account("T1", by="U_OWNER") is True
    assert await store.remove_tenant_account("T1", by="U_OWNER") is False
    assert await store.tenant_account("T1") is None
    entries = await store.audit_entries(team_id="T1")
    assert [(e.action, e.user_id) for e in entries] == [
        (AuditAction.UNLINK_ACCOUNT, "U_OWNER"),
        (AuditAction.LINK_ACCOUNT, "U_OWNER"),
        (AuditAction.LINK_ACCOUNT, "U_ADMIN"),
    ]
    assert all(JWT_TEXT not in (e.detail or "") for e in entries)
    assert "40000001" in (entries[0].detail or "")


async def test_a_refreshed_credential_is_written_only_at_the_version_read(store: Store) -> None:
    await store.save_tenant_account(replace(ACME, kind="oauth", credential="tokens-1"), by="U_ADMIN")
    assert await store.update_tenant_credential("T1", "tokens-2", version=1) is True
    assert await store.update_tenant_credential("T1", "tokens-late", version=1) is False
    got = await store.tenant_account("T1")
    assert got is not None and got.credential == "tokens-2" and got.version == 2
    assert await store.update_tenant_credential("T9", "tokens", version=1) is False


async def test_pausing_keeps_the_reason_and_reactivating_clears_it(store: Store) -> None:
    await store.save_tenant_account(ACME, by="U_ADMIN")
    await store.set_tenant_status("T1", "paused", "RingCentral refused the JWT")
    got = await store.tenant_account("T1")
    assert got is not None and (got.status, got.paused_reason) == ("paused", "RingCentral refused the JWT")
    await store.set_tenant_status("T1", "active", None)
    got = await store.tenant_account("T1")
    assert got is not None and (got.status, got.paused_reason) == ("active", None)


async def test_key_rotation_rewrites_the_credential(
    store: Store, database_url: str, secret_key: str, clock: FakeClock
) -> None:
    await store.save_tenant_account(ACME, by="U_ADMIN")
    before = await raw_rows(database_url, "SELECT credential FROM tenant_accounts")
    new_key = TokenCipher.generate_key()
    async with await Store.open(database_url, [new_key, secret_key], clock=clock) as rotated:
        assert await rotated.reencrypt_secrets() >= 1
    async with await Store.open(database_url, [new_key], clock=clock) as only_new:
        got = await only_new.tenant_account("T1")
    assert got is not None and got.credential == JWT_TEXT
    assert await raw_rows(database_url, "SELECT credential FROM tenant_accounts") != before
