"""Two-way threads, quiet hours and handoff digests (tables in `schema.py`, revision 0004).

- `slack_notes`: a person's Slack reply ↔ the note it became. `claim_slack_note` inserts the row before the
  note is created, so a retried Slack event (or a second replica) finds it and stops.
- Quiet hours: the sender *holds* an outbox row (status "held"); `release_held` turns a subscription's held
  rows into one "summary" row (status "summarized") in one transaction, so two replicas releasing together
  make one summary, and `record_summary` records every note of the summary at the summary's `ts`.
- `digest_runs`: one row per subscription and local day, inserted before posting (the claim).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.store._base import StoreBase, put, upsert
from bot.store.notify import NoteMessage, OutboxRow, _fields
from bot.store.schema import NOTE_MESSAGE_KEY, digest_runs, note_messages, outbox, slack_notes, subscriptions

HELD = "held"
SUMMARIZED = "summarized"
SUMMARY = "summary"


@dataclass(frozen=True)
class SlackNote:
    team_id: str
    channel_id: str
    ts: str
    thread_id: str
    user_id: str
    note_id: str | None
    state: str
    created_at: datetime
    updated_at: datetime


class BeyondQueries(StoreBase):
    # --- two-way: Slack reply ↔ note ----------------------------------------------------------------------

    async def claim_slack_note(
        self, team_id: str, channel_id: str, ts: str, thread_id: str, user_id: str
    ) -> bool:
        """True for the first claim of this Slack message; False when it was seen before (a retry)."""
        now = self._now()
        async with self._tx() as conn:
            stmt = upsert(conn, slack_notes).values(
                team_id=team_id,
                channel_id=channel_id,
                ts=ts,
                thread_id=thread_id,
                user_id=user_id,
                note_id=None,
                state="creating",
                created_at=now,
                updated_at=now,
            )
            result = await conn.execute(stmt.on_conflict_do_nothing())
        return result.rowcount == 1

    async def set_slack_note(
        self,
        team_id: str,
        channel_id: str,
        ts: str,
        *,
        state: str,
        note_id: str | None = None,
        expect: str | None = None,
    ) -> bool:
        """Change the row's state (only from `expect`, when given); True when it changed."""
        values: dict[str, Any] = {"state": state, "updated_at": self._now()}
        if note_id is not None:
            values["note_id"] = note_id
        query = slack_notes.update().where(
            slack_notes.c.team_id == team_id, slack_notes.c.channel_id == channel_id, slack_notes.c.ts == ts
        )
        if expect is not None:
            query = query.where(slack_notes.c.state == expect)
        async with self._tx() as conn:
            result = await conn.execute(query.values(values))
        return bool(result.rowcount)

    async def slack_note_by_ts(self, team_id: str, channel_id: str, ts: str) -> SlackNote | None:
        return await self._one_slack_note(
            slack_notes.c.team_id == team_id, slack_notes.c.channel_id == channel_id, slack_notes.c.ts == ts
        )

    async def slack_note_by_note(self, team_id: str, channel_id: str, note_id: str) -> SlackNote | None:
        return await self._one_slack_note(
            slack_notes.c.team_id == team_id,
            slack_notes.c.channel_id == channel_id,
            slack_notes.c.note_id == note_id,
        )

    async def _one_slack_note(self, *where: Any) -> SlackNote | None:
        async with self._tx() as conn:
            row = (await conn.execute(sa.select(slack_notes).where(*where))).first()
        return None if row is None else _fields(SlackNote, row._mapping)

    async def slack_notes_creating(
        self, team_id: str, channel_id: str, thread_id: str, since: datetime
    ) -> bool:
        """Whether a reply in this Slack thread is becoming a note right now (claimed after `since`)."""
        async with self._tx() as conn:
            row = (
                await conn.execute(
                    sa.select(slack_notes.c.ts).where(
                        slack_notes.c.team_id == team_id,
                        slack_notes.c.channel_id == channel_id,
                        slack_notes.c.thread_id == thread_id,
                        slack_notes.c.state == "creating",
                        slack_notes.c.created_at >= since,
                    )
                )
            ).first()
        return row is not None

    # --- quiet hours ----------------------------------------------------------------------------------------

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
        return [_fields(OutboxRow, r._mapping) for r in rows]

    async def record_summary(self, row_id: int, subscription_id: int, shown: Iterable[NoteMessage]) -> None:
        """The summary was posted: each of its notes is shown at its `ts` (in_summary), the row done."""
        now = self._now()
        async with self._tx() as conn:
            for message in shown:
                values = {
                    "team_id": message.team_id,
                    "channel_id": message.channel_id,
                    "note_id": message.note_id,
                    "thread_id": message.thread_id,
                    "ts": message.ts,
                    "version": message.version,
                    "is_parent": False,
                    "note": message.note,
                    "deleted": message.deleted,
                    "in_summary": True,
                    "updated_at": now,
                }
                await put(conn, note_messages, values, key=NOTE_MESSAGE_KEY)
            await conn.execute(
                outbox.update()
                .where(outbox.c.id == row_id)
                .values(status="done", done_at=now, last_error=None)
            )
            await conn.execute(
                subscriptions.update()
                .where(subscriptions.c.id == subscription_id)
                .values(last_delivery_at=now, last_error=None, last_error_at=None)
            )

    async def summary_lines(self, team_id: str, channel_id: str, ts: str) -> list[NoteMessage]:
        """The notes shown in the summary at `ts`, in the order they were listed."""
        async with self._tx() as conn:
            rows = (
                await conn.execute(
                    sa.select(note_messages).where(
                        note_messages.c.team_id == team_id,
                        note_messages.c.channel_id == channel_id,
                        note_messages.c.ts == ts,
                        note_messages.c.in_summary.is_(True),
                    )
                )
            ).all()
        lines = [_fields(NoteMessage, r._mapping) for r in rows]
        return sorted(lines, key=lambda m: (str(m.note.get("creationTime") or ""), m.note_id))

    # --- digests --------------------------------------------------------------------------------------------

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
