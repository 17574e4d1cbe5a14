"""The sender: posts the outbox into Slack, one Slack thread per RingCentral thread per channel.

- Rows go oldest first and each channel strictly in order: when a row of a channel has to wait (pacing, a 429,
  a retry), every later row of that channel waits too, so a reply never overtakes the parent it belongs to.
- About one message per second per channel (`channel_interval`); a 429 blocks the channel for `Retry-After`.
- Before posting, the row is marked attempted (committed). A row found attempted was maybe posted by a process
  that died before recording it: the sender first looks for the message by its metadata
  (`conversations.replies`/`conversations.history` with `include_all_metadata`) and records it if found,
  so a crash never makes a second copy.
- Two-way threads: a note made from a person's reply in this channel's Slack thread is never posted back
  (the reply *is* its message); while such a reply is becoming a note, the channel's rows wait for its id.
- Quiet hours: a new note (and what happens to it) arriving while its subscription is quiet is *held*; when
  the hours end the notifier releases the held rows as one "summary" row, posted as one message
  (`bot/notify/roundups.py`). Later edits and deletions of a listed note update that message.
- `channel_not_found`, `is_archived`, `not_in_channel` and token errors pause the subscription with the reason
  (its rows stay queued) and tell its creator; other failures are retried with backoff, then marked failed and
  shown as the subscription's last error. Nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import get_logger
from bot.metrics import Metrics
from bot.notify import messages
from bot.notify.feed import thread_from
from bot.notify.options import Options
from bot.notify.roundups import SummaryLine, summary_message
from bot.notify.workspaces import NotInstalled, OneWorkspace, SlackClients
from bot.ringcentral.models import Note, OwnerResource, Thread
from bot.store import Store
from bot.store.beyond import SUMMARY
from bot.store.notify import NoteMessage, OutboxRow, SlackThread, Subscription

log = get_logger(__name__)

PAUSE_ERRORS = frozenset(messages.PAUSE_REASONS)
MAX_ATTEMPTS = 5
LOOKUP_LIMIT = 200
CLAIM_WAIT = timedelta(seconds=60)  # a two-way claim older than this is a crash's leftover: stop waiting


class _Wait(Exception):
    """The row cannot go yet (a two-way reply of its channel is becoming a note): keep the channel waiting."""


OnPause = Callable[[Subscription, str], Awaitable[None]]
StillMine = Callable[[str, str], Awaitable[bool]]


class Pacer:
    """When each channel may next be posted to: ≈1 message/s per channel, longer after a 429."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._next: dict[str, float] = {}

    def wait(self, channel: str) -> float:
        return max(0.0, self._next.get(channel, 0.0) - self._clock())

    def sent(self, channel: str) -> None:
        self._next[channel] = max(self._next.get(channel, 0.0), self._clock() + self.interval)

    def block(self, channel: str, seconds: float) -> None:
        self._next[channel] = max(self._next.get(channel, 0.0), self._clock() + seconds)


