"""What the change feed keeps besides its cursor: the RingCentral threads it has seen (`rc_threads`, the
thread cache, read by deliveries and two-way too) and each resource's poll health (`feed_resources`), tables
in `schema.py`, revision 0002.

Every good poll marks every subscribed resource polled fine. Written row by row that cost a statement
parameter set per subscribed resource on each poll (ten thousand every 30 s, most of an idle poll's CPU, and
as many dead rows for PostgreSQL to vacuum), so the time of the last good poll is kept once (`kv_state`
"feed:ok_at") and read back as each healthy resource's `last_ok_at`; only rows that change (an error set or
cleared, a reconciliation) are written.

Every row and every query carries the RingCentral account whose feed it is (`account`, revision 0010): ""
for the deployment's own (RINGCENTRAL_JWT), else the account id a workspace linked. One account's feed never
reads another's cached threads or health, even where ids coincide. `scoped` names an account's keys in
`kv_state` and its leases: the deployment's keep their names from before accounts, so an upgrade resyncs
nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store._base import StoreBase, from_row, put, upsert
from bot.store.schema import feed_resources, kv_state, rc_threads, tenant_accounts

OK_KEY = "feed:ok_at"
DEPLOYMENT = ""  # the account key of the deployment's own account (RINGCENTRAL_JWT)
_FAILING = sa.or_(
    feed_resources.c.error_count > 0,
    feed_resources.c.last_error.is_not(None),
    feed_resources.c.next_retry_at.is_not(None),
)


def scoped(name: str, account: str) -> str:
    """The `kv_state` key (or lease name) `name` of `account`'s feed: `name` itself for the deployment's
    account, `name:<account>` for any other."""
    return f"{name}:{account}" if account else name


@dataclass(frozen=True)
class FeedResource:
    resource_id: str
    last_ok_at: datetime | None
    last_reconciled_at: datetime | None
    last_error: str | None
    error_count: int
    next_retry_at: datetime | None


async def save_threads(
    conn: AsyncConnection, threads: Iterable[tuple[str, str, dict[str, Any]]], now: datetime, account: str
) -> None:
    """Cache `threads` (id, resource id, data) of `account` on `conn`: `enqueue` does it in the outbox's
    transaction."""
    for thread_id, resource_id, data in threads:
        stmt = upsert(conn, rc_threads).values(
            thread_id=thread_id, account_id=account, resource_id=resource_id, data=data, updated_at=now
        )
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[rc_threads.c.thread_id, rc_threads.c.account_id],
                set_={
                    "resource_id": stmt.excluded.resource_id,
                    "data": stmt.excluded.data,
                    "updated_at": now,
                },
            )
        )


class FeedState(StoreBase):
    # --- thread cache --------------------------------------------------------------------------------------

    async def cached_threads(self, thread_ids: Iterable[str], *, account: str) -> dict[str, dict[str, Any]]:
        ids = list(dict.fromkeys(thread_ids))
        out: dict[str, dict[str, Any]] = {}
        async with self._tx() as conn:
            for start in range(0, len(ids), 500):
                rows = (
                    await conn.execute(
                        sa.select(rc_threads.c.thread_id, rc_threads.c.data).where(
                            rc_threads.c.account_id == account,
                            rc_threads.c.thread_id.in_(ids[start : start + 500]),
                        )
                    )
                ).all()
                out.update({r[0]: r[1] for r in rows})
        return out

    async def cache_threads(
        self, threads: Iterable[tuple[str, str, dict[str, Any]]], *, account: str
    ) -> None:
        async with self._tx() as conn:
            await save_threads(conn, threads, self._now(), account)

    # --- whose feed: the workspaces that linked an account of their own ----------------------------------

    async def linked_accounts(self) -> dict[str, tuple[str, str]]:
        """team id → (account id, status) of every workspace that linked a RingCentral account of its own
        (`tenant_accounts`, revision 0009), read without its credential: what routing needs on every poll.
        A workspace missing here is the deployment's."""
        columns = (tenant_accounts.c.team_id, tenant_accounts.c.account_id, tenant_accounts.c.status)
        async with self._tx() as conn:
            rows = await conn.execute(sa.select(*columns))
            return {team: (account, status) for team, account, status in rows}

    # --- feed health per resource ------------------------------------------------------------------------

    async def feed_resource_states(
        self, resource_ids: Iterable[str] = (), *, account: str
    ) -> dict[str, FeedResource]:
        """Every resource's health in `account`'s feed; a healthy one's `last_ok_at` is the last good poll's
        (see the module). `resource_ids` without a row of their own (never failed, never reconciled) are
        healthy as of the mark."""
        async with self._tx() as conn:
            mark = await _ok_mark(conn, account)
            query = sa.select(*_RESOURCE_COLUMNS).where(feed_resources.c.account_id == account)
            rows = (await conn.execute(query)).all()
        states = {r.resource_id: from_row(FeedResource, r._mapping) for r in rows}
        if mark is None:
            return states
        for rid in resource_ids:
            states.setdefault(rid, FeedResource(rid, None, None, None, 0, None))
        return {
            rid: replace(st, last_ok_at=mark)
            if st.error_count == 0 and (st.last_ok_at is None or st.last_ok_at < mark)
            else st
            for rid, st in states.items()
        }

    async def feed_resources_ok(
        self, resource_ids: Iterable[str], *, account: str, reconciled: bool = False
    ) -> None:
        """Mark resources polled fine (and reconciled). Not reconciled, `resource_ids` are the poll's, every
        subscribed resource: that costs one row (the mark, see the module) plus the rows of those that had an
        error. Reconciled ones get their own row (their `last_reconciled_at`)."""
        now = self._now()
        ids = list(dict.fromkeys(resource_ids))
        if not ids:
            return
        ok: dict[str, Any] = {
            "account_id": account, "last_ok_at": now, "last_error": None, "error_count": 0,
            "next_retry_at": None,
        }  # fmt: skip
        async with self._tx() as conn:
            if reconciled:
                rows = [{"resource_id": rid, **ok, "last_reconciled_at": now} for rid in ids]
                await put(conn, feed_resources, rows, key=_RESOURCE_KEY)
                return
            mark = {
                "name": scoped(OK_KEY, account), "value": now.isoformat(), "secret_value": None,
                "updated_at": now,
            }  # fmt: skip
            await put(conn, kv_state, mark, key=[kv_state.c.name])
            mine = feed_resources.c.account_id == account
            failing = set(
                (await conn.execute(sa.select(feed_resources.c.resource_id).where(mine, _FAILING))).scalars()
            )
            cleared = [{"resource_id": rid, **ok} for rid in ids if rid in failing]
            if cleared:
                await put(conn, feed_resources, cleared, key=_RESOURCE_KEY)

    async def feed_resources_failed(
        self, resource_ids: Iterable[str], error: str, retry_at: Callable[[int], datetime], *, account: str
    ) -> dict[str, int]:
        """Record an error for each resource and the time before which it is left alone, `retry_at(errors in a
        row)`, in one transaction whatever their number (a failed poll fails them all). Returns each one's
        count of errors in a row."""
        ids = list(dict.fromkeys(resource_ids))
        counts: dict[str, int] = {}
        async with self._tx() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                rows = await conn.execute(
                    sa.select(feed_resources.c.resource_id, feed_resources.c.error_count).where(
                        feed_resources.c.account_id == account, feed_resources.c.resource_id.in_(chunk)
                    )
                )
                counts.update({rid: count + 1 for rid, count in rows})
            counts.update({rid: 1 for rid in ids if rid not in counts})
            values = [
                {
                    "resource_id": rid,
                    "account_id": account,
                    "last_error": error[:255],
                    "error_count": n,
                    "next_retry_at": retry_at(n),
                }
                for rid, n in counts.items()
            ]
            if values:
                await put(conn, feed_resources, values, key=_RESOURCE_KEY)
        return counts


_RESOURCE_KEY = [feed_resources.c.resource_id, feed_resources.c.account_id]
_RESOURCE_COLUMNS = [c for c in feed_resources.c if c.name != "account_id"]


async def _ok_mark(conn: AsyncConnection, account: str) -> datetime | None:
    name = scoped(OK_KEY, account)
    value = (await conn.execute(sa.select(kv_state.c.value).where(kv_state.c.name == name))).scalar()
    return datetime.fromisoformat(value) if value else None
