"""The sender: posts the outbox into Slack, one Slack thread per RingCentral thread per channel.

This module is the channel loop and its ordering; the work is split by role:
`posting.py` (the one exactly-once post, `post_once`, and the Web API calls), `deliveries.py` (notes, edits,
deletions, thread states), `summaries.py` (quiet-hours summaries).

- Rows go oldest first and each channel strictly in order: when a row of a channel has to wait (pacing, a 429,
  a retry, a lookup waiting for Slack's history budget), every later row of that channel waits too, so a reply
  never overtakes the parent it belongs to. Other channels go on meanwhile.
- Each channel is worked by its own task, so channels post at the same time and a slow or limited channel
  holds up no other (a task holds a store connection only for a transaction; the pool queues the rest). A
  task reads its channel's oldest rows (`BATCH`) with their subscriptions and works them from memory,
  reading rows again when they are used up and the subscriptions (the store's snapshot, read again only
  when one changed) when they are `REFRESH` old (so a pause, an unsubscribe or new options are seen within
  about a second); the mark before a post is made only if the row is as it was read
  (`mark_attempt(seen=…)`), so a row that another replica finished or tried meanwhile is read again, never
  posted from the old reading.
- About one message per second per channel (`channel_interval`, kept by `Pacer`: from the start of the
  previous post, within Slack's one-second window counted from its answers); a post's reads are done before
  its slot comes and its mark just before it (`MARK_LEAD`), so they add nothing to the period.
  A 429 blocks the channel for `Retry-After`, and 429s on several channels of one workspace at once block
  the workspace (Slack's workspace-wide `chat.postMessage` limit).
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
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

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
BATCH = 50  # a channel's rows read at a time (one query), worked from memory until used up or stale
REFRESH = 1.0  # seconds a channel's subscriptions are worked from memory before they are read again
IDLE = 10.0  # seconds a serving channel task waits for new rows before it ends (the next rows start one)

__all__ = ["MAX_ATTEMPTS", "Pacer", "Sender"]

OnPause = Callable[[Subscription, str], Awaitable[None]]
StillMine = Callable[[str, str], Awaitable[bool]]


@dataclass
class _Queue:
    """A channel's head rows in memory, with their subscriptions, between reads of the store."""

    team: str
    channel: str
    rows: deque[OutboxRow] = field(default_factory=deque)
    subs: dict[int, Subscription] = field(default_factory=dict)
    loaded: float = float("-inf")

    def stale(self, now: float) -> bool:
        return now - self.loaded > REFRESH

    def fill(self, rows: list[OutboxRow], subs: dict[int, Subscription], now: float) -> None:
        self.rows, self.subs, self.loaded = deque(rows), dict(subs), now

    def drop(self, subscription_id: int) -> None:
        """A paused (or gone) subscription's rows stay queued in the store; this channel's others go on."""
        self.rows = deque(r for r in self.rows if r.subscription_id != subscription_id)
        self.subs.pop(subscription_id, None)


class _Deadline:
    """A drain: work a channel until its rows are used up or the next one must wait past `deadline`."""

    stopping = False
    lead = float("inf")  # the post waits for its slot in `post_once` (within the deadline)

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def fits(self, seconds: float) -> bool:
        return time.monotonic() + seconds <= self.deadline

    async def pause(self, seconds: float) -> bool:
        if not self.fits(seconds):
            return False
        await asyncio.sleep(seconds)
        return True

    def loading(self) -> None:
        pass

    async def idle(self) -> bool:
        return False  # no rows left: the drain is done with this channel

    async def again(self) -> bool:
        return False  # a row that waits for nothing in particular goes in the next drain


