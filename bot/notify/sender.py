"""The sender: posts the outbox into Slack, one Slack thread per RingCentral thread per channel.

This module is the round loop and its ordering; the work is split by role:
`posting.py` (the one exactly-once post, `post_once`, and the Web API calls), `deliveries.py` (notes, edits,
deletions, thread states), `summaries.py` (quiet-hours summaries).

- Rows go oldest first and each channel strictly in order: when a row of a channel has to wait (pacing, a 429,
  a retry, a lookup waiting for Slack's history budget), every later row of that channel waits too, so a reply
  never overtakes the parent it belongs to. Other channels go on meanwhile.
- About one message per second per channel (`channel_interval`); a 429 blocks the channel for `Retry-After`.
- Before posting, the row is marked attempted (committed). A row found attempted was maybe posted: it is
  looked up by its metadata before anything is posted again (`posting.py` says when and how), so neither a
  crash nor a post whose answer never came makes a second copy.
- Quiet hours: a new note (and what happens to it) arriving while its subscription is quiet is *held*; when
  the hours end the notifier releases the held rows as one "summary" row (`summaries.py`).
- `channel_not_found`, `is_archived`, `not_in_channel` and token errors pause the subscription with the reason
  (its rows stay queued) and tell its creator; other failures are retried with backoff, then marked failed and
  shown as the subscription's last error. Nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import get_logger
from bot.metrics import Metrics
from bot.notify import messages
from bot.notify.deliveries import Deliveries
from bot.notify.options import Options
from bot.notify.posting import (
    NETWORK_ERRORS,
    UNANSWERED_SETTLE,
    MaybePosted,
    NotPosted,
    Pacer,
    Poster,
    Wait,
    retry_after,
)
from bot.notify.summaries import Summaries
from bot.notify.workspaces import NotInstalled, OneWorkspace, SlackClients
from bot.ringcentral.models import Thread
from bot.store.outbox import OutboxRow
from bot.store.protocols import SenderStore
from bot.store.quiet_hours import SUMMARY
from bot.store.slack_messages import SlackThread
from bot.store.subscriptions import Subscription

log = get_logger(__name__)

PAUSE_ERRORS = frozenset(messages.PAUSE_REASONS)
MAX_ATTEMPTS = 5

__all__ = ["MAX_ATTEMPTS", "Pacer", "Sender"]

OnPause = Callable[[Subscription, str], Awaitable[None]]
StillMine = Callable[[str, str], Awaitable[bool]]


class Sender:
    def __init__(
        self,
        store: SenderStore,
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
        self.poster = Poster(store, self.clients, metrics, self.pacer, clock)
        self.summaries = Summaries(store, self.poster, finish=self._finish, thread_of=self._thread_of)
        self.deliveries = Deliveries(
            store, self.poster, finish=self._finish, update_summary=self.summaries.update
        )
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
                await self.deliveries.note(row, sub)
            elif row.kind == "deleted":
                await self.deliveries.deleted(row, sub)
            elif row.kind == SUMMARY:
                await self.summaries.post(row, sub)
            else:
                await self.deliveries.thread(row, sub)
        except Wait as wait:
            if wait.until is not None:
                await self._store.retry_outbox(row.id, wait.until, wait.why, attempt=False, posted=True)
            return "wait"
        except MaybePosted as exc:
            return await self._maybe_posted(row, sub, exc.reason)
        except NotPosted as exc:
            return await self._slack_failed(row, sub, exc.error, not_posted=True)
        except SlackApiError as exc:
            return await self._slack_failed(row, sub, exc, not_posted=False)
        except NotInstalled:
            return await self._pause(row, sub, "not_authed", not_posted=False)
        except NETWORK_ERRORS as exc:  # a call other than the post: retry, never lose the row
            await self._retry(row, sub, f"network: {type(exc).__name__}")
            return "wait"
        return "done"

    async def refresh_parent(self, sub: Subscription, slack_thread: SlackThread) -> None:
        """Show the thread's current state and assignee on its parent message."""
        await self.deliveries.refresh_parent(sub, slack_thread)

    async def _thread_of(self, thread_id: str, sub: Subscription) -> Thread:
        return await self.deliveries.thread_of(thread_id, sub)

    # --- failures -----------------------------------------------------------------------------------------

    async def _maybe_posted(self, row: OutboxRow, sub: Subscription, reason: str) -> str:
        """The post got no answer: it may have landed, or may still. Never post again at once: look it up
        after `UNANSWERED_SETTLE` (the row stays attempted, so the next try looks before posting)."""
        log.warning(
            "sender.maybe_posted", subscription_id=sub.id, channel_id=sub.channel_id, note_id=row.note_id,
            reason=reason, look_again_in=UNANSWERED_SETTLE.total_seconds(),
        )  # fmt: skip
        await self._retry(row, sub, f"maybe posted ({reason})", at_least=UNANSWERED_SETTLE)
        return "wait"

    async def _slack_failed(
        self, row: OutboxRow, sub: Subscription, exc: SlackApiError, *, not_posted: bool
    ) -> str:
        """Slack answered with an error. `not_posted`: the answer was to the post itself, which proves nothing
        was posted; an error from any other call (a lookup, an update) proves nothing about an earlier try."""
        error = str(exc.response.get("error") or "")
        status = exc.response.status_code
        if status == 429 or error == "ratelimited":
            wait = retry_after(exc)
            self.pacer.block(sub.channel_id, wait)
            self._metrics.slack_rate_limited.labels("chat").inc()
            await self._store.retry_outbox(
                row.id,
                self._now() + timedelta(seconds=wait),
                "ratelimited",
                attempt=False,
                posted=not not_posted,
            )
            return "wait"
        if error in PAUSE_ERRORS:
            return await self._pause(row, sub, error, not_posted=not_posted)
        if error == "thread_not_found":
            await self._store.retry_outbox(row.id, self._now(), error, attempt=False, posted=not not_posted)
            return "wait"
        await self._retry(row, sub, error or f"http {status}", posted=not not_posted)
        return "wait"

    async def _pause(self, row: OutboxRow, sub: Subscription, error: str, *, not_posted: bool) -> str:
        await self._store.retry_outbox(row.id, self._now(), error, attempt=False, posted=not not_posted)
        if await self._store.pause_subscription(sub.id, error):
            log.warning("sender.paused", subscription_id=sub.id, channel_id=sub.channel_id, reason=error)
            self._metrics.deliveries.labels(row.kind, "paused").inc()
            await self._on_pause(sub, error)
        return "paused"

    async def _retry(
        self,
        row: OutboxRow,
        sub: Subscription,
        error: str,
        *,
        posted: bool = True,
        at_least: timedelta = timedelta(0),
    ) -> None:
        attempts = row.attempts + 1
        await self._store.record_subscription_error(sub.id, error)
        self._metrics.deliveries.labels(row.kind, "error").inc()
        if attempts >= MAX_ATTEMPTS:
            log.warning("sender.failed", subscription_id=sub.id, note_id=row.note_id, error=error)
            await self._finish(row, "failed", error)
            return
        delay = max(at_least, timedelta(seconds=min(300, 2 * 2**attempts)))
        await self._store.retry_outbox(row.id, self._now() + delay, error, posted=posted)

    async def _finish(self, row: OutboxRow, status: str, why: str) -> None:
        await self._store.finish_outbox(row.id, status, why)

    async def _update_gauges(self) -> None:
        depths = await self._store.outbox_depths()
        self._metrics.outbox_depth.set(sum(depths.values()))
        paused = await self._store.list_subscriptions(status="paused")
        self._metrics.subscriptions_paused.set(len(paused))

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)
