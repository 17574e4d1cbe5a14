"""What the bot posted in Slack: each RingCentral thread's Slack thread per channel (`slack_threads`: its
parent message, muted or not) and each note's message (`note_messages`), tables in `schema.py`, revision 0002.
`record_delivery` records a post and finishes its outbox row in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store._base import StoreBase, from_row, put, upsert
from bot.store.schema import (
    NOTE_MESSAGE_KEY,
    note_messages,
    outbox,
    slack_notes,
    slack_threads,
    subscriptions,
)

DELIVERY_TIME_STEP = timedelta(minutes=1)  # a subscription's `last_delivery_at` is kept to within this

# `record_delivery`'s statements, built once (a post makes them; building and keying them anew each time cost
# more than running them). The subscription's row is written only to clear an error, or when its last
# delivery is older than `DELIVERY_TIME_STEP`: not on every post of a busy channel.
_FINISH = (
    outbox.update()
    .where(outbox.c.id == sa.bindparam("row"))
    .values(status=sa.bindparam("status"), done_at=sa.bindparam("now"), last_error=None)
)
_DELIVERED = (
    subscriptions.update()
    .where(
        subscriptions.c.id == sa.bindparam("sub"),
        sa.or_(
            subscriptions.c.last_error.is_not(None),
            subscriptions.c.last_error_at.is_not(None),
            subscriptions.c.last_delivery_at.is_(None),
            subscriptions.c.last_delivery_at < sa.bindparam("stale"),
        ),
    )
    .values(last_delivery_at=sa.bindparam("now"), last_error=None, last_error_at=None)
)


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
class NoteInChannel:
    """What a note's delivery into a channel reads before it posts (`note_in_channel`, one transaction)."""

    shown: NoteMessage | None  # the note's message there, if it was shown
    written_here: bool  # made from a reply in this channel's Slack thread (two-way): that reply shows it
    slack_thread: SlackThread | None  # the Slack thread of the note's RingCentral thread there, if opened


class SlackMessages(StoreBase):
    async def note_in_channel(
        self, team_id: str, channel_id: str, note_id: str, thread_id: str
    ) -> NoteInChannel:
        """`get_note_message`, `slack_note_by_note`, `get_slack_thread` in one statement: a post's reads."""
        params = {"team": team_id, "channel": channel_id, "note": note_id, "thread": thread_id}
        async with self._tx() as conn:
            row = (await conn.execute(_NOTE_IN_CHANNEL, params)).one()._mapping
        shown = {f: row[f"m_{f}"] for f in NoteMessage.__dataclass_fields__}
        thread = {f: row[f"t_{f}"] for f in SlackThread.__dataclass_fields__}
        return NoteInChannel(
            shown=None if shown["note_id"] is None else NoteMessage(**shown),
            written_here=row["origin_ts"] is not None,
            slack_thread=None if thread["thread_id"] is None else SlackThread(**thread),
        )

    async def get_slack_thread(self, team_id: str, channel_id: str, thread_id: str) -> SlackThread | None:
        return await self._slack_thread(team_id, channel_id, slack_threads.c.thread_id == thread_id)

    async def slack_thread_by_ts(self, team_id: str, channel_id: str, parent_ts: str) -> SlackThread | None:
        return await self._slack_thread(team_id, channel_id, slack_threads.c.parent_ts == parent_ts)

    async def _slack_thread(self, team_id: str, channel_id: str, which: Any) -> SlackThread | None:
        async with self._tx() as conn:
            row = (await conn.execute(_slack_thread(team_id, channel_id, which))).first()
        return None if row is None else from_row(SlackThread, row._mapping)

    async def slack_threads_for(self, thread_id: str) -> list[SlackThread]:
        async with self._tx() as conn:
            rows = (
                await conn.execute(sa.select(slack_threads).where(slack_threads.c.thread_id == thread_id))
            ).all()
        return [from_row(SlackThread, r._mapping) for r in rows]

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
            row = (await conn.execute(_note_message(team_id, channel_id, note_id))).first()
        return None if row is None else from_row(NoteMessage, row._mapping)

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
        async with self._tx(write=True) as conn:
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
                await put(conn, note_messages, note_message_row(message, now), key=NOTE_MESSAGE_KEY)
            await finish_delivered(conn, row_id, subscription_id, now, status)


async def finish_delivered(
    conn: AsyncConnection, row_id: int, subscription_id: int, now: datetime, status: str = "done"
) -> None:
    """The outbox row finished, and its subscription's delivery noted (see `_DELIVERED`): the end of every
    delivery's transaction (`record_delivery`, `record_summary`)."""
    await conn.execute(_FINISH, {"row": row_id, "status": status, "now": now})
    await conn.execute(_DELIVERED, {"sub": subscription_id, "now": now, "stale": now - DELIVERY_TIME_STEP})


def note_message_row(message: NoteMessage, now: datetime, **overrides: Any) -> dict[str, Any]:
    """The `note_messages` row of `message` (a delivery, or a line of a quiet-hours summary with
    `overrides`), stamped `now`."""
    return {
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
        **overrides,
    }


def _note_message(team_id: str, channel_id: str, note_id: str) -> sa.Select[Any]:
    """A note's message in a channel (its key)."""
    return sa.select(note_messages).where(
        note_messages.c.team_id == team_id,
        note_messages.c.channel_id == channel_id,
        note_messages.c.note_id == note_id,
    )


def _slack_thread(team_id: str, channel_id: str, which: Any) -> sa.Select[Any]:
    """A Slack thread of a channel, by `which` (its RingCentral thread or its parent's ts)."""
    return sa.select(slack_threads).where(
        slack_threads.c.team_id == team_id, slack_threads.c.channel_id == channel_id, which
    )


def _note_in_channel() -> sa.Select[Any]:
    """`note_in_channel`'s three reads as one statement: the note's message and its thread's Slack thread in
    the channel, outer-joined to a one-row select (each part NULL when missing), and a two-way origin's
    `ts`. Built once, with bound parameters: each post reuses it as it is, not built and keyed again."""
    team: sa.BindParameter[str] = sa.bindparam("team")
    channel: sa.BindParameter[str] = sa.bindparam("channel")
    message = sa.and_(
        note_messages.c.team_id == team,
        note_messages.c.channel_id == channel,
        note_messages.c.note_id == sa.bindparam("note"),
    )
    origin = (
        sa.select(slack_notes.c.ts)
        .where(
            slack_notes.c.team_id == team,
            slack_notes.c.channel_id == channel,
            slack_notes.c.note_id == sa.bindparam("note"),
        )
        .limit(1)
        .scalar_subquery()
    )
    thread = sa.and_(
        slack_threads.c.team_id == team,
        slack_threads.c.channel_id == channel,
        slack_threads.c.thread_id == sa.bindparam("thread"),
    )
    one = sa.select(sa.literal_column("1").label("one")).subquery("one")
    joined = one.outerjoin(note_messages, message).outerjoin(slack_threads, thread)
    return sa.select(
        *(note_messages.c[f].label(f"m_{f}") for f in NoteMessage.__dataclass_fields__),
        origin.label("origin_ts"),
        *(slack_threads.c[f].label(f"t_{f}") for f in SlackThread.__dataclass_fields__),
    ).select_from(joined)


_NOTE_IN_CHANNEL = _note_in_channel()
