"""Leases: named, expiring claims on work (e.g. "poll resource 123"), so replicas split it without overlap.

Acquiring is one atomic `INSERT … ON CONFLICT (name) DO UPDATE … WHERE expired OR mine` on both backends:
PostgreSQL locks the conflicting row and re-checks the WHERE after a concurrent winner commits; SQLite has a
single writer. Time comes from the store's clock, never the database's, so expiry is testable.

`claim_leases` takes many at once (e.g. one per Slack channel with work waiting): it selects the free ones
`FOR UPDATE SKIP LOCKED`, so replicas claiming together never wait on each other's rows and never both win a
row (the `UPDATE` re-checks "free or mine"); SQLite ignores the locking clause and has a single writer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

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

    async def claim_leases(
        self, names: Sequence[str], holder: str, ttl: timedelta, *, limit: int
    ) -> list[Lease]:
        """Hold up to `limit` of `names`: those already ours (extended) first, then free or expired ones in
        the order given. Rows another replica is claiming right now are skipped, never waited for.
        Returns each lease won *as it was before*: its last holder and when that holder's claim ended (a
        released lease keeps both), so a new holder can tell a handover from a lease of its own."""
        if not names or limit <= 0:
            return []
        now = self._now()
        wanted = list(dict.fromkeys(names))
        async with self._tx() as conn:
            # Rows must exist to be locked; sorted, so concurrent inserts take their locks in one order.
            stmt = upsert(conn, leases).values(
                [
                    {"name": n, "holder": "", "acquired_at": _NEVER, "expires_at": _NEVER}
                    for n in sorted(wanted)
                ]
            )
            await conn.execute(stmt.on_conflict_do_nothing(index_elements=[leases.c.name]))
            free_or_mine = sa.or_(leases.c.expires_at <= now, leases.c.holder == holder)
            rows = (
                await conn.execute(
                    sa.select(leases)
                    .where(leases.c.name.in_(wanted), free_or_mine)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            before = {r.name: _lease(r._mapping) for r in rows}
            mine = {n for n, lease in before.items() if lease.holder == holder}
            free = set(before) - mine
            chosen = [n for n in wanted if n in mine] + [n for n in wanted if n in free]
            chosen = chosen[: max(limit, len(mine))]
            if not chosen:
                return []
            result = await conn.execute(
                leases.update()
                .where(leases.c.name.in_(chosen), free_or_mine)
                .values(
                    holder=holder,
                    acquired_at=sa.case((leases.c.holder == holder, leases.c.acquired_at), else_=now),
                    expires_at=now + ttl,
                )
                .returning(leases.c.name)
            )
            got = {r[0] for r in result.all()}
        return [before[n] for n in chosen if n in got]

    async def release_leases(self, names: Sequence[str], holder: str) -> int:
        """Give up those of `names` that `holder` holds: they expire now (the row keeps who held it and until
        when, for the next claimer to see)."""
        if not names:
            return 0
        async with self._tx() as conn:
            result = await conn.execute(
                leases.update()
                .where(leases.c.name.in_(list(names)), leases.c.holder == holder)
                .values(expires_at=self._now())
            )
        return int(result.rowcount)

    async def live_leases(self, prefix: str) -> list[Lease]:
        """Unexpired leases whose name starts with `prefix` (e.g. the replicas' heartbeats)."""
        async with self._tx() as conn:
            rows = (
                await conn.execute(
                    sa.select(leases).where(
                        leases.c.name.startswith(prefix, autoescape=True), leases.c.expires_at > self._now()
                    )
                )
            ).all()
        return [_lease(r._mapping) for r in rows]


_NEVER = datetime(1970, 1, 1, tzinfo=UTC)  # a free claim row: expired since forever


def _lease(row: RowMapping) -> Lease:
    return Lease(
        name=row["name"], holder=row["holder"], acquired_at=row["acquired_at"], expires_at=row["expires_at"]
    )