class Sender:
    def __init__(
        self,
        store: Store,
        slack: AsyncWebClient | SlackClients,
        metrics: Metrics,
        *,
        on_pause: OnPause,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        channel_interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self.clients: SlackClients = OneWorkspace(slack) if isinstance(slack, AsyncWebClient) else slack
        self._metrics = metrics
        self._on_pause = on_pause
        self._clock = clock
        self.pacer = Pacer(channel_interval, monotonic)
        self._lock = asyncio.Lock()

    async def drain(
        self,
        *,
        max_seconds: float = 0.0,
        still_mine: StillMine | None = None,
        channels: set[tuple[str, str]] | None = None,
    ) -> int:
        """Post what is due. Waits for paced channels up to `max_seconds` in all; returns rows finished.

        `channels` ((team, channel) pairs) limits the work to the channels this replica has claimed, and
        `still_mine(team, channel)` is asked before each post: False (the claim moved) stops that channel."""
        async with self._lock:
            deadline = time.monotonic() + max_seconds
            finished = 0
            while True:
                done, soonest = await self._round(still_mine, channels)
                finished += done
                if soonest is None:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                await asyncio.sleep(min(soonest, left))
            await self._update_gauges()
            return finished

    async def _round(
        self, still_mine: StillMine | None, channels: set[tuple[str, str]] | None
    ) -> tuple[int, float | None]:
        """One pass over the pending rows. Returns (rows finished, seconds until a waiting row could go)."""
        rows = await self._store.pending_outbox(limit=500, channels=channels)
        # One query for the round's subscriptions: a round runs each time a paced channel comes free.
        subs: dict[int, Subscription | None] = dict(
            await self._store.subscriptions_by_id(row.subscription_id for row in rows)
        )
        blocked: set[str] = set()
        soonest: float | None = None
        finished = 0
        now = self._now()
        for row in rows:
            sub = subs.get(row.subscription_id)
            if sub is None or not sub.active:
                continue
            channel = sub.channel_id
            if channel in blocked:
                continue
            if row.next_attempt_at is not None and row.next_attempt_at > now:
                blocked.add(channel)
                wait = (row.next_attempt_at - now).total_seconds()
                soonest = wait if soonest is None else min(soonest, wait)
                continue
            wait = self.pacer.wait(channel)
            if wait > 0 and row.kind != "deleted" and self._posts(row):
                blocked.add(channel)
                soonest = wait if soonest is None else min(soonest, wait)
                continue
            if still_mine is not None and not await still_mine(sub.team_id, channel):
                blocked.add(channel)  # another replica took this channel over: leave it at once
                continue
            if await self._hold(row, sub, now):
                continue
            outcome = await self._deliver(row, sub)
            if outcome == "done":
                finished += 1
            elif outcome == "paused":
                subs[row.subscription_id] = None
            else:  # "wait": keep the channel in order
                blocked.add(channel)
                wait = self.pacer.wait(channel)
                if wait > 0:
                    soonest = wait if soonest is None else min(soonest, wait)
        return finished, soonest

    @staticmethod
    def _posts(row: OutboxRow) -> bool:
        return row.kind in ("note", SUMMARY)

    async def _hold(self, row: OutboxRow, sub: Subscription, now: datetime) -> bool:
        """In quiet hours, hold what would post a new message: a note not shown yet (and its deletion)."""
        if row.kind not in ("note", "deleted") or not Options.from_json(sub.options).in_quiet(now):
            return False
        if await self._store.get_note_message(sub.team_id, sub.channel_id, row.note_id) is not None:
            return False  # already shown: its update changes a message in place, which pings nobody
        await self._store.hold_outbox(row.id)
        return True

    # --- one row ------------------------------------------------------------------------------------------

    async def _deliver(self, row: OutboxRow, sub: Subscription) -> str:
        try:
            if row.kind == "note":
                await self._note(row, sub)
            elif row.kind == "deleted":
                await self._deleted(row, sub)
            elif row.kind == SUMMARY:
                await self._summary(row, sub)
            else:
                await self._thread(row, sub)
        except _Wait:
            return "wait"
        except SlackApiError as exc:
            return await self._slack_failed(row, sub, exc)
        except NotInstalled:
            return await self._pause(row, sub, "not_authed")
        except (TimeoutError, OSError) as exc:
            await self._retry(row, sub, f"network: {type(exc).__name__}")
            return "wait"
        except Exception as exc:  # aiohttp's errors and anything unexpected: retry, never lose the row
            if type(exc).__module__.startswith("aiohttp"):
                await self._retry(row, sub, f"network: {type(exc).__name__}")
                return "wait"
            raise
        return "done"

    async def _note(self, row: OutboxRow, sub: Subscription) -> None:
        note = Note.model_validate(row.payload)
        thread = await self._thread_of(row.thread_id, sub)
        shown = await self._store.get_note_message(sub.team_id, sub.channel_id, note.id)
        if shown is None and await self._from_this_channel(row, sub):
            return
        if shown is not None:
            if shown.deleted or _version(shown.version) >= _version(row.version):
                await self._finish(row, "skipped", "stale")
                return
            if shown.in_summary:
                await self._update_summary(row, sub, shown, deleted=False)
                return
            if shown.is_parent:
                blocks, text = messages.parent_message(thread, note)
            else:
                blocks, text = messages.reply_message(note)
            await self._call(
                sub.team_id, "chat.update", channel=sub.channel_id, ts=shown.ts, blocks=blocks, text=text
            )
            await self._store.record_delivery(
                row.id, sub.id, message=_replace(shown, version=row.version, note=row.payload)
            )
            self._metrics.deliveries.labels("edit", "ok").inc()
            return
        slack_thread = await self._store.get_slack_thread(sub.team_id, sub.channel_id, row.thread_id)
        if slack_thread is not None and slack_thread.muted:
            await self._finish(row, "skipped", "muted")
            return
        meta = messages.metadata(
            subscription_id=sub.id, note_id=note.id, version=row.version, thread_id=row.thread_id
        )
        if row.attempted_at is not None and await self._repair(row, sub, note, slack_thread):
            return
        await self._store.mark_attempt(row.id)
        if slack_thread is None:
            blocks, text = messages.parent_message(thread, note)
            response = await self._call(
                sub.team_id,
                "chat.postMessage",
                channel=sub.channel_id,
                blocks=blocks,
                text=text,
                metadata=meta,
            )
            ts = str(response["ts"])
            await self._store.record_delivery(
                row.id,
                sub.id,
                message=self._message(sub, row, ts, is_parent=True),
                thread=SlackThread(sub.team_id, sub.channel_id, row.thread_id, ts, note.id, False),
            )
        else:
            blocks, text = messages.reply_message(note)
            try:
                response = await self._call(
                    sub.team_id,
                    "chat.postMessage",
                    channel=sub.channel_id,
                    blocks=blocks,
                    text=text,
                    metadata=meta,
                    thread_ts=slack_thread.parent_ts,
                    reply_broadcast=sub.broadcast,
                )
            except SlackApiError as exc:
                if exc.response.get("error") == "thread_not_found":
                    # Someone deleted the parent message: the next try opens a new Slack thread.
                    await self._store.forget_slack_thread(sub.team_id, sub.channel_id, row.thread_id)
                raise
            await self._store.record_delivery(
                row.id, sub.id, message=self._message(sub, row, str(response["ts"]), is_parent=False)
            )
        self.pacer.sent(sub.channel_id)
        self._metrics.deliveries.labels("note", "ok").inc()

    async def _repair(
        self, row: OutboxRow, sub: Subscription, note: Note, slack_thread: SlackThread | None
    ) -> bool:
        """A previous try may have posted before dying: find that message by its metadata and record it."""
        if slack_thread is not None:
            response = await self._call(
                sub.team_id,
                "conversations.replies",
                channel=sub.channel_id,
                ts=slack_thread.parent_ts,
                include_all_metadata=True,
                limit=1000,
            )
        else:
            response = await self._call(
                sub.team_id,
                "conversations.history",
                channel=sub.channel_id,
                include_all_metadata=True,
                limit=LOOKUP_LIMIT,
            )
        for message in response.get("messages") or []:
            if not messages.matches(message, sub.id, note.id):
                continue
            ts = str(message["ts"])
            is_parent = slack_thread is None or ts == slack_thread.parent_ts
            await self._store.record_delivery(
                row.id,
                sub.id,
                message=self._message(sub, row, ts, is_parent=is_parent),
                thread=(
                    SlackThread(sub.team_id, sub.channel_id, row.thread_id, ts, note.id, False)
                    if slack_thread is None
                    else None
                ),
            )
            log.info("sender.repaired", subscription_id=sub.id, note_id=note.id, ts=ts)
            self._metrics.deliveries.labels("note", "repaired").inc()
            return True
        return False

    async def _deleted(self, row: OutboxRow, sub: Subscription) -> None:
        shown = await self._store.get_note_message(sub.team_id, sub.channel_id, row.note_id)
        if shown is None or shown.deleted:
            await self._finish(row, "skipped", "not shown")
            return
        if shown.in_summary:
            await self._update_summary(row, sub, shown, deleted=True)
            return
        note = Note.model_validate(shown.note)
        if sub.deleted_mode == "remove" and not shown.is_parent:
            try:
                await self._call(sub.team_id, "chat.delete", channel=sub.channel_id, ts=shown.ts)
            except SlackApiError as exc:
                if exc.response.get("error") != "message_not_found":
                    raise
        else:
            if shown.is_parent:
                thread = await self._thread_of(row.thread_id, sub)
                blocks, text = messages.parent_message(thread, note, deleted=True)
            else:
                blocks, text = messages.reply_message(note, deleted=True)
            try:
                await self._call(
                    sub.team_id, "chat.update", channel=sub.channel_id, ts=shown.ts, blocks=blocks, text=text
                )
            except SlackApiError as exc:
                if exc.response.get("error") != "message_not_found":
                    raise
        await self._store.record_delivery(row.id, sub.id, message=_replace(shown, deleted=True))
        self._metrics.deliveries.labels("delete", "ok").inc()

    # --- two-way and quiet hours ----------------------------------------------------------------------------

    async def _from_this_channel(self, row: OutboxRow, sub: Subscription) -> bool:
        """A note made from a person's reply in this channel is shown by that reply: finish the row without
        posting. While a reply of the conversation's Slack thread is still becoming a note, wait."""
        origin = await self._store.slack_note_by_note(sub.team_id, sub.channel_id, row.note_id)
        if origin is not None:
            await self._finish(row, "skipped", "written in this channel's Slack thread")
            return True
        since = self._now() - CLAIM_WAIT
        if Options.from_json(sub.options).two_way and await self._store.slack_notes_creating(
            sub.team_id, sub.channel_id, row.thread_id, since
        ):
            await self._store.retry_outbox(
                row.id, self._now() + timedelta(seconds=1), "a two-way reply is becoming a note",
                attempt=False, posted=False,
            )  # fmt: skip
            raise _Wait
        return False

    async def _summary(self, row: OutboxRow, sub: Subscription) -> None:
        """Post the notes held in quiet hours as one message (each note as it stands now)."""
        held = await self._store.outbox_by_ids([int(i) for i in row.payload.get("rows") or []])
        latest: dict[str, OutboxRow] = {}
        deleted: set[str] = set()
        for r in held:
            if r.kind == "deleted":
                deleted.add(r.note_id)
            elif r.kind == "note" and (
                r.note_id not in latest or _version(r.version) >= _version(latest[r.note_id].version)
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
        if not chosen:
            await self._finish(row, "skipped", "nothing left to summarise")
            return
        lines = [SummaryLine(Note.model_validate(r.payload)) for r in chosen]
        blocks, text = await self._summary_blocks(sub, lines)
        meta = messages.metadata(
            subscription_id=sub.id, note_id=row.note_id, version=row.version, thread_id=""
        )
        ts: str | None = None
        if row.attempted_at is not None:
            ts = await self._find_posted(sub, row.note_id)
        if ts is None:
            await self._store.mark_attempt(row.id)
            response = await self._call(
                sub.team_id,
                "chat.postMessage",
                channel=sub.channel_id,
                blocks=blocks,
                text=text,
                metadata=meta,
            )
            ts = str(response["ts"])
            self.pacer.sent(sub.channel_id)
        shown = [
            NoteMessage(
                sub.team_id, sub.channel_id, r.note_id, r.thread_id, ts, r.version, False, r.payload, False
            )
            for r in chosen
        ]
        await self._store.record_summary(row.id, sub.id, shown)
        self._metrics.deliveries.labels("summary", "ok").inc()

    async def _update_summary(
        self, row: OutboxRow, sub: Subscription, shown: NoteMessage, *, deleted: bool
    ) -> None:
        """A note listed in a quiet-hours summary changed: show the summary again with it."""
        now_shown = (
            _replace(shown, deleted=True)
            if deleted
            else _replace(shown, version=row.version, note=row.payload)
        )
        lines = [
            SummaryLine(Note.model_validate(m.note), deleted=m.deleted)
            for m in (
                now_shown if m.note_id == shown.note_id else m
                for m in await self._store.summary_lines(sub.team_id, sub.channel_id, shown.ts)
            )
        ]
        blocks, text = await self._summary_blocks(sub, lines)
        try:
            await self._call(
                sub.team_id, "chat.update", channel=sub.channel_id, ts=shown.ts, blocks=blocks, text=text
            )
        except SlackApiError as exc:
            if exc.response.get("error") != "message_not_found":
                raise
        await self._store.record_delivery(row.id, sub.id, message=now_shown)
        self._metrics.deliveries.labels("summary", "ok").inc()

    async def _summary_blocks(self, sub: Subscription, lines: list[SummaryLine]) -> tuple[list[Any], str]:
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
                found = await self._call(
                    sub.team_id,
                    "chat.getPermalink",
                    channel=sub.channel_id,
                    message_ts=slack_thread.parent_ts,
                )
                links[tid] = str(found["permalink"])
            except SlackApiError:
                continue  # a summary without that link is still the summary
        return summary_message(sub.resource_name, window, threads, lines, links)

    async def _find_posted(self, sub: Subscription, key: str) -> str | None:
        """The ts of this subscription's top-level message with metadata `key`, if a dead try posted it."""
        response = await self._call(
            sub.team_id, "conversations.history", channel=sub.channel_id, include_all_metadata=True,
            limit=LOOKUP_LIMIT,
        )  # fmt: skip
        for message in response.get("messages") or []:
            if messages.matches(message, sub.id, key):
                return str(message["ts"])
        return None

    async def _thread(self, row: OutboxRow, sub: Subscription) -> None:
        slack_thread = await self._store.get_slack_thread(sub.team_id, sub.channel_id, row.thread_id)
        if slack_thread is None:
            await self._finish(row, "skipped", "no Slack thread")
            return
        await self.refresh_parent(sub, slack_thread)
        await self._store.record_delivery(row.id, sub.id)
        self._metrics.deliveries.labels("thread", "ok").inc()

    async def refresh_parent(self, sub: Subscription, slack_thread: SlackThread) -> None:
        """Show the thread's current state and assignee on its parent message."""
        thread = await self._thread_of(slack_thread.thread_id, sub)
        first = await self._store.get_note_message(sub.team_id, sub.channel_id, slack_thread.first_note_id)
        note = Note.model_validate(first.note) if first is not None else None
        blocks, text = messages.parent_message(thread, note, deleted=bool(first and first.deleted))
        await self._call(
            sub.team_id,
            "chat.update",
            channel=sub.channel_id,
            ts=slack_thread.parent_ts,
            blocks=blocks,
            text=text,
        )

    # --- failures -----------------------------------------------------------------------------------------

    async def _slack_failed(self, row: OutboxRow, sub: Subscription, exc: SlackApiError) -> str:
        error = str(exc.response.get("error") or "")
        status = exc.response.status_code
        if status == 429 or error == "ratelimited":
            retry_after = _retry_after(exc)
            self.pacer.block(sub.channel_id, retry_after)
            self._metrics.slack_rate_limited.labels("chat").inc()
            await self._store.retry_outbox(
                row.id,
                self._now() + timedelta(seconds=retry_after),
                "ratelimited",
                attempt=False,
                posted=False,
            )
            return "wait"
        if error in PAUSE_ERRORS:
            return await self._pause(row, sub, error)
        if error == "thread_not_found":
            await self._store.retry_outbox(row.id, self._now(), error, attempt=False, posted=False)
            return "wait"
        await self._retry(row, sub, error or f"http {status}", posted=status >= 500)
        return "wait"

    async def _pause(self, row: OutboxRow, sub: Subscription, error: str) -> str:
        await self._store.retry_outbox(row.id, self._now(), error, attempt=False, posted=False)
        if await self._store.pause_subscription(sub.id, error):
            log.warning("sender.paused", subscription_id=sub.id, channel_id=sub.channel_id, reason=error)
            self._metrics.deliveries.labels(row.kind, "paused").inc()
            await self._on_pause(sub, error)
        return "paused"

    async def _retry(self, row: OutboxRow, sub: Subscription, error: str, *, posted: bool = True) -> None:
        attempts = row.attempts + 1
        await self._store.record_subscription_error(sub.id, error)
        self._metrics.deliveries.labels(row.kind, "error").inc()
        if attempts >= MAX_ATTEMPTS:
            log.warning("sender.failed", subscription_id=sub.id, note_id=row.note_id, error=error)
            await self._finish(row, "failed", error)
            return
        delay = timedelta(seconds=min(300, 2 * 2**attempts))
        await self._store.retry_outbox(row.id, self._now() + delay, error, posted=posted)

    async def _finish(self, row: OutboxRow, status: str, why: str) -> None:
        await self._store.finish_outbox(row.id, status, why)

    # --- helpers ------------------------------------------------------------------------------------------

    async def _call(self, team_id: str, method: str, **kwargs: Any) -> Any:
        """One Web API call with the bot token of the subscription's own workspace."""
        slack = await self.clients.for_team(team_id)
        if "blocks" in kwargs:
            kwargs["blocks"] = messages.as_dicts(kwargs["blocks"])
        if method == "chat.postMessage":
            return await slack.chat_postMessage(unfurl_links=False, unfurl_media=False, **kwargs)
        if method == "chat.update":
            return await slack.chat_update(**kwargs)
        if method == "chat.delete":
            return await slack.chat_delete(**kwargs)
        if method == "conversations.replies":
            return await slack.conversations_replies(**kwargs)
        if method == "conversations.history":
            return await slack.conversations_history(**kwargs)
        if method == "chat.getPermalink":
            return await slack.chat_getPermalink(**kwargs)
        raise ValueError(f"unexpected Slack method {method}")

    async def _thread_of(self, thread_id: str, sub: Subscription) -> Thread:
        cached = await self._store.cached_threads([thread_id])
        if thread_id in cached:
            return thread_from(cached[thread_id])
        now = self._now()
        return Thread(
            id=thread_id,
            status="Open",
            availability="Alive",
            owner=OwnerResource(extension_id=sub.resource_id, name=sub.resource_name),
            creation_time=now,
            last_modified_time=now,
        )

    def _message(self, sub: Subscription, row: OutboxRow, ts: str, *, is_parent: bool) -> NoteMessage:
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

    async def _update_gauges(self) -> None:
        depths = await self._store.outbox_depths()
        self._metrics.outbox_depth.set(sum(depths.values()))
        paused = await self._store.list_subscriptions(status="paused")
        self._metrics.subscriptions_paused.set(len(paused))

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)


def _replace(message: NoteMessage, **changes: Any) -> NoteMessage:
    from dataclasses import replace

    return replace(message, **changes)


def _version(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def _retry_after(exc: SlackApiError) -> float:
    headers = getattr(exc.response, "headers", None) or {}
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(1.0, float(value if isinstance(value, str) else value[0]))
            except (TypeError, ValueError, IndexError):
                break
    return 1.0
