"""Leases: named, expiring claims on work (e.g. "poll resource 123"), so replicas split it without overlap.

Acquiring is one atomic `INSERT … ON CONFLICT (name) DO UPDATE … WHERE expired OR mine` on both backends:
PostgreSQL locks the conflicting row and re-checks the WHERE after a concurrent winner commits; SQLite has a
single writer. Time comes from the store's clock, never the database's, so expiry is testable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import RowMapping

from bot.store._base import StoreBase, upsert
from bot.store.schema import leases


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    acquired_at: datetime
    expires_at: datetime


class Leases(StoreBase):
    async def try_acquire_lease(self, name: str, holder: str, ttl: timedelta) -> Lease | None:
        """Take the lease if it is free, expired, or already ours (then it is extended); else None."""
        now = self._now()
        async with self._tx() as conn:
            stmt = upsert(conn, leases).values(
                name=name, holder=holder, acquired_at=now, expires_at=now + ttl
            )
            mine = leases.c.holder == stmt.excluded.holder
            stmt = stmt.on_conflict_do_update(
                index_elements=[leases.c.name],
                set_={
                    "holder": stmt.excluded.holder,
                    "acquired_at": sa.case((mine, leases.c.acquired_at), else_=stmt.excluded.acquired_at),
                    "expires_at": stmt.excluded.expires_at,
                },
                where=sa.or_(leases.c.expires_at <= now, mine),
            ).returning(*leases.c)
            row = (await conn.execute(stmt)).first()
        return None if row is None else _lease(row._mapping)

    async def renew_lease(self, name: str, holder: str, ttl: timedelta) -> Lease | None:
        """Extend a lease `holder` still holds; None if it expired or moved (then stop: not ours now)."""
        now = self._now()
        async with self._tx() as conn:
            row = (
                await conn.execute(
                    leases.update()
                    .where(leases.c.name == name, leases.c.holder == holder, leases.c.expires_at > now)
                    .values(expires_at=now + ttl)
                    .returning(*leases.c)
                )
            ).first()
        return None if row is None else _lease(row._mapping)

    async def release_lease(self, name: str, holder: str) -> bool:
        """Give the lease up at once (on shutdown); False if `holder` did not hold it."""
        async with self._tx() as conn:
            result = await conn.execute(
                leases.delete().where(leases.c.name == name, leases.c.holder == holder)
            )
        return bool(result.rowcount)

    async def current_lease(self, name: str) -> Lease | None:
        """Who holds `name` now (None when free or expired)."""
        async with self._tx() as conn:
            row = (
                await conn.execute(
                    sa.select(leases).where(leases.c.name == name, leases.c.expires_at > self._now())
                )
            ).first()
        return None if row is None else _lease(row._mapping)


def _lease(row: RowMapping) -> Lease:
    return Lease(
        name=row["name"], holder=row["holder"], acquired_at=row["acquired_at"], expires_at=row["expires_at"]
    )
