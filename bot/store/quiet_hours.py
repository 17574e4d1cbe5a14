"""Quiet hours: the sender *holds* an outbox row (status "held"); `release_held` turns a subscription's held
rows into one "summary" row (status "summarized") in one transaction, so two replicas releasing together make
one summary, and `record_summary` records every note of the summary at the summary's `ts` (`note_messages`,
`in_summary`, revision 0004).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from bot.store._base import StoreBase, from_row, put
from bot.store.outbox import OutboxRow
from bot.store.schema import NOTE_MESSAGE_KEY, note_messages, outbox
from bot.store.slack_messages import NoteMessage, finish_delivered, note_message_row

HELD = "held"
SUMMARIZED = "summarized"
SUMMARY = "summary"


class QuietHours(StoreBase):
    async def hold_outbox(self, row_id: int) -> None:
        async with self._tx() as conn:
            await conn.execute(
                outbox.update().where(outbox.c.id == row_id, outbox.c.status == "pending").values(status=HELD)
            )

    async def held_subscriptions(self) -> list[int]:
        async with self._tx() as conn:
            rows = (
                await conn.execute(
                    sa.select(outbox.c.subscription_id).where(outbox.c.status == HELD).distinct()
                )
            ).all()
        return [int(r[0]) for r in rows]

    async def release_held(self, subscription_id: int, thread_id: str = "") -> int:
        """Turn the subscription's held rows into one pending "summary" row; returns how many were held.
        The held rows are taken with a conditional update, so a concurrent release gets none of them."""
        now = self._now()
        async with self._tx() as conn:
            result = await conn.execute(
                outbox.update()
                .where(outbox.c.subscription_id == subscription_id, outbox.c.status == HELD)
                .values(status=SUMMARIZED, done_at=now)
                .returning(outbox.c.id)
            )
            ids = sorted(int(r[0]) for r in result.all())
            if not ids:
                return 0
            await conn.execute(
                outbox.insert().values(
                    subscription_id=subscription_id,
                    note_id=f"{SUMMARY}:{ids[0]}",
                    version=str(ids[-1]),
                    kind=SUMMARY,
                    thread_id=thread_id,
                    payload={"rows": ids},
                    status="pending",
                    created_at=now,
                    attempts=0,
                )
            )
        return len(ids)

    async def outbox_by_ids(self, ids: Sequence[int]) -> list[OutboxRow]:
        async with self._tx() as conn:
            rows = (
                await conn.execute(sa.select(outbox).where(outbox.c.id.in_(list(ids))).order_by(outbox.c.id))
            ).all()
        return [from_row(OutboxRow, r._mapping) for r in rows]

    async def record_summary(self, row_id: int, subscription_id: int, shown: Iterable[NoteMessage]) -> None:
        """The summary was posted: each of its notes is shown at its `ts` (in_summary), the row done."""
        now = self._now()
        async with self._tx(write=True) as conn:
            for message in shown:
                row = note_message_row(message, now, is_parent=False, in_summary=True)
                await put(conn, note_messages, row, key=NOTE_MESSAGE_KEY)
            await finish_delivered(conn, row_id, subscription_id, now)

    async def summary_lines(self, team_id: str, channel_id: str, ts: str) -> list[NoteMessage]:
        """The notes shown in the summary at `ts`, in the order they were listed."""
        async with self._tx() as conn:
            rows = (
                await conn.execute(
                    sa.select(note_messages).where(
                        note_messages.c.team_id == team_id,
                        note_messages.c.channel_id == channel_id,
                        note_messages.c.ts == ts,
                        note_messages.c.in_summary == sa.true(),  # as the partial index says it
                    )
                )
            ).all()
        lines = [from_row(NoteMessage, r._mapping) for r in rows]
        return sorted(lines, key=lambda m: (str(m.note.get("creationTime") or ""), m.note_id))
