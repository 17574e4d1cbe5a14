"""The notifier: the feed, the sender and (optionally) the webhook, scheduled with APScheduler in the app's
event loop.

    notifier = Notifier(store, clients.service, slack_clients, metrics, poll_interval=30)
    notifier.start()               # production: interval jobs (max_instances=1, coalesce=True)
    await notifier.run_once()      # tests: one poll and the sending it leads to, deterministically
    await notifier.stop()

Replicas (several `serve` processes on one PostgreSQL) split the work with leases (`bot/store/leases.py`):

- **Polling**: one replica at a time holds `notify:feed` and polls (one ISync request covers every resource).
  A replica that dies leaves it to expire (`lease_ttl`), then another takes over.
- **Delivery**: per Slack channel. Each replica claims the channels with rows waiting (`notify:channel:<team>:
  <channel>`, `SELECT … FOR UPDATE SKIP LOCKED`), about its fair share (channels ÷ live replicas, counted from
  the `replica:<holder>` heartbeats), posts only their rows, and releases the idle ones. So one channel has
  one poster at a time: its order and ≈1 message/s hold across replicas; a replica that takes a channel over
  waits one interval before its first post there. A dead replica's claims expire and move. The outbox's
  unique keys and the metadata lookup before re-posting an attempted row make any overlap harmless.
- **Poll now**: a webhook delivery may reach any replica; it records a poke mark in the store (and pokes
  locally), and the holder of `notify:feed` checks the mark four times a second. The timer stays as the
  safety net.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import get_logger
from bot.metrics import Metrics
from bot.notify import messages
from bot.notify.feed import Feed, PollResult
from bot.notify.health import HEALTH_KEY, FeedHealth
from bot.notify.notices import tell_creator, tell_creators
from bot.notify.pace import PollPace
from bot.notify.reconcile import RECONCILE_EVERY
from bot.notify.retention import RetentionJob
from bot.notify.routing import thread_json
from bot.notify.schedules import Schedules
from bot.notify.sender import Sender
from bot.notify.shared import other_organisations
from bot.notify.webhook import WebhookSubscription
from bot.notify.workspaces import NotInstalled, SlackClients
from bot.ringcentral import RingCentralClient
from bot.ringcentral.models import Thread
from bot.store.protocols import NotifierStore
from bot.store.retention import DEFAULT_RETENTION_DAYS, change_horizon
from bot.store.subscriptions import Subscription

log = get_logger(__name__)

LEASE = "notify:feed"
CHANNEL_LEASE = "notify:channel:"
REPLICA_LEASE = "replica:"
POKE_KEY = "notify:poke"
STOP_GRACE_SECONDS = 10.0  # how long `stop` lets running jobs finish before the scheduler cancels them
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
        store: NotifierStore,
        service_client: Callable[[], RingCentralClient],
        slack: AsyncWebClient | SlackClients,
        metrics: Metrics,
        *,
        poll_interval: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        channel_interval: float = 1.0,
        reconcile_every: int = RECONCILE_EVERY,  # polls between two steps of the periodic reconciliation
        recheck_every: float = 300.0,
        lease_ttl: timedelta | None = None,
        holder: str | None = None,
        webhook: WebhookSubscription | None = None,
        retention_days: int = DEFAULT_RETENTION_DAYS,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self.poll_interval = poll_interval
        self.recheck_every = recheck_every
        self.feed = Feed(
            store, service_client, clock=clock, reconcile_every=reconcile_every,
            horizon=change_horizon(retention_days),
        )  # fmt: skip
        self.retention = RetentionJob(store, metrics, clock=clock, days=retention_days)
        self.sender = Sender(
            store, slack, metrics, on_pause=self._tell_creator, clock=clock, channel_interval=channel_interval
        )
        self.clients = self.sender.clients
        self.schedules = Schedules(store, service_client, self.clients, clock=clock)  # quiet hours, digests
        self.webhook = webhook
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.lease_ttl = lease_ttl or timedelta(seconds=max(3 * poll_interval, 10.0))
        self._scheduler: AsyncIOScheduler | None = None
        self._poll_lock = asyncio.Lock()
        self._renewed_at = float("-inf")  # when `notify:feed` was last taken or renewed (monotonic)
        self._claims: dict[str, float] = {}  # channel claims held, and when each was last renewed
        self._running: set[asyncio.Task[Any]] = set()  # job runs in flight (see `_tracked`)
        self._heartbeat_at = float("-inf")
        self._polled_at: datetime | None = None
        self.pace = PollPace(self.feed.min_interval)  # RingCentral's budget: see `_poll_job`

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
            self._polled_at = self._clock()
            started = time.monotonic()
            result = await self.feed.poll(reconcile=reconcile)
            self._metrics.poll_duration.observe(time.monotonic() - started)
            self._metrics.polls.labels("ok" if result.requests_ok else "error").inc()
            for reason, count in result.skipped.items():
                self._metrics.sync_records_skipped.labels(reason).inc(count)
            self._metrics.set_feed(result.health)
            if result.requests_ok:
                self._metrics.last_poll.set(self._clock().timestamp())
            await self._announce_feed(result)
            return result

    async def feed_health(self) -> FeedHealth:
        return FeedHealth.from_json(await self._store.get_state(HEALTH_KEY))

    async def _announce_feed(self, result: PollResult) -> None:
        """Tell the subscriptions' creators once when the feed starts failing, once when it recovers (the
        mark is stored first: a crash costs a notice, never repeats it on every poll)."""
        health = result.health
        if health.failing and not health.announced:
            await self._store.set_state(HEALTH_KEY, replace(health, announced=True).to_json())
            log.warning("notifier.feed_failing", failures=health.failures, error=health.last_error)
            await self._tell_creators(True, health.describe())
        elif result.recovered:
            await self._tell_creators(False, "")

    async def send(self, *, max_seconds: float = 0.0) -> int:
        """Post the rows of the channels this replica holds (claiming its share first)."""
        channels = await self._claim_channels()
        if not channels:
            return 0
        done = await self.sender.drain(
            max_seconds=max_seconds, still_mine=self._channel_mine, channels=set(channels)
        )
        await self._release_idle()
        return done

    async def request_poll(self) -> None:
        """Ask whichever replica polls to poll now (a verified webhook delivery lands on any replica)."""
        self.poke()
        await self._store.set_state(POKE_KEY, self._clock().isoformat())

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
            if await self.channel_ok(
                sub.channel_id, sub.team_id
            ) is None and await self._store.resume_subscription(sub.id):
                log.info("notifier.resumed", subscription_id=sub.id)
                resumed.append(sub.id)
        return resumed

    async def channel_ok(self, channel_id: str, team_id: str = "") -> str | None:
        """None when the bot can post in the channel (of `team_id`'s workspace), else the reason it cannot."""
        try:
            slack = await self.clients.for_team(team_id)
            info = await slack.conversations_info(channel=channel_id)
        except NotInstalled:
            return "not_authed"
        except SlackApiError as exc:
            return str(exc.response.get("error") or "error")
        channel = info.get("channel") or {}
        if channel.get("is_archived"):
            return "is_archived"
        if channel.get("is_member") is False:
            return "not_in_channel"
        if other_organisations(channel, team_id):
            return "ext_shared"
        return None

    async def check_active(self) -> list[int]:
        """Pause the active subscriptions whose channel is now shared with another organisation (Slack
        Connect), and tell whoever made each; the reason shows in `/thread-note subscriptions`."""
        paused = []
        for sub in await self._store.list_subscriptions(status="active"):
            if await self.channel_ok(sub.channel_id, sub.team_id) != "ext_shared":
                continue
            if await self._store.pause_subscription(sub.id, "ext_shared"):
                log.info("notifier.paused_shared", subscription_id=sub.id)
                await self._tell_creator(sub, "ext_shared")
                paused.append(sub.id)
        return paused

    # --- status ---------------------------------------------------------------------------------------------

    async def status(self, subs: list[Subscription] | None = None) -> list[SubscriptionStatus]:
        subs = subs if subs is not None else await self._store.list_subscriptions()
        depths = await self._store.outbox_depths()
        oldest = await self._store.oldest_pending()
        resources = await self._store.feed_resource_states({sub.resource_id for sub in subs})
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

    async def health(self, subs: list[Subscription]) -> dict[str, Any]:
        """Figures for `/thread-note status` (flattened by its status card) of `subs`: the caller picks
        the ones the person may see (`Subscriptions.listed`), so nobody sees another workspace's channels or
        a private channel that is not theirs."""
        report: dict[str, Any] = {}
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
        now = datetime.now(UTC)
        jobs: list[tuple[str, Callable[[], Awaitable[None]], float, datetime | None]] = [
            ("notify-poll", self._poll_job, self.poll_interval, now),
            ("notify-send", self._send_job, 1.0, None),
            ("notify-poke", self._poke_job, 0.25, None),
            ("notify-schedules", self._schedules_job, 1.0, None),
            ("notify-recheck", self._recheck_job, self.recheck_every, None),
            ("notify-retention", self._retention_job, self.poll_interval, None),
        ]
        if self.webhook is not None:  # first run once the server listens (the handshake needs it)
            jobs.append(
                ("notify-webhook", self._webhook_job, self.webhook.check_every, now + timedelta(seconds=1))
            )
        for job_id, job, seconds, first in jobs:
            when = {"next_run_time": first} if first is not None else {}
            scheduler.add_job(self._tracked(job), "interval", seconds=seconds, id=job_id, **when, **common)
        scheduler.start()
        # A line per job run (eight a second with the poke check) would drown the bot's own log.
        logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
        self._scheduler = scheduler
        log.info(
            "notifier.started",
            holder=self.holder,
            poll_interval=self.poll_interval,
            min_interval=self.feed.min_interval(),  # RingCentral's budget: `bot/notify/pace.py`
        )

    def poke(self) -> None:
        """Poll as soon as possible (a RingCentral push event is only this hint)."""
        self._run_now("notify-poll")

    def _run_now(self, job_id: str, delay: float = 0.0) -> None:
        if self._scheduler is not None:
            job = self._scheduler.get_job(job_id)
            if job is not None:
                job.modify(next_run_time=datetime.now(UTC) + timedelta(seconds=delay))

    def _tracked(self, job: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """The job, with its run remembered while it runs, so `stop` can let it finish (APScheduler's asyncio
        executor cancels running jobs on shutdown, mid-query, and logs that as a failure)."""

        async def run() -> None:
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            try:
                await job()
            finally:
                if task is not None:
                    self._running.discard(task)

        run.__name__ = run.__qualname__ = getattr(job, "__name__", "job")
        return run

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.pause()  # no new runs; the running ones finish (a few seconds at most)
            if self._running:
                await asyncio.wait(set(self._running), timeout=STOP_GRACE_SECONDS)
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        try:
            await self._store.release_lease(LEASE, self.holder)
            await self._store.release_leases(list(self._claims), self.holder)
            await self._store.release_lease(REPLICA_LEASE + self.holder, self.holder)
        except Exception as exc:  # shutting down: the leases expire anyway
            log.info("notifier.release_failed", error=type(exc).__name__)

    async def _poll_job(self) -> None:
        try:
            # Not more often than RingCentral's budget allows (`bot/notify/pace.py`), whatever the interval or
            # a poke asks for.
            wait = self.pace.take()
            if wait > 0:
                self._run_now("notify-poll", wait)
                return
            if await self._lease():
                result = await self.poll()
                if result.queued:
                    self._run_now("notify-send")
        except Exception:
            log.exception("notifier.poll_failed")

    async def _send_job(self) -> None:
        try:
            await self._heartbeat()
            await self.send(max_seconds=0.5)
        except Exception:
            log.exception("notifier.send_failed")

    async def _poke_job(self) -> None:
        """On the polling replica: poll now when a webhook delivery reached another replica."""
        try:
            if time.monotonic() - self._renewed_at >= self._feed_ttl.total_seconds():
                return  # not the polling replica: the poll job keeps trying the lease
            mark = await self._store.get_state(POKE_KEY)
            if mark and (self._polled_at is None or datetime.fromisoformat(mark) >= self._polled_at):
                self.poke()
        except Exception:
            log.exception("notifier.poke_failed")

    async def _webhook_job(self) -> None:
        assert self.webhook is not None
        try:
            outcome = await self.webhook.ensure()
        except Exception:
            log.exception("notifier.webhook_failed")
            outcome = "failed"
        if outcome == "failed" and self._scheduler is not None:  # try again soon (backing off)
            job = self._scheduler.get_job("notify-webhook")
            if job is not None:
                delay = timedelta(seconds=self.webhook.retry_in())
                job.modify(next_run_time=datetime.now(UTC) + delay)

    async def _schedules_job(self) -> None:
        """Quiet hours that ended and digests that are due, on the polling replica (the clock is injected)."""
        try:
            if await self._lease():
                await self.schedules.run()
        except Exception:
            log.exception("notifier.schedules_failed")

    async def _recheck_job(self) -> None:
        try:
            if await self._lease():
                await self.recheck_paused()
                await self.check_active()
                pruned = await self._store.prune_oauth_states()
                if pruned:
                    log.info("notifier.oauth_states_pruned", count=pruned)
        except Exception:
            log.exception("notifier.recheck_failed")

    async def _retention_job(self) -> None:
        """Hourly on the bot's clock, on the polling replica (see `bot/notify/retention.py`)."""
        try:
            if self.retention.due() and await self._lease():
                await self.retention.run()
        except Exception:
            log.exception("notifier.retention_failed")

    # --- lease and creator notices --------------------------------------------------------------------------

    @property
    def _feed_ttl(self) -> timedelta:
        """The polling lease outlives the gap between two polls (which renew it), whatever `lease_ttl` is."""
        return max(self.lease_ttl, timedelta(seconds=2 * self.poll_interval))

    async def _lease(self) -> bool:
        lease = await self._store.try_acquire_lease(LEASE, self.holder, self._feed_ttl)
        if lease is not None:
            self._renewed_at = time.monotonic()
        return lease is not None

    async def _heartbeat(self) -> None:
        """`replica:<holder>`: how the replicas count each other to split the channels fairly."""
        if time.monotonic() - self._heartbeat_at < self.lease_ttl.total_seconds() / 4:
            return
        await self._store.try_acquire_lease(REPLICA_LEASE + self.holder, self.holder, self.lease_ttl)
        self._heartbeat_at = time.monotonic()

    async def _claim_channels(self) -> list[tuple[str, str]]:
        waiting = await self._store.channels_with_pending()
        if not waiting:
            await self._release_idle(waiting)
            return []
        replicas = max(1, len(await self._store.live_leases(REPLICA_LEASE)))
        names = {_channel_lease(team, channel): (team, channel) for team, channel in waiting}
        won = await self._store.claim_leases(
            list(names), self.holder, self.lease_ttl, limit=math.ceil(len(waiting) / replicas)
        )
        now, wall = time.monotonic(), self._clock()
        pace = timedelta(seconds=self.sender.pacer.interval)
        for before in won:
            if before.holder not in ("", self.holder) and wall - before.expires_at < pace:
                # Just taken over from another replica, which may have posted a moment ago: keep the pace.
                self.sender.pacer.block(names[before.name][1], self.sender.pacer.interval)
            self._claims[before.name] = now
        got = {before.name for before in won}
        for name in set(self._claims) - got:
            self._claims.pop(name, None)
        return [names[n] for n in names if n in got]

    async def _release_idle(self, waiting: list[tuple[str, str]] | None = None) -> None:
        if not self._claims:
            return
        if waiting is None:
            waiting = await self._store.channels_with_pending()
        busy = {_channel_lease(team, channel) for team, channel in waiting}
        idle = [name for name in self._claims if name not in busy]
        if idle:
            await self._store.release_leases(idle, self.holder)
            for name in idle:
                self._claims.pop(name, None)

    async def _channel_mine(self, team_id: str, channel_id: str) -> bool:
        name = _channel_lease(team_id, channel_id)
        renewed = self._claims.get(name)
        if renewed is None:
            return False
        if time.monotonic() - renewed < self.lease_ttl.total_seconds() / 4:
            return True
        if await self._store.renew_lease(name, self.holder, self.lease_ttl) is None:
            self._claims.pop(name, None)
            return False
        self._claims[name] = time.monotonic()
        return True

    async def _tell_creator(self, sub: Subscription, reason: str) -> None:
        await tell_creator(self.clients, sub, reason)

    async def _tell_creators(self, failing: bool, detail: str) -> None:
        await tell_creators(self.clients, await self._store.list_subscriptions(), failing, detail)


def _channel_lease(team_id: str, channel_id: str) -> str:
    return f"{CHANNEL_LEASE}{team_id}:{channel_id}"
