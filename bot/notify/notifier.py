"""The notifier: the feed and the sender under one lease, scheduled with APScheduler in the app's event loop.

    notifier = Notifier(store, clients.service, slack_client, metrics, poll_interval=30)
    notifier.start()               # production: interval jobs (max_instances=1, coalesce=True)
    await notifier.run_once()      # tests: one poll and the sending it leads to, deterministically
    await notifier.stop()

Only the replica holding the lease `notify:feed` polls and sends (`try_acquire_lease`, renewed by each run and
while sending; released on stop). A replica that dies leaves the lease to expire (`lease_ttl`), then another
takes over; the outbox's unique keys and the metadata lookup make the overlap harmless.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import get_logger
from bot.metrics import Metrics
from bot.notify import messages
from bot.notify.feed import Feed, PollResult, thread_json
from bot.notify.sender import Sender
from bot.ringcentral import RingCentralClient
from bot.ringcentral.models import Thread
from bot.store import Store
from bot.store.notify import Subscription

log = get_logger(__name__)

LEASE = "notify:feed"
CHANNEL_REASONS = ("channel_not_found", "is_archived", "not_in_channel")


@dataclass(frozen=True)
class SubscriptionStatus:
    subscription: Subscription
    last_poll: datetime | None
    lag_seconds: float | None
    outbox_depth: int
    last_error: str | None


class Notifier:
    def __init__(
        self,
        store: Store,
        service_client: Callable[[], RingCentralClient],
        slack: AsyncWebClient,
        metrics: Metrics,
        *,
        poll_interval: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        channel_interval: float = 1.0,
        reconcile_every: timedelta = timedelta(minutes=15),
        recheck_every: float = 300.0,
        lease_ttl: timedelta | None = None,
        holder: str | None = None,
    ) -> None:
        self._store = store
        self._slack = slack
        self._metrics = metrics
        self._clock = clock
        self.poll_interval = poll_interval
        self.recheck_every = recheck_every
        self.feed = Feed(store, service_client, clock=clock, reconcile_every=reconcile_every)
        self.sender = Sender(
            store, slack, metrics, on_pause=self._tell_creator, clock=clock, channel_interval=channel_interval
        )
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.lease_ttl = lease_ttl or timedelta(seconds=max(3 * poll_interval, 10.0))
        self._scheduler: AsyncIOScheduler | None = None
        self._poll_lock = asyncio.Lock()
        self._renewed_at = 0.0

    # --- the work -------------------------------------------------------------------------------------------

    async def run_once(
        self, *, reconcile: bool | None = None, send_seconds: float = 0.0
    ) -> PollResult | None:
        """Poll the feed once and post what is due. None when another replica holds the lease."""
        if not await self._lease():
            return None
        result = await self.poll(reconcile=reconcile)
        await self.send(max_seconds=send_seconds)
        return result

    async def poll(self, *, reconcile: bool | None = None) -> PollResult:
        async with self._poll_lock:
            started = time.monotonic()
            result = await self.feed.poll(reconcile=reconcile)
            self._metrics.poll_duration.observe(time.monotonic() - started)
            self._metrics.polls.labels("ok" if result.requests_ok else "error").inc()
            if result.requests_ok:
                self._metrics.last_poll.set(self._clock().timestamp())
            return result

    async def send(self, *, max_seconds: float = 0.0) -> int:
        return await self.sender.drain(max_seconds=max_seconds, still_mine=self._still_mine)

    async def thread_changed(self, thread: Thread) -> None:
        """A thread was assigned or resolved from Slack: cache it and update its parent messages now."""
        await self._store.cache_threads([(thread.id, thread.owner.extension_id, thread_json(thread))])
        for slack_thread in await self._store.slack_threads_for(thread.id):
            subs = await self._store.list_subscriptions(
                team_id=slack_thread.team_id,
                channel_id=slack_thread.channel_id,
                resource_id=thread.owner.extension_id,
            )
            for sub in subs:
                try:
                    await self.sender.refresh_parent(sub, slack_thread)
                except SlackApiError as exc:
                    log.info("notifier.parent_refresh_failed", error=exc.response.get("error"))

    async def recheck_paused(self) -> list[int]:
        """Resume paused subscriptions whose problem is gone (channel back, bot invited, token working)."""
        resumed = []
        for sub in await self._store.list_subscriptions(status="paused"):
            if await self.channel_ok(sub.channel_id) is None and await self._store.resume_subscription(
                sub.id
            ):
                log.info("notifier.resumed", subscription_id=sub.id)
                resumed.append(sub.id)
        return resumed

    async def channel_ok(self, channel_id: str) -> str | None:
        """None when the bot can post in the channel, else the reason it cannot."""
        try:
            info = await self._slack.conversations_info(channel=channel_id)
        except SlackApiError as exc:
            return str(exc.response.get("error") or "error")
        channel = info.get("channel") or {}
        if channel.get("is_archived"):
            return "is_archived"
        if channel.get("is_member") is False:
            return "not_in_channel"
        return None

    # --- status ---------------------------------------------------------------------------------------------

    async def status(self, subs: list[Subscription] | None = None) -> list[SubscriptionStatus]:
        subs = subs if subs is not None else await self._store.list_subscriptions()
        depths = await self._store.outbox_depths()
        oldest = await self._store.oldest_pending()
        resources = await self._store.feed_resource_states()
        now = self._clock()
        out = []
        for sub in subs:
            res = resources.get(sub.resource_id)
            lag = (now - oldest[sub.id]).total_seconds() if sub.id in oldest else 0.0
            error = sub.last_error or (res.last_error if res else None)
            out.append(
                SubscriptionStatus(sub, res.last_ok_at if res else None, lag, depths.get(sub.id, 0), error)
            )
        return out

    async def health(self, team_id: str | None = None) -> dict[str, Any]:
        """Figures for `/thread-note status` (flattened by `blocks.status_card`): one workspace's
        subscriptions when `team_id` is given, so nobody sees another workspace's channels."""
        report: dict[str, Any] = {}
        subs = [s for s in await self._store.list_subscriptions() if team_id is None or s.team_id == team_id]
        for st in await self.status(subs):
            sub = st.subscription
            channel = f"#{sub.channel_name}" if sub.channel_name else sub.channel_id
            state = "active" if sub.active else f"paused ({messages.pause_reason(sub.paused_reason)})"
            last = st.last_poll.strftime("%Y-%m-%d %H:%M:%S UTC") if st.last_poll else "never"
            report[f"{channel} · {sub.resource_name}"] = (
                f"{state}; last poll {last}; lag {int(st.lag_seconds or 0)} s; outbox {st.outbox_depth}; "
                f"last error {st.last_error or 'none'}"
            )
        return report

    # --- scheduling -----------------------------------------------------------------------------------------

    def start(self) -> None:
        scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone=UTC)
        common: dict[str, Any] = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        scheduler.add_job(
            self._poll_job, "interval", seconds=self.poll_interval, id="notify-poll",
            next_run_time=datetime.now(UTC), **common,
        )  # fmt: skip
        scheduler.add_job(self._send_job, "interval", seconds=1.0, id="notify-send", **common)
        scheduler.add_job(
            self._recheck_job, "interval", seconds=self.recheck_every, id="notify-recheck", **common
        )
        scheduler.start()
        self._scheduler = scheduler
        log.info("notifier.started", holder=self.holder, poll_interval=self.poll_interval)

    def poke(self) -> None:
        """Poll as soon as possible (a RingCentral push event is only this hint)."""
        if self._scheduler is not None:
            job = self._scheduler.get_job("notify-poll")
            if job is not None:
                job.modify(next_run_time=datetime.now(UTC))

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        try:
            await self._store.release_lease(LEASE, self.holder)
        except Exception as exc:  # shutting down: the lease expires anyway
            log.info("notifier.release_failed", error=type(exc).__name__)

    async def _poll_job(self) -> None:
        try:
            await self.run_once(send_seconds=min(self.poll_interval / 2, 10.0))
        except Exception:
            log.exception("notifier.poll_failed")

    async def _send_job(self) -> None:
        try:
            if await self._lease():
                await self.send(max_seconds=0.5)
        except Exception:
            log.exception("notifier.send_failed")

    async def _recheck_job(self) -> None:
        try:
            if await self._lease():
                await self.recheck_paused()
        except Exception:
            log.exception("notifier.recheck_failed")

    # --- lease and creator notices --------------------------------------------------------------------------

    async def _lease(self) -> bool:
        lease = await self._store.try_acquire_lease(LEASE, self.holder, self.lease_ttl)
        if lease is not None:
            self._renewed_at = time.monotonic()
        return lease is not None

    async def _still_mine(self) -> bool:
        if time.monotonic() - self._renewed_at < self.lease_ttl.total_seconds() / 4:
            return True
        ok = await self._store.renew_lease(LEASE, self.holder, self.lease_ttl) is not None
        if ok:
            self._renewed_at = time.monotonic()
        return ok

    async def _tell_creator(self, sub: Subscription, reason: str) -> None:
        blocks, text = messages.paused_notice(sub.channel_id, sub.resource_name, reason)
        try:
            await self._slack.chat_postMessage(
                channel=sub.created_by, blocks=messages.as_dicts(blocks), text=text
            )
        except SlackApiError as exc:
            log.info("notifier.tell_creator_failed", subscription_id=sub.id, error=exc.response.get("error"))
