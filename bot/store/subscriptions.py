"""Subscriptions: a Slack channel following a RingCentral resource, with its filters, its options (two-way,
digest, quiet hours) and whether it is paused (table `subscriptions` in `schema.py`, revision 0002; options
from 0004). Deleting one deletes what it still had to post in the outbox.

Every subscribe, pause, resume and unsubscribe also writes a new mark (`kv_state` "subscriptions:changed") in
its transaction, so `subscriptions_snapshot` can keep them all in memory until one changes, on any replica.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store._base import StoreBase, from_row, put
from bot.store.schema import kv_state, outbox, subscriptions

ACTIVE = "active"
PAUSED = "paused"
CHANGED_KEY = "subscriptions:changed"


@dataclass(frozen=True)
class Subscription:
    id: int
    team_id: str
    channel_id: str
    channel_name: str | None
    channel_private: bool
    resource_id: str
    resource_name: str
    filters: dict[str, Any]
    broadcast: bool
    deleted_mode: str
    created_by: str
    created_at: datetime
    start_at: datetime
    status: str
    paused_reason: str | None
    paused_at: datetime | None
    last_delivery_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    options: dict[str, Any] | None = None  # two-way, digest, quiet hours (bot/notify/options.py)
    granted_by: str | None = None  # the rule that allowed the last subscribe (bot/notify/service.py)

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


@dataclass(frozen=True)
class NewSubscription:
    team_id: str
    channel_id: str
    channel_name: str | None
    channel_private: bool
    resource_id: str
    resource_name: str
    filters: dict[str, Any]
    broadcast: bool
    deleted_mode: str
    created_by: str
    start_at: datetime
    options: dict[str, Any] | None = None
    granted_by: str | None = None


async def subscriptions_changed(conn: AsyncConnection, now: datetime) -> None:
    """A new mark: every replica's snapshot is read again on its next use. Whatever adds, pauses, resumes or
    deletes subscriptions writes one in its transaction (`tenants.py` too)."""
    values = {"name": CHANGED_KEY, "value": secrets.token_hex(8), "secret_value": None, "updated_at": now}
    await put(conn, kv_state, values, key=[kv_state.c.name])


class SubscriptionQueries(StoreBase):
    _snapshot: tuple[Any, tuple[Subscription, ...]] | None = None  # (the mark it was read under, the rows)

    async def _changed(self, conn: AsyncConnection) -> None:
        await subscriptions_changed(conn, self._now())

    async def subscriptions_snapshot(self) -> tuple[Subscription, ...]:
        """Every subscription, as `list_subscriptions()` returns them, from memory while none was made,
        paused, resumed or deleted since the last call (here or on another replica): one small read instead
        of every row. The feed asks on every poll, and with ten thousand subscriptions reading them all cost
        more than the rest of an idle poll. `last_delivery_at` and the `last_error` fields are as of the last
        such change (deliveries update them without a new mark). The same tuple comes back while nothing
        changed, so a caller can keep what it works out from it."""
        async with self._tx() as conn:
            mark = (
                await conn.execute(sa.select(kv_state.c.value).where(kv_state.c.name == CHANGED_KEY))
            ).scalar()
            if self._snapshot is not None and self._snapshot[0] == mark:
                return self._snapshot[1]
            rows = (await conn.execute(sa.select(subscriptions).order_by(subscriptions.c.id))).all()
        subs = tuple(from_row(Subscription, r._mapping) for r in rows)
        self._snapshot = (mark, subs)
        return subs

    async def save_subscription(self, new: NewSubscription) -> tuple[Subscription, bool]:
        """Create the subscription, or update the filters of the one for that (team, channel, resource) and
        resume it. Returns (subscription, created). The creator and creation time of an existing one stay."""
        now = self._now()
        async with self._tx() as conn:
            existing = (
                await conn.execute(
                    sa.select(subscriptions).where(
                        subscriptions.c.team_id == new.team_id,
                        subscriptions.c.channel_id == new.channel_id,
                        subscriptions.c.resource_id == new.resource_id,
                    )
                )
            ).first()
            changes = {
                "channel_name": new.channel_name,
                "channel_private": new.channel_private,
                "resource_name": new.resource_name,
                "filters": new.filters,
                "broadcast": new.broadcast,
                "deleted_mode": new.deleted_mode,
                "options": new.options,
                "granted_by": new.granted_by,
                "status": ACTIVE,
                "paused_reason": None,
                "paused_at": None,
            }
            if existing is not None:
                await conn.execute(
                    subscriptions.update().where(subscriptions.c.id == existing.id).values(changes)
                )
                sub_id, created = existing.id, False
            else:
                result = await conn.execute(
                    subscriptions.insert().values(
                        team_id=new.team_id,
                        channel_id=new.channel_id,
                        resource_id=new.resource_id,
                        created_by=new.created_by,
                        created_at=now,
                        start_at=new.start_at,
                        **changes,
                    )
                )
                assert result.inserted_primary_key is not None
                sub_id, created = result.inserted_primary_key[0], True
            await self._changed(conn)
            row = (await conn.execute(sa.select(subscriptions).where(subscriptions.c.id == sub_id))).one()
        return from_row(Subscription, row._mapping), created

    async def get_subscription(self, subscription_id: int) -> Subscription | None:
        async with self._tx() as conn:
            row = (
                await conn.execute(sa.select(subscriptions).where(subscriptions.c.id == subscription_id))
            ).first()
        return None if row is None else from_row(Subscription, row._mapping)

    async def list_subscriptions(
        self,
        *,
        team_id: str | None = None,
        channel_id: str | None = None,
        resource_id: str | None = None,
        status: str | None = None,
    ) -> list[Subscription]:
        query = sa.select(subscriptions).order_by(subscriptions.c.id)
        for column, value in (
            (subscriptions.c.team_id, team_id),
            (subscriptions.c.channel_id, channel_id),
            (subscriptions.c.resource_id, resource_id),
            (subscriptions.c.status, status),
        ):
            if value is not None:
                query = query.where(column == value)
        async with self._tx() as conn:
            rows = (await conn.execute(query)).all()
        return [from_row(Subscription, r._mapping) for r in rows]

    async def delete_subscription(self, subscription_id: int) -> bool:
        """Remove a subscription and what it still had to post (an explicit unsubscribe, never automatic)."""
        async with self._tx() as conn:
            await conn.execute(outbox.delete().where(outbox.c.subscription_id == subscription_id))
            result = await conn.execute(subscriptions.delete().where(subscriptions.c.id == subscription_id))
            await self._changed(conn)
        return bool(result.rowcount)

    async def pause_subscription(self, subscription_id: int, reason: str) -> bool:
        """Pause with a reason; True only when it was active (so its creator is told once)."""
        async with self._tx() as conn:
            result = await conn.execute(
                subscriptions.update()
                .where(subscriptions.c.id == subscription_id, subscriptions.c.status == ACTIVE)
                .values(status=PAUSED, paused_reason=reason, paused_at=self._now(), last_error=reason)
            )
            await self._changed(conn)
        return bool(result.rowcount)

    async def pause_team_subscriptions(self, team_id: str, reason: str) -> list[int]:
        """Pause every active subscription of a workspace (the app was removed from it); their rows wait."""
        async with self._tx() as conn:
            result = await conn.execute(
                subscriptions.update()
                .where(subscriptions.c.team_id == team_id, subscriptions.c.status == ACTIVE)
                .values(status=PAUSED, paused_reason=reason, paused_at=self._now(), last_error=reason)
                .returning(subscriptions.c.id)
            )
            paused = [int(r[0]) for r in result.all()]
            await self._changed(conn)
        return paused

    async def resume_subscription(self, subscription_id: int) -> bool:
        async with self._tx() as conn:
            result = await conn.execute(
                subscriptions.update()
                .where(subscriptions.c.id == subscription_id, subscriptions.c.status == PAUSED)
                .values(status=ACTIVE, paused_reason=None, paused_at=None)
            )
            await self._changed(conn)
        return bool(result.rowcount)

    async def record_subscription_error(self, subscription_id: int, error: str) -> None:
        async with self._tx() as conn:
            await conn.execute(
                subscriptions.update()
                .where(subscriptions.c.id == subscription_id)
                .values(last_error=error[:255], last_error_at=self._now())
            )
