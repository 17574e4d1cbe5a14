"""Handoff digests: one row per subscription and local day (table `digest_runs` in `schema.py`, revision
0004), inserted before posting (the claim), so a day's digest is posted once however many replicas run."""

from __future__ import annotations

from bot.store._base import StoreBase, upsert
from bot.store.schema import digest_runs


class DigestRuns(StoreBase):
    async def claim_digest(self, subscription_id: int, day: str) -> bool:
        async with self._tx() as conn:
            stmt = upsert(conn, digest_runs).values(
                subscription_id=subscription_id, day=day, ts=None, threads=0, created_at=self._now()
            )
            result = await conn.execute(stmt.on_conflict_do_nothing())
        return result.rowcount == 1

    async def finish_digest(self, subscription_id: int, day: str, ts: str | None, threads: int) -> None:
        async with self._tx() as conn:
            await conn.execute(
                digest_runs.update()
                .where(digest_runs.c.subscription_id == subscription_id, digest_runs.c.day == day)
                .values(ts=ts, threads=threads)
            )

    async def drop_digest(self, subscription_id: int, day: str) -> None:
        """Posting failed: free the day so the next run tries again."""
        async with self._tx() as conn:
            await conn.execute(
                digest_runs.delete().where(
                    digest_runs.c.subscription_id == subscription_id, digest_runs.c.day == day
                )
            )
