"""The durable outbox: one row per change a subscription has to post (table `outbox` in `schema.py`, revision
0002); the sender works through it channel by channel.

The outbox's key (subscription, note id, note version) is unique: `enqueue` inserts what is new and ignores
the rest, in the same transaction as the feed's cursor and the thread cache, so the cursor never moves past a
change that is not durably queued.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.store._base import StoreBase, from_row, upsert
from bot.store.feed_state import save_threads
from bot.store.schema import kv_state, outbox, subscriptions
from bot.store.subscriptions import ACTIVE

# `mark_attempt`'s statements, built once (a post makes one; building and keying it anew each time cost more
# than running it): unconditional, and only if the row is still pending and untried, or tried at `seen`.
_MARK = outbox.update().where(outbox.c.id == sa.bindparam("row")).values(attempted_at=sa.bindparam("now"))
_MARK_UNTRIED = _MARK.where(outbox.c.status == "pending", outbox.c.attempted_at.is_(None))
_MARK_UNCHANGED = _MARK.where(outbox.c.status == "pending", outbox.c.attempted_at == sa.bindparam("seen"))


@dataclass(frozen=True)
class OutboxEntry:
    """A change to post: `kind` is "note" (created or edited), "deleted", or "thread" (state changed)."""

    subscription_id: int
    note_id: str
    version: str
    kind: str
    thread_id: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OutboxRow:
    id: int
    subscription_id: int
    note_id: str
    version: str
    kind: str
    thread_id: str
    payload: dict[str, Any]
    status: str
    created_at: datetime
    attempts: int
    attempted_at: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None


class Outbox(StoreBase):
    async def enqueue(
        self,
        entries: Iterable[OutboxEntry],
        *,
        threads: Iterable[tuple[str, str, dict[str, Any]]] = (),
        state: Mapping[str, Any] | None = None,
        account: str = "",
    ) -> int:
        """Queue what is new (existing keys are ignored), cache `threads` (id, resource id, data) of
        `account`'s feed and set named `state` (the feed's cursor), all in one transaction. Returns how many
        rows were added."""
        now = self._now()
        added = 0
        rows = [
            {
                "subscription_id": entry.subscription_id,
                "note_id": entry.note_id,
                "version": entry.version,
                "kind": entry.kind,
                "thread_id": entry.thread_id,
                "payload": entry.payload,
                "status": "pending",
                "created_at": now,
                "attempts": 0,
            }
            for entry in entries
        ]
        async with self._tx() as conn:
            await save_threads(conn, threads, now, account)
            if rows:
                # One statement for the lot (SQLAlchemy sends it as multi-row INSERTs, the rows in the order
                # given, so ids keep the order of the entries): a burst of 5,000 changes is one poll.
                keys = [outbox.c.subscription_id, outbox.c.note_id, outbox.c.version]
                stmt = upsert(conn, outbox).on_conflict_do_nothing(index_elements=keys)
                added = len((await conn.execute(stmt.returning(outbox.c.id), rows)).all())
            for name, value in (state or {}).items():
                stmt = upsert(conn, kv_state).values(
                    name=name, value=value, secret_value=None, updated_at=now
                )
                await conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[kv_state.c.name],
                        set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
                    )
                )
        return added

    async def pending_outbox(
        self, limit: int = 200, *, channels: Iterable[tuple[str, str]] | None = None
    ) -> list[OutboxRow]:
        """Rows waiting, oldest first, for active subscriptions only (a paused one keeps its rows). Rows
        waiting for a retry (`next_attempt_at`) are included: the sender keeps each channel in order.
        `channels` ((team, channel) pairs) keeps only the rows of those channels (a replica's claims)."""
        query = (
            sa.select(outbox)
            .join(subscriptions, subscriptions.c.id == outbox.c.subscription_id)
            .where(outbox.c.status == "pending", subscriptions.c.status == ACTIVE)
            .order_by(outbox.c.id)
            .limit(limit)
        )
        if channels is not None:
            pairs = list(channels)
            if not pairs:
                return []
            query = query.where(sa.tuple_(subscriptions.c.team_id, subscriptions.c.channel_id).in_(pairs))
        async with self._tx() as conn:
            rows = (await conn.execute(query)).all()
        return [from_row(OutboxRow, r._mapping) for r in rows]

    async def channels_with_pending(self) -> list[tuple[str, str]]:
        """(team, channel) of every active subscription with rows waiting, the longest-waiting first."""
        query = (
            sa.select(subscriptions.c.team_id, subscriptions.c.channel_id, sa.func.min(outbox.c.id))
            .join(outbox, subscriptions.c.id == outbox.c.subscription_id)
            .where(outbox.c.status == "pending", subscriptions.c.status == ACTIVE)
            .group_by(subscriptions.c.team_id, subscriptions.c.channel_id)
            .order_by(sa.func.min(outbox.c.id))
        )
        async with self._tx() as conn:
            rows = (await conn.execute(query)).all()
        return [(r[0], r[1]) for r in rows]

    async def get_outbox(self, row_id: int) -> OutboxRow | None:
        async with self._tx() as conn:
            row = (await conn.execute(sa.select(outbox).where(outbox.c.id == row_id))).first()
        return None if row is None else from_row(OutboxRow, row._mapping)

    async def mark_attempt(self, row_id: int, *, seen: OutboxRow | None = None) -> bool:
        """Recorded (and committed) before posting, so a crash after the post is repaired by lookup.

        `seen`: the row as the caller read it (maybe a moment ago). Then the mark is made only if the row is
        still pending and no other try began since (its `attempted_at` unchanged), and False says it was not:
        the caller reads the row again instead of posting from what it saw."""
        params: dict[str, Any] = {"row": row_id, "now": self._now()}
        if seen is None:
            query = _MARK
        elif seen.attempted_at is None:
            query = _MARK_UNTRIED
        else:
            query, params["seen"] = _MARK_UNCHANGED, seen.attempted_at
        async with self._tx(write=True) as conn:
            result = await conn.execute(query, params)
        return result.rowcount > 0

    async def finish_outbox(self, row_id: int, status: str = "done", error: str | None = None) -> None:
        async with self._tx() as conn:
            await conn.execute(
                outbox.update()
                .where(outbox.c.id == row_id)
                .values(status=status, done_at=self._now(), last_error=error[:255] if error else None)
            )

    async def retry_outbox(
        self, row_id: int, at: datetime, error: str, *, attempt: bool = True, posted: bool = True
    ) -> None:
        """Try again at `at`. `posted=False` when the failure proves nothing was posted (a 429), so the next
        try needs no lookup first."""
        values: dict[str, Any] = {"next_attempt_at": at, "last_error": error[:255]}
        if attempt:
            values["attempts"] = outbox.c.attempts + 1
        if not posted:
            values["attempted_at"] = None
        async with self._tx() as conn:
            await conn.execute(outbox.update().where(outbox.c.id == row_id).values(values))

    async def outbox_depths(self) -> dict[int, int]:
        """Pending rows per subscription."""
        async with self._tx() as conn:
            rows = (
                await conn.execute(
                    sa.select(outbox.c.subscription_id, sa.func.count())
                    .where(outbox.c.status == "pending")
                    .group_by(outbox.c.subscription_id)
                )
            ).all()
        return {int(r[0]): int(r[1]) for r in rows}

    async def oldest_pending(self) -> dict[int, datetime]:
        async with self._tx() as conn:
            rows = (
                await conn.execute(
                    sa.select(outbox.c.subscription_id, sa.func.min(outbox.c.created_at))
                    .where(outbox.c.status == "pending")
                    .group_by(outbox.c.subscription_id)
                )
            ).all()
        # `min` keeps the column's type, so these come back as aware UTC datetimes
        return {int(sub_id): created for sub_id, created in rows if created is not None}

    async def outbox_rows(self, subscription_id: int | None = None) -> list[OutboxRow]:
        query = sa.select(outbox).order_by(outbox.c.id)
        if subscription_id is not None:
            query = query.where(outbox.c.subscription_id == subscription_id)
        async with self._tx() as conn:
            rows = (await conn.execute(query)).all()
        return [from_row(OutboxRow, r._mapping) for r in rows]
