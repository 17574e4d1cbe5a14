"""Deliveries: each outbox row of a note or a thread into its channel's Slack thread.

- A new note opens the Slack thread of its RingCentral thread (the parent message) or replies in it; both go
  through `Poster.post_once`, the one exactly-once path.
- An edit changes the note's message in place (a note listed in a quiet-hours summary changes the summary);
  an older version than the one shown is skipped.
- A deletion strikes the message through, or removes a reply when the subscription says so.
- A thread's state (assigned, resolved) is shown on its parent message.
- Two-way threads: a note made from a person's reply in this channel's Slack thread is never posted back
  (the reply *is* its message); while such a reply is becoming a note, the channel's rows wait for its id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from slack_sdk.errors import SlackApiError

from bot.notify import messages
from bot.notify.feed import thread_from
from bot.notify.options import Options
from bot.notify.posting import Poster, Wait, ignore_gone
from bot.ringcentral.models import Note, OwnerResource, Thread
from bot.store.outbox import OutboxRow
from bot.store.protocols import DeliveryStore
from bot.store.slack_messages import NoteMessage, SlackThread
from bot.store.subscriptions import Subscription

CLAIM_WAIT = timedelta(seconds=60)  # a two-way claim older than this is a crash's leftover: stop waiting

Finish = Callable[[OutboxRow, str, str], Awaitable[None]]
UpdateSummary = Callable[[OutboxRow, Subscription, NoteMessage, bool], Awaitable[None]]


class Deliveries:
    def __init__(
        self,
        store: DeliveryStore,
        poster: Poster,
        *,
        finish: Finish,
        update_summary: UpdateSummary,
        account_of: Callable[[str], Awaitable[str]],
    ) -> None:
        self._store = store
        self._account_of = account_of
        self._poster = poster
        self._finish = finish
        self._update_summary = update_summary

    # --- a note, new or edited -----------------------------------------------------------------------------

    async def note(self, row: OutboxRow, sub: Subscription) -> None:
        note = Note.model_validate(row.payload)
        shown = await self._store.get_note_message(sub.team_id, sub.channel_id, note.id)
        if shown is not None:
            await self._edit(row, sub, note, shown)
            return
        if await self._from_this_channel(row, sub):
            return
        slack_thread = await self._store.get_slack_thread(sub.team_id, sub.channel_id, row.thread_id)
        if slack_thread is not None and slack_thread.muted:
            await self._finish(row, "skipped", "muted")
            return
        meta = messages.metadata(
            subscription_id=sub.id, note_id=note.id, version=row.version, thread_id=row.thread_id
        )
        if slack_thread is None:
            blocks, text = messages.parent_message(await self.thread_of(row.thread_id, sub), note)

            async def record_parent(ts: str, repaired: bool) -> None:
                await self._store.record_delivery(
                    row.id, sub.id, message=_message(sub, row, ts, is_parent=True),
                    thread=SlackThread(sub.team_id, sub.channel_id, row.thread_id, ts, note.id, False),
                )  # fmt: skip

            await self._poster.post_once(
                row, sub, kind="note", metadata=meta, blocks=blocks, text=text, record=record_parent
            )
            return
        parent_ts = slack_thread.parent_ts
        blocks, text = messages.reply_message(note)

        async def record_reply(ts: str, repaired: bool) -> None:
            message = _message(sub, row, ts, is_parent=ts == parent_ts)
            await self._store.record_delivery(row.id, sub.id, message=message)

        try:
            await self._poster.post_once(
                row, sub, kind="note", metadata=meta, blocks=blocks, text=text, record=record_reply,
                thread_ts=parent_ts, broadcast=sub.broadcast,
            )  # fmt: skip
        except Exception as exc:
            if _error_of(exc) == "thread_not_found":
                # Someone deleted the parent message: the next try opens a new Slack thread.
                await self._store.forget_slack_thread(sub.team_id, sub.channel_id, row.thread_id)
            raise

    async def _edit(self, row: OutboxRow, sub: Subscription, note: Note, shown: NoteMessage) -> None:
        if shown.deleted or version_of(shown.version) >= version_of(row.version):
            await self._finish(row, "skipped", "stale")
            return
        await self._poster.pacer.ready(sub.channel_id, sub.team_id)  # an edit keeps its channel's pace too
        if shown.in_summary:
            await self._update_summary(row, sub, shown, False)
            return
        if shown.is_parent:
            blocks, text = messages.parent_message(await self.thread_of(row.thread_id, sub), note)
        else:
            blocks, text = messages.reply_message(note)
        await self._poster.call(
            sub.team_id, "chat.update", channel=sub.channel_id, ts=shown.ts, blocks=blocks, text=text
        )
        await self._store.record_delivery(
            row.id, sub.id, message=replace(shown, version=row.version, note=row.payload)
        )
        self._poster.delivered("edit", "ok", sub, row.note_id, shown.ts)

    # --- a deletion --------------------------------------------------------------------------------------

    async def deleted(self, row: OutboxRow, sub: Subscription) -> None:
        shown = await self._store.get_note_message(sub.team_id, sub.channel_id, row.note_id)
        if shown is None or shown.deleted:
            await self._finish(row, "skipped", "not shown")
            return
        if shown.in_summary:
            await self._update_summary(row, sub, shown, True)
            return
        note = Note.model_validate(shown.note)
        with ignore_gone():
            if sub.deleted_mode == "remove" and not shown.is_parent:
                await self._poster.call(sub.team_id, "chat.delete", channel=sub.channel_id, ts=shown.ts)
            else:
                if shown.is_parent:
                    thread = await self.thread_of(row.thread_id, sub)
                    blocks, text = messages.parent_message(thread, note, deleted=True)
                else:
                    blocks, text = messages.reply_message(note, deleted=True)
                await self._poster.call(
                    sub.team_id, "chat.update", channel=sub.channel_id, ts=shown.ts, blocks=blocks, text=text
                )
        await self._store.record_delivery(row.id, sub.id, message=replace(shown, deleted=True))
        self._poster.delivered("delete", "ok", sub, row.note_id, shown.ts)

    # --- a thread's state --------------------------------------------------------------------------------

    async def thread(self, row: OutboxRow, sub: Subscription) -> None:
        slack_thread = await self._store.get_slack_thread(sub.team_id, sub.channel_id, row.thread_id)
        if slack_thread is None:
            await self._finish(row, "skipped", "no Slack thread")
            return
        await self.refresh_parent(sub, slack_thread)
        await self._store.record_delivery(row.id, sub.id)
        self._poster.delivered("thread", "ok", sub, row.note_id, slack_thread.parent_ts)

    async def refresh_parent(self, sub: Subscription, slack_thread: SlackThread) -> None:
        """Show the thread's current state and assignee on its parent message."""
        thread = await self.thread_of(slack_thread.thread_id, sub)
        first = await self._store.get_note_message(sub.team_id, sub.channel_id, slack_thread.first_note_id)
        note = Note.model_validate(first.note) if first is not None else None
        blocks, text = messages.parent_message(thread, note, deleted=bool(first and first.deleted))
        await self._poster.call(
            sub.team_id, "chat.update", channel=sub.channel_id, ts=slack_thread.parent_ts, blocks=blocks,
            text=text,
        )  # fmt: skip

    # --- two-way -------------------------------------------------------------------------------------------

    async def _from_this_channel(self, row: OutboxRow, sub: Subscription) -> bool:
        """A note made from a person's reply in this channel is shown by that reply: finish the row without
        posting. While a reply of the conversation's Slack thread is still becoming a note, wait."""
        origin = await self._store.slack_note_by_note(sub.team_id, sub.channel_id, row.note_id)
        if origin is not None:
            await self._finish(row, "skipped", "written in this channel's Slack thread")
            return True
        now = self._poster.now()
        if Options.from_json(sub.options).two_way and await self._store.slack_notes_creating(
            sub.team_id, sub.channel_id, row.thread_id, now - CLAIM_WAIT
        ):
            raise Wait("a two-way reply is becoming a note", now + timedelta(seconds=1))
        return False

    # --- helpers -----------------------------------------------------------------------------------------

    async def thread_of(self, thread_id: str, sub: Subscription) -> Thread:
        """The thread as last seen by the feed of the subscription's account; a plain open thread of the
        resource if not cached."""
        cached = await self._store.cached_threads([thread_id], account=await self._account_of(sub.team_id))
        if thread_id in cached:
            return thread_from(cached[thread_id])
        now = self._poster.now()
        return Thread(
            id=thread_id,
            status="Open",
            availability="Alive",
            owner=OwnerResource(extension_id=sub.resource_id, name=sub.resource_name),
            creation_time=now,
            last_modified_time=now,
        )


def _message(sub: Subscription, row: OutboxRow, ts: str, *, is_parent: bool) -> NoteMessage:
    return NoteMessage(
        team_id=sub.team_id,
        channel_id=sub.channel_id,
        note_id=row.note_id,
        thread_id=row.thread_id,
        ts=ts,
        version=row.version,
        is_parent=is_parent,
        note=row.payload,
        deleted=False,
    )


def _error_of(exc: BaseException) -> str | None:
    """Slack's error code of a failed call (also when it failed as the post of `post_once`)."""
    cause = exc if isinstance(exc, SlackApiError) else getattr(exc, "error", None)
    return str(cause.response.get("error")) if isinstance(cause, SlackApiError) else None


def version_of(value: str) -> datetime:
    """A note version (its lastModifiedTime) for comparison; an unreadable one is older than any."""
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
