"""Workspaces with their own RingCentral account (issue 16): a Slack workspace (`T…`, or an org `E…`) linked
to a RingCentral account by a workspace admin, with the credential of the account's service user.

The credential is the JWT text (`kind` "jwt") or the OAuth `TokenSet` as JSON (`kind` "oauth", from a sign-in
as the service user), stored only as ciphertext (`TokenCipher`, as `rc_links`' tokens). `version` moves on
with every change of the credential: a token refresh writes back with `update_tenant_credential`'s
compare-and-set, so two replicas refreshing at once cannot lose the winner's tokens.

A workspace without a row uses the deployment's account (RINGCENTRAL_JWT, account key ""), exactly as before
tenants had accounts. Linking, replacing and removing are audited (`link_account`, `unlink_account`, with
the admin's user id); `forget_workspace` (`tenants.py`) deletes the row with the rest of the workspace.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy import RowMapping

from bot.logs import get_logger
from bot.store._base import StoreBase, upsert
from bot.store.audit import OK, AuditAction
from bot.store.schema import audit_log, tenant_accounts

log = get_logger(__name__)

JWT, OAUTH = "jwt", "oauth"
ACTIVE, PAUSED = "active", "paused"


@dataclass(frozen=True)
class TenantAccount:
    """A workspace's RingCentral account. `credential` is decrypted (never shown by `repr`); `version` is
    what `update_tenant_credential` compares against (0 for an account not saved yet)."""

    team_id: str
    account_id: str
    kind: str  # JWT | OAUTH
    credential: str = field(repr=False)
    extension_id: str  # the service user
    account_name: str | None = None  # how admins see it: the service user's name (no API here names accounts)
    status: str = ACTIVE
    paused_reason: str | None = None
    version: int = 0


class TenantAccounts(StoreBase):
    async def tenant_account(self, team_id: str) -> TenantAccount | None:
        async with self._tx() as conn:
            row = (await conn.execute(sa.select(tenant_accounts).where(_key(team_id)))).first()
        return None if row is None else self._tenant(row._mapping)

    async def tenant_accounts(self) -> list[TenantAccount]:
        """Every workspace's account, whatever its status, by team id."""
        async with self._tx() as conn:
            rows = await conn.execute(sa.select(tenant_accounts).order_by(tenant_accounts.c.team_id))
            return [self._tenant(r._mapping) for r in rows]

    async def save_tenant_account(self, account: TenantAccount, *, by: str) -> None:
        """Link the workspace to the account, or replace its link (a new credential, maybe a new account):
        the row's version moves on either way. Audited as `link_account` by `by` (the admin's user id)."""
        now = self._now()
        values = {
            "team_id": account.team_id,
            "account_id": account.account_id,
            "kind": account.kind,
            "credential": self._cipher.encrypt(account.credential),
            "extension_id": account.extension_id,
            "account_name": account.account_name,
            "status": account.status,
            "paused_reason": account.paused_reason,
            "linked_by": by[:32],
            "linked_at": now,
            "updated_at": now,
            "version": 1,
        }
        detail = f"{account.kind} credential of account {account.account_id} ({account.account_name or '?'})"
        async with self._tx() as conn:
            stmt = upsert(conn, tenant_accounts).values(values)
            replaced = {k: stmt.excluded[k] for k in values if k not in ("team_id", "version")}
            stmt = stmt.on_conflict_do_update(
                index_elements=[tenant_accounts.c.team_id],
                set_={**replaced, "version": tenant_accounts.c.version + 1},
            )
            await conn.execute(stmt)
            await conn.execute(_audit(account.team_id, by, AuditAction.LINK_ACCOUNT, now, detail))
        log.info(
            "store.tenant_account_linked",
            team_id=account.team_id,
            account_id=account.account_id,
            kind=account.kind,
            by=by,
        )

    async def remove_tenant_account(self, team_id: str, *, by: str) -> bool:
        """Forget the workspace's account (it uses the deployment's again). False when none was linked;
        audited as `unlink_account` only when one was."""
        now = self._now()
        async with self._tx() as conn:
            gone = (
                await conn.execute(
                    tenant_accounts.delete().where(_key(team_id)).returning(tenant_accounts.c.account_id)
                )
            ).first()
            if gone is None:
                return False
            detail = f"account {gone.account_id}"
            await conn.execute(_audit(team_id, by, AuditAction.UNLINK_ACCOUNT, now, detail))
        log.info("store.tenant_account_removed", team_id=team_id, account_id=gone.account_id, by=by)
        return True

    async def set_tenant_status(self, team_id: str, status: str, reason: str | None) -> None:
        """Pause (with the reason an admin reads) or reactivate (reason None) the workspace's account."""
        async with self._tx() as conn:
            await conn.execute(
                tenant_accounts.update()
                .where(_key(team_id))
                .values(
                    status=status,
                    paused_reason=None if reason is None else reason[:255],
                    updated_at=self._now(),
                )
            )

    async def update_tenant_credential(self, team_id: str, credential: str, *, version: int) -> bool:
        """Store a refreshed credential if the row is still at `version` (compare-and-set). False: another
        replica refreshed first (read the account again and use its credential), or the link is gone."""
        async with self._tx() as conn:
            result = await conn.execute(
                tenant_accounts.update()
                .where(_key(team_id), tenant_accounts.c.version == version)
                .values(
                    credential=self._cipher.encrypt(credential),
                    version=tenant_accounts.c.version + 1,
                    updated_at=self._now(),
                )
            )
        return bool(result.rowcount)

    def _tenant(self, row: RowMapping) -> TenantAccount:
        return TenantAccount(
            team_id=row["team_id"],
            account_id=row["account_id"],
            kind=row["kind"],
            credential=self._cipher.decrypt(row["credential"]),
            extension_id=row["extension_id"],
            account_name=row["account_name"],
            status=row["status"],
            paused_reason=row["paused_reason"],
            version=row["version"],
        )


def _key(team_id: str) -> sa.ColumnElement[bool]:
    return tenant_accounts.c.team_id == team_id


def _audit(team_id: str, by: str, action: AuditAction, at: object, detail: str) -> sa.Insert:
    return audit_log.insert().values(
        at=at,
        team_id=team_id,
        user_id=by[:32],
        action=action.value,
        note_ids=[],
        outcome=OK,
        detail=detail,
    )