class _Serving:
    """A channel served by a long-lived task: it waits for its rows' times and slots, and when it has no
    rows it waits to be woken (`wake`, set when rows are queued) for `IDLE` seconds, then ends."""

    def __init__(self, lead: float) -> None:
        self.lead = lead
        self.woken = asyncio.Event()
        self.stopping = False

    @staticmethod
    def fits(seconds: float) -> bool:
        return True

    async def pause(self, seconds: float) -> bool:
        """Sleep `seconds`, or less when woken (a stop, new rows: the loop looks again). False: stop."""
        try:
            await asyncio.wait_for(self.woken.wait(), seconds)
        except TimeoutError:
            pass
        else:
            self.woken.clear()
        return not self.stopping

    def loading(self) -> None:
        self.woken.clear()  # a wake from now on means rows queued after this read

    async def idle(self) -> bool:
        try:
            await asyncio.wait_for(self.woken.wait(), IDLE)
        except TimeoutError:
            return False
        return not self.stopping

    async def again(self) -> bool:
        return await self.pause(REFRESH)


_Until = _Deadline | _Serving


@dataclass
class _Worker:
    task: asyncio.Task[int]
    until: _Serving


class Sender:
    def __init__(
        self,
        store: SenderStore,
        slack: AsyncWebClient | SlackClients,
        metrics: Metrics,
        *,
        on_pause: OnPause,
        account_of: Callable[[str], Awaitable[str]],  # a workspace's RingCentral account (`tenancy.py`)
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
            store,
            self.poster,
            finish=self._finish,
            update_summary=self.summaries.update,
            account_of=account_of,
        )
        self._lock = asyncio.Lock()
        self._workers: dict[tuple[str, str], _Worker] = {}  # the channels served (`serve`)
        self._snapshot: tuple[Subscription, ...] = ()  # the store's subscriptions, and by id
        self._by_id: dict[int, Subscription] = {}

    async def drain(
        self,
        *,
        max_seconds: float = 0.0,
        still_mine: StillMine | None = None,
        channels: set[tuple[str, str]] | None = None,
    ) -> int:
        """Post what is due. Waits for paced channels up to `max_seconds` in all; returns rows finished.

        `channels` ((team, channel) pairs) limits the work to the channels this replica has claimed, and
        `still_mine(team, channel)` is asked before each post: False (the claim moved) stops that channel.
        Each channel is worked by its own task (in order within it); the first error any of them raised is
        raised once they have all stopped."""
        async with self._lock:
            deadline = time.monotonic() + max_seconds
            keys = channels if channels is not None else await self._store.channels_with_pending()
            outcomes = await asyncio.gather(
                *(self._channel(team, channel, _Deadline(deadline), still_mine) for team, channel in keys),
                return_exceptions=True,
            )
            await self.update_gauges()
            finished = 0
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
                finished += outcome
            return finished

    async def _channel(self, team: str, channel: str, until: _Until, still_mine: StillMine | None) -> int:
        """One channel's rows, oldest first; `until` says how long to go on (a drain's deadline, or while
        this replica serves the channel). Returns the rows finished."""
        queue = _Queue(team, channel)
        finished = 0
        while not until.stopping:
            if not queue.rows:
                until.loading()
                await self._load(queue)
            elif queue.stale(time.monotonic()):  # the rows in memory are checked by the mark before a post
                queue.subs, queue.loaded = await self._subscriptions(queue.rows), time.monotonic()
            if not queue.rows:
                if await until.idle():
                    continue  # woken: rows were queued
                return finished
            row = queue.rows[0]
            sub = queue.subs.get(row.subscription_id)
            if sub is None or not sub.active:
                queue.drop(row.subscription_id)
                continue
            retry = self._retry_wait(row)
            if retry > 0:
                if not await until.pause(retry):
                    return finished
                continue
            pace = self.pacer.wait(channel, team) if self._posts(row) else 0.0
            if pace > 0 and not until.fits(pace):
                return finished
            if pace > until.lead:  # the reads start `lead` before the slot, not a second before
                if not await until.pause(pace - until.lead):
                    return finished
                continue
            if still_mine is not None and not await still_mine(team, channel):
                return finished  # another replica took this channel over: leave it at once
            # A post's reads are done now; its mark and the post itself wait for the channel's slot
            # (`Pacer.ready` in `post_once`), so they are not added to the channel's period.
            outcome = "held" if await self._hold(row, sub, self._now()) else await self._deliver(row, sub)
            if outcome in ("done", "held"):
                finished += outcome == "done"
                queue.rows.popleft()
            elif outcome == "paused":
                queue.drop(row.subscription_id)
            else:  # "wait": read the row again; it goes on now only if it has a time to wait for
                await self._load(queue)
                same = bool(queue.rows) and queue.rows[0].id == row.id
                if same and self._wait(queue.rows[0], sub) <= 0 and not await until.again():
                    return finished
        return finished

    # --- serving: a task per channel for as long as it has rows ----------------------------------------

    def serve(self, channels: list[tuple[str, str]], still_mine: StillMine) -> None:
        """Work `channels` ((team, channel) pairs this replica holds), each by its own long-lived task: start
        one where none runs, wake the others (rows may have been queued). Not together with `drain`."""
        for key in channels:
            worker = self._workers.get(key)
            if worker is not None and not worker.task.done():
                worker.until.woken.set()
                continue
            until = _Serving(lead=self.pacer.interval / 2)
            task = asyncio.create_task(self._served(key, until, still_mine), name=f"send:{key[1]}")
            self._workers[key] = worker = _Worker(task, until)
            task.add_done_callback(partial(self._forget, key, worker))

    def serving(self) -> set[tuple[str, str]]:
        return {key for key, worker in self._workers.items() if not worker.task.done()}

    async def stop_serving(self, grace: float) -> None:
        """Let the channel tasks finish what they are doing (a post and its record) for up to `grace`
        seconds, then cancel them (a row marked and not recorded is looked up by the next process)."""
        workers = list(self._workers.values())
        for worker in workers:
            worker.until.stopping = True
            worker.until.woken.set()
        tasks = [worker.task for worker in workers if not worker.task.done()]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    def _forget(self, key: tuple[str, str], worker: _Worker, _: object) -> None:
        if self._workers.get(key) is worker:
            del self._workers[key]

    async def _served(self, key: tuple[str, str], until: _Serving, still_mine: StillMine) -> int:
        try:
            return await self._channel(key[0], key[1], until, still_mine)
        except Exception:  # the next `serve` starts the channel again
            log.exception("sender.channel_failed", team_id=key[0], channel_id=key[1])
            return 0

    async def _load(self, queue: _Queue) -> None:
        """The channel's oldest pending rows and their subscriptions: one small query each, not per row."""
        rows = await self._store.pending_outbox(limit=BATCH, channels=[(queue.team, queue.channel)])
        queue.fill(rows, await self._subscriptions(rows), time.monotonic())

    async def _subscriptions(self, rows: Iterable[OutboxRow]) -> dict[int, Subscription]:
        """The rows' subscriptions, from the store's snapshot: one small read while none was added, paused,
        resumed, changed or deleted (here or on another replica), its map shared by every channel task."""
        snapshot = await self._store.subscriptions_snapshot()
        if snapshot is not self._snapshot:
            self._snapshot, self._by_id = snapshot, {sub.id: sub for sub in snapshot}
        return {
            row.subscription_id: self._by_id[row.subscription_id]
            for row in rows
            if row.subscription_id in self._by_id
        }

    def _retry_wait(self, row: OutboxRow) -> float:
        if row.next_attempt_at is None:
            return 0.0
        return (row.next_attempt_at - self._now()).total_seconds()

    def _wait(self, row: OutboxRow, sub: Subscription) -> float:
        """Seconds before `row` may go: its retry time, and for a post its channel's and workspace's pace."""
        pace = self.pacer.wait(sub.channel_id, sub.team_id) if self._posts(row) else 0.0
        return max(self._retry_wait(row), pace)

    @staticmethod
    def _posts(row: OutboxRow) -> bool:
        return row.kind in ("note", SUMMARY)  # an edit too: it may turn out to be a post (never shown yet)

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
            if self.pacer.limited(sub.team_id, sub.channel_id, wait):
                log.warning("sender.workspace_ratelimited", team_id=sub.team_id, retry_after=wait)
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

    async def update_gauges(self) -> None:
        depths = await self._store.outbox_depths()
        self._metrics.outbox_depth.set(sum(depths.values()))
        paused = await self._store.list_subscriptions(status="paused")
        self._metrics.subscriptions_paused.set(len(paused))

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)
