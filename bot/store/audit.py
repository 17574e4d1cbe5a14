"""The audit log: every write a Slack user makes through the bot, and how it ended; and each workspace
forgotten (`tenants.py`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy import RowMapping

from bot.logs import scrub
from bot.store._base import StoreBase
from bot.store.schema import audit_log

OK = "ok"


class AuditAction(StrEnum):
    ADD = "add"
    EDIT = "edit"
    DELETE = "delete"
    ASSIGN = "assign"
    RESOLVE = "resolve"
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    CONNECT = "connect"
    DISCONNECT = "disconnect"
    FORGET_WORKSPACE = "forget_workspace"  # an operator's, not a Slack user's: see bot/store/tenants.py
    LINK_ACCOUNT = "link_account"  # a workspace admin linked the workspace's RingCentral account
    UNLINK_ACCOUNT = "unlink_account"  # … or removed it (bot/store/tenant_accounts.py)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    team_id: str
    user_id: str
    extension_id: str | None
    action: AuditAction
    thread_id: str | None
    note_ids: tuple[str, ...]
    outcome: str  # "ok", or the class name of the error that stopped the write
    detail: str | None


class AuditLog(StoreBase):
    async def record_audit(
        self,
        *,
        team_id: str,
        user_id: str,
        action: AuditAction | str,
        outcome: str | BaseException = OK,
        extension_id: str | None = None,
        thread_id: str | None = None,
        note_ids: Iterable[str | int] = (),
        detail: str | None = None,
    ) -> AuditEntry:
        """Append one entry. Pass the exception as `outcome` for a failed write; its class name is kept.

        `detail` is scrubbed of anything that looks like a token before it is stored.
        """
        values = {
            "at": self._now(),
            "team_id": team_id,
            "user_id": user_id,
            "extension_id": extension_id,
            "action": AuditAction(action).value,
            "thread_id": thread_id,
            "note_ids": [str(n) for n in note_ids],
            "outcome": type(outcome).__name__ if isinstance(outcome, BaseException) else outcome,
            "detail": None if detail is None else scrub(detail),
        }
        async with self._tx() as conn:
            row = (await conn.execute(audit_log.insert().values(values).returning(*audit_log.c))).one()
        return _entry(row._mapping)

    async def audit_entries(
        self,
        *,
        team_id: str | None = None,
        user_id: str | None = None,
        action: AuditAction | str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Entries matching every given filter, newest first."""
        query = sa.select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit)
        if team_id is not None:
            query = query.where(audit_log.c.team_id == team_id)
        if user_id is not None:
            query = query.where(audit_log.c.user_id == user_id)
        if action is not None:
            query = query.where(audit_log.c.action == AuditAction(action).value)
        if since is not None:
            query = query.where(audit_log.c.at >= since)
        async with self._tx() as conn:
            return [_entry(r._mapping) for r in await conn.execute(query)]


def _entry(row: RowMapping) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=row["at"],
        team_id=row["team_id"],
        user_id=row["user_id"],
        extension_id=row["extension_id"],
        action=AuditAction(row["action"]),
        thread_id=row["thread_id"],
        note_ids=tuple(row["note_ids"]),
        outcome=row["outcome"],
        detail=row["detail"],
    )
