"""Channel notifications: subscriptions, the durable outbox, the Slack thread/message maps, the thread cache
and the feed's per-resource health (tables in `schema.py`, revision 0002).

The outbox's key (subscription, note id, note version) is unique: `enqueue` inserts what is new and ignores
the rest, in the same transaction as the feed's cursor and the thread cache, so the cursor never moves past a
change that is not durably queued.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store._base import StoreBase, put, upsert
from bot.store.schema import (
    NOTE_MESSAGE_KEY,
    feed_resources,
    kv_state,
    note_messages,
    outbox,
    rc_threads,
    slack_threads,
    subscriptions,
)

ACTIVE = "active"
PAUSED = "paused"


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


@dataclass(frozen=True)
class SlackThread:
    team_id: str
    channel_id: str
    thread_id: str
    parent_ts: str
    first_note_id: str
    muted: bool


@dataclass(frozen=True)
class NoteMessage:
    team_id: str
    channel_id: str
    note_id: str
    thread_id: str
    ts: str
    version: str
    is_parent: bool
    note: dict[str, Any]
    deleted: bool
    in_summary: bool = False  # a line of the quiet-hours summary at `ts`, not a message of its own


@dataclass(frozen=True)
class FeedResource:
    resource_id: str
    last_ok_at: datetime | None
    last_reconciled_at: datetime | None
    last_error: str | None
    error_count: int
    next_retry_at: datetime | None


def _fields(cls: type, row: RowMapping) -> Any:
    return cls(**{k: row[k] for k in cls.__dataclass_fields__})  # type: ignore[attr-defined]


class NotifyQueries(StoreBase):
    # --- subscriptions ------------------------------------------------------------------------------------

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
            row = (await conn.execute(sa.select(subscriptions).where(subscriptions.c.id == sub_id))).one()
        return _fields(Subscription, row._mapping), created

    async def get_subscription(self, subscription_id: int) -> Subscription | None:
        async with self._tx() as conn:
            row = (
                await conn.execute(sa.select(subscriptions).where(subscriptions.c.id == subscription_id))
            ).first()
        return None if row is None else _fields(Subscription, row._mapping)

    async def subscriptions_by_id(self, subscription_ids: Iterable[int]) -> dict[int, Subscription]:
        """The subscriptions among `subscription_ids` that exist, in one query per 500 ids."""
        ids = list(dict.fromkeys(subscription_ids))
        out: dict[int, Subscription] = {}
        async with self._tx() as conn:
            for start in range(0, len(ids), 500):
                rows = (
                    await conn.execute(
                        sa.select(subscriptions).where(subscriptions.c.id.in_(ids[start : start + 500]))
                    )
                ).all()
                out.update({r.id: _fields(Subscription, r._mapping) for r in rows})
        return out

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
        return [_fields(Subscription, r._mapping) for r in rows]

    async def delete_subscription(self, subscription_id: int) -> bool:
        """Remove a subscription and what it still had to post (an explicit unsubscribe, never automatic)."""
        async with self._tx() as conn:
            await conn.execute(outbox.delete().where(outbox.c.subscription_id == subscription_id))
            result = await conn.execute(subscriptions.delete().where(subscriptions.c.id == subscription_id))
        return bool(result.rowcount)

    async def pause_subscription(self, subscription_id: int, reason: str) -> bool:
        """Pause with a reason; True only when it was active (so its creator is told once)."""
        async with self._tx() as conn:
            result = await conn.execute(
                subscriptions.update()
                .where(subscriptions.c.id == subscription_id, subscriptions.c.status == ACTIVE)
                .values(status=PAUSED, paused_reason=reason, paused_at=self._now(), last_error=reason)
            )
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
            return [int(r[0]) for r in result.all()]

    async def resume_subscription(self, subscription_id: int) -> bool:
        async with self._tx() as conn:
            result = await conn.execute(
                subscriptions.update()
                .where(subscriptions.c.id == subscription_id, subscriptions.c.status == PAUSED)
                .values(status=ACTIVE, paused_reason=None, paused_at=None)
            )
        return bool(result.rowcount)

    async def record_subscription_error(self, subscription_id: int, error: str) -> None:
        async with self._tx() as conn:
            await conn.execute(
                subscriptions.update()
                .where(subscriptions.c.id == subscription_id)
                .values(last_error=error[:255], last_error_at=self._now())
            )

    # --- outbox -------------------------------------------------------------------------------------------

    async def enqueue(
        self,
        entries: Iterable[OutboxEntry],
        *,
        threads: Iterable[tuple[str, str, dict[str, Any]]] = (),
        state: Mapping[str, Any] | None = None,
    ) -> int:
        """Queue what is new (existing keys are ignored), cache `threads` (id, resource id, data) and set
        named `state` (the feed's cursor), all in one transaction. Returns how many rows were added."""
        now = self._now()
        added = 0
        async with self._tx() as conn:
            await self._save_threads(conn, threads, now)
            for entry in entries:
                stmt = upsert(conn, outbox).values(
                    subscription_id=entry.subscription_id,
                    note_id=entry.note_id,
                    version=entry.version,
                    kind=entry.kind,
                    thread_id=entry.thread_id,
                    payload=entry.payload,
                    status="pending",
                    created_at=now,
                    attempts=0,
                )
                result = await conn.execute(
                    stmt.on_conflict_do_nothing(
                        index_elements=[outbox.c.subscription_id, outbox.c.note_id, outbox.c.version]
                    )
                )
                added += max(result.rowcount, 0)
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
        return [_fields(OutboxRow, r._mapping) for r in rows]

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
        return None if row is None else _fields(OutboxRow, row._mapping)

    async def mark_attempt(self, row_id: int) -> None:
        """Recorded (and committed) before posting, so a crash after the post is repaired by lookup."""
        async with self._tx() as conn:
            await conn.execute(outbox.update().where(outbox.c.id == row_id).values(attempted_at=self._now()))

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
        return [_fields(OutboxRow, r._mapping) for r in rows]

    # --- Slack threads and messages ----------------------------------------------------------------------

    async def get_slack_thread(self, team_id: str, channel_id: str, thread_id: str) -> SlackThread | None:
        return await self._slack_thread(team_id, channel_id, slack_threads.c.thread_id == thread_id)

    async def slack_thread_by_ts(self, team_id: str, channel_id: str, parent_ts: str) -> SlackThread | None:
        return await self._slack_thread(team_id, channel_id, slack_threads.c.parent_ts == parent_ts)

    async def _slack_thread(self, team_id: str, channel_id: str, which: Any) -> SlackThread | None:
        async with self._tx() as conn:
            row = (
                await conn.execute(
                    sa.select(slack_threads).where(
                        slack_threads.c.team_id == team_id, slack_threads.c.channel_id == channel_id, which
                    )
                )
            ).first()
        return None if row is None else _fields(SlackThread, row._mapping)

    async def slack_threads_for(self, thread_id: str) -> list[SlackThread]:
        async with self._tx() as conn:
            rows = (
                await conn.execute(sa.select(slack_threads).where(slack_threads.c.thread_id == thread_id))
            ).all()
        return [_fields(SlackThread, r._mapping) for r in rows]

    async def forget_slack_thread(self, team_id: str, channel_id: str, thread_id: str) -> None:
        """The parent message is gone from Slack: the next note opens a new Slack thread."""
        async with self._tx() as conn:
            await conn.execute(
                slack_threads.delete().where(
                    slack_threads.c.team_id == team_id,
                    slack_threads.c.channel_id == channel_id,
                    slack_threads.c.thread_id == thread_id,
                )
            )

    async def set_thread_muted(self, team_id: str, channel_id: str, thread_id: str, muted: bool) -> bool:
        async with self._tx() as conn:
            result = await conn.execute(
                slack_threads.update()
                .where(
                    slack_threads.c.team_id == team_id,
                    slack_threads.c.channel_id == channel_id,
                    slack_threads.c.thread_id == thread_id,
                )
                .values(muted=muted)
            )
        return bool(result.rowcount)

    async def muted_threads(self, team_id: str, channel_id: str) -> set[str]:
        """Ids of the RingCentral threads muted in this channel (`/thread-note mute`)."""
        async with self._tx() as conn:
            rows = await conn.execute(
                sa.select(slack_threads.c.thread_id).where(
                    slack_threads.c.team_id == team_id,
                    slack_threads.c.channel_id == channel_id,
                    slack_threads.c.muted.is_(True),
                )
            )
            return {r[0] for r in rows}

    async def get_note_message(self, team_id: str, channel_id: str, note_id: str) -> NoteMessage | None:
        async with self._tx() as conn:
            row = (
                await conn.execute(
                    sa.select(note_messages).where(
                        note_messages.c.team_id == team_id,
                        note_messages.c.channel_id == channel_id,
                        note_messages.c.note_id == note_id,
                    )
                )
            ).first()
        return None if row is None else _fields(NoteMessage, row._mapping)

    async def posted_note_ids(self, note_ids: Sequence[str]) -> set[tuple[str, str, str]]:
        """(team, channel, note id) of each of `note_ids` that has a Slack message."""
        if not note_ids:
            return set()
        out: set[tuple[str, str, str]] = set()
        async with self._tx() as conn:
            for start in range(0, len(note_ids), 500):
                rows = (
                    await conn.execute(
                        sa.select(
                            note_messages.c.team_id, note_messages.c.channel_id, note_messages.c.note_id
                        ).where(note_messages.c.note_id.in_(list(note_ids[start : start + 500])))
                    )
                ).all()
                out.update((r[0], r[1], r[2]) for r in rows)
        return out

    async def shown_notes(
        self, channels: Sequence[tuple[str, str]], thread_ids: Sequence[str]
    ) -> dict[str, str]:
        """{note id: thread id} of the notes of `thread_ids` shown, and not as deleted, in any of `channels`
        ((team, channel) pairs)."""
        wanted = set(channels)
        if not wanted or not thread_ids:
            return {}
        out: dict[str, str] = {}
        c = note_messages.c
        async with self._tx() as conn:
            for start in range(0, len(thread_ids), 500):
                rows = (
                    await conn.execute(
                        sa.select(c.team_id, c.channel_id, c.note_id, c.thread_id).where(
                            c.thread_id.in_(list(thread_ids[start : start + 500])), c.deleted.is_(False)
                        )
                    )
                ).all()
                out.update({r[2]: r[3] for r in rows if (r[0], r[1]) in wanted})
        return out

    async def record_delivery(
        self,
        row_id: int,
        subscription_id: int,
        *,
        message: NoteMessage | None = None,
        thread: SlackThread | None = None,
        status: str = "done",
    ) -> None:
        """What was posted or changed, and the outbox row done, in one transaction."""
        now = self._now()
        async with self._tx() as conn:
            if thread is not None:
                stmt = upsert(conn, slack_threads).values(
                    team_id=thread.team_id,
                    channel_id=thread.channel_id,
                    thread_id=thread.thread_id,
                    parent_ts=thread.parent_ts,
                    first_note_id=thread.first_note_id,
                    muted=thread.muted,
                    created_at=now,
                )
                await conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[
                            slack_threads.c.team_id,
                            slack_threads.c.channel_id,
                            slack_threads.c.thread_id,
                        ],
                        set_={
                            "parent_ts": stmt.excluded.parent_ts,
                            "first_note_id": stmt.excluded.first_note_id,
                        },
                    )
                )
            if message is not None:
                values = {
                    "team_id": message.team_id,
                    "channel_id": message.channel_id,
                    "note_id": message.note_id,
                    "thread_id": message.thread_id,
                    "ts": message.ts,
                    "version": message.version,
                    "is_parent": message.is_parent,
                    "note": message.note,
                    "deleted": message.deleted,
                    "updated_at": now,
                }
                await put(conn, note_messages, values, key=NOTE_MESSAGE_KEY)
            await conn.execute(
                outbox.update()
                .where(outbox.c.id == row_id)
                .values(status=status, done_at=now, last_error=None)
            )
            await conn.execute(
                subscriptions.update()
                .where(subscriptions.c.id == subscription_id)
                .values(last_delivery_at=now, last_error=None, last_error_at=None)
            )

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
            await self._save_threads(conn, threads, self._now())

    async def _save_threads(
        self, conn: AsyncConnection, threads: Iterable[tuple[str, str, dict[str, Any]]], now: datetime
    ) -> None:
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

    # --- feed health per resource ------------------------------------------------------------------------

    async def feed_resource_states(self) -> dict[str, FeedResource]:
        async with self._tx() as conn:
            rows = (await conn.execute(sa.select(feed_resources))).all()
        return {r.resource_id: _fields(FeedResource, r._mapping) for r in rows}

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
