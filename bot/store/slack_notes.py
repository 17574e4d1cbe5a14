"""Two-way threads: a person's Slack reply ↔ the note it became (table `slack_notes` in `schema.py`, revision
0004). `claim_slack_note` inserts the row before the note is created, so a retried Slack event (or a second
replica) finds it and stops."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.store._base import StoreBase, from_row, upsert
from bot.store.schema import slack_notes


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


class SlackNotes(StoreBase):
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
        return None if row is None else from_row(SlackNote, row._mapping)

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
