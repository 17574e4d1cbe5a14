"""What the change feed keeps besides its cursor: the RingCentral threads it has seen (`rc_threads`, the
thread cache, read by deliveries and two-way too) and each resource's poll health (`feed_resources`), tables
in `schema.py`, revision 0002."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store._base import StoreBase, from_row, put, upsert
from bot.store.schema import feed_resources, rc_threads


@dataclass(frozen=True)
class FeedResource:
    resource_id: str
    last_ok_at: datetime | None
    last_reconciled_at: datetime | None
    last_error: str | None
    error_count: int
    next_retry_at: datetime | None


async def save_threads(
    conn: AsyncConnection, threads: Iterable[tuple[str, str, dict[str, Any]]], now: datetime
) -> None:
    """Cache `threads` (id, resource id, data) on `conn`: `enqueue` does it in the outbox's transaction."""
    for thread_id, resource_id, data in threads:
        stmt = upsert(conn, rc_threads).values(
            thread_id=thread_id, resource_id=resource_id, data=data, updated_at=now
        )
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[rc_threads.c.thread_id],
                set_={
                    "resource_id": stmt.excluded.resource_id,
                    "data": stmt.excluded.data,
                    "updated_at": now,
                },
            )
        )


class FeedState(StoreBase):
    # --- thread cache --------------------------------------------------------------------------------------

    async def cached_threads(self, thread_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = list(dict.fromkeys(thread_ids))
        out: dict[str, dict[str, Any]] = {}
        async with self._tx() as conn:
            for start in range(0, len(ids), 500):
                rows = (
                    await conn.execute(
                        sa.select(rc_threads.c.thread_id, rc_threads.c.data).where(
                            rc_threads.c.thread_id.in_(ids[start : start + 500])
                        )
                    )
                ).all()
                out.update({r[0]: r[1] for r in rows})
        return out

    async def cache_threads(self, threads: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
        async with self._tx() as conn:
            await save_threads(conn, threads, self._now())

    # --- feed health per resource ------------------------------------------------------------------------

    async def feed_resource_states(self) -> dict[str, FeedResource]:
        async with self._tx() as conn:
            rows = (await conn.execute(sa.select(feed_resources))).all()
        return {r.resource_id: from_row(FeedResource, r._mapping) for r in rows}

    async def feed_resources_ok(self, resource_ids: Iterable[str], *, reconciled: bool = False) -> None:
        """Mark resources polled fine (and reconciled), in one statement for all of them: the feed calls this
        on every poll with every subscribed resource."""
        now = self._now()
        ok: dict[str, Any] = {"last_ok_at": now, "last_error": None, "error_count": 0, "next_retry_at": None}
        if reconciled:
            ok["last_reconciled_at"] = now
        rows: list[dict[str, Any]] = [{"resource_id": rid, **ok} for rid in dict.fromkeys(resource_ids)]
        if not rows:
            return
        async with self._tx() as conn:
            await put(conn, feed_resources, rows, key=[feed_resources.c.resource_id])

    async def feed_resource_failed(self, resource_id: str, error: str, retry_at: datetime) -> int:
        """Record an error and the time before which the resource is left alone; returns the error count."""
        async with self._tx() as conn:
            row = (
                await conn.execute(
                    sa.select(feed_resources.c.error_count).where(feed_resources.c.resource_id == resource_id)
                )
            ).first()
            count = (row[0] if row else 0) + 1
            values = {
                "resource_id": resource_id,
                "last_error": error[:255],
                "error_count": count,
                "next_retry_at": retry_at,
            }
            await put(conn, feed_resources, values, key=[feed_resources.c.resource_id])
        return count
