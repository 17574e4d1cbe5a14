"""Quiet-hours summaries: the notes held while a subscription was quiet, posted as one message when the hours
end (the notifier releases the held rows as one "summary" row), and kept in step afterwards: a later edit or
deletion of a listed note shows the summary again with it. The summary is posted through
`Poster.post_once`, the same exactly-once path as a note (its metadata key is the summary row's own key).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.notify import messages
from bot.notify.deliveries import version_of
from bot.notify.options import Options
from bot.notify.posting import Poster, ignore_gone
from bot.notify.roundups import SummaryLine, summary_message
from bot.ringcentral.models import Note, Thread
from bot.store.outbox import OutboxRow
from bot.store.protocols import SummaryStore
from bot.store.slack_messages import NoteMessage
from bot.store.subscriptions import Subscription

Finish = Callable[[OutboxRow, str, str], Awaitable[None]]
ThreadOf = Callable[[str, Subscription], Awaitable[Thread]]


class Summaries:
    def __init__(self, store: SummaryStore, poster: Poster, *, finish: Finish, thread_of: ThreadOf) -> None:
        self._store = store
        self._poster = poster
        self._finish = finish
        self._thread_of = thread_of

    async def post(self, row: OutboxRow, sub: Subscription) -> None:
        """Post the notes held in quiet hours as one message (each note as it stands now)."""
        chosen = await self._chosen(row, sub)
        if not chosen:
            await self._finish(row, "skipped", "nothing left to summarise")
            return
        lines = [SummaryLine(Note.model_validate(r.payload)) for r in chosen]
        blocks, text = await self._blocks(sub, lines)
        meta = messages.metadata(
            subscription_id=sub.id, note_id=row.note_id, version=row.version, thread_id=""
        )

        async def record(ts: str, repaired: bool) -> None:
            shown = [
                NoteMessage(
                    sub.team_id,
                    sub.channel_id,
                    r.note_id,
                    r.thread_id,
                    ts,
                    r.version,
                    False,
                    r.payload,
                    False,
                )
                for r in chosen
            ]
            await self._store.record_summary(row.id, sub.id, shown)

        await self._poster.post_once(
            row, sub, kind="summary", metadata=meta, blocks=blocks, text=text, record=record
        )

    async def _chosen(self, row: OutboxRow, sub: Subscription) -> list[OutboxRow]:
        """The latest version of each held note still to show: not deleted, not from this channel's own Slack
        thread (two-way), not in a muted thread."""
        held = await self._store.outbox_by_ids([int(i) for i in row.payload.get("rows") or []])
        latest: dict[str, OutboxRow] = {}
        deleted: set[str] = set()
        for r in held:
            if r.kind == "deleted":
                deleted.add(r.note_id)
            elif r.kind == "note" and (
                r.note_id not in latest or version_of(r.version) >= version_of(latest[r.note_id].version)
            ):
                latest[r.note_id] = r
        chosen: list[OutboxRow] = []
        for note_id, r in latest.items():
            if note_id in deleted or await self._store.slack_note_by_note(
                sub.team_id, sub.channel_id, note_id
            ):
                continue
            slack_thread = await self._store.get_slack_thread(sub.team_id, sub.channel_id, r.thread_id)
            if slack_thread is not None and slack_thread.muted:
                continue
            chosen.append(r)
        return chosen

    async def update(self, row: OutboxRow, sub: Subscription, shown: NoteMessage, deleted: bool) -> None:
        """A note listed in a quiet-hours summary changed: show the summary again with it."""
        now_shown = (
            replace(shown, deleted=True) if deleted else replace(shown, version=row.version, note=row.payload)
        )
        lines = [
            SummaryLine(Note.model_validate(m.note), deleted=m.deleted)
            for m in (
                now_shown if m.note_id == shown.note_id else m
                for m in await self._store.summary_lines(sub.team_id, sub.channel_id, shown.ts)
            )
        ]
        blocks, text = await self._blocks(sub, lines)
        with ignore_gone():
            await self._poster.call(
                sub.team_id, "chat.update", channel=sub.channel_id, ts=shown.ts, blocks=blocks, text=text
            )
        await self._store.record_delivery(row.id, sub.id, message=now_shown)
        self._poster.delivered("summary", "ok", sub, row.note_id, shown.ts)

    async def _blocks(self, sub: Subscription, lines: list[SummaryLine]) -> tuple[list[Any], str]:
        options = Options.from_json(sub.options)
        quiet = options.quiet or ("", "")
        window = f"{quiet[0]}-{quiet[1]} {options.tz or 'UTC'}"
        thread_ids = list(dict.fromkeys(line.note.thread_id for line in lines))
        threads = {tid: await self._thread_of(tid, sub) for tid in thread_ids}
        links: dict[str, str] = {}
        for tid in thread_ids:
            slack_thread = await self._store.get_slack_thread(sub.team_id, sub.channel_id, tid)
            if slack_thread is None:
                continue
            try:
                found = await self._poster.call(
                    sub.team_id,
                    "chat.getPermalink",
                    channel=sub.channel_id,
                    message_ts=slack_thread.parent_ts,
                )
                links[tid] = str(found["permalink"])
            except SlackApiError:
                continue  # a summary without that link is still the summary
        return summary_message(sub.resource_name, window, threads, lines, links)
