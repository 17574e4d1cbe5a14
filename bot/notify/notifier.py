"""The notifier: the feed, the sender and (optionally) the webhook, scheduled with APScheduler in the app's
event loop.

    notifier = Notifier(store, clients.service, slack_clients, metrics, poll_interval=30)
    notifier.start()               # production: interval jobs (max_instances=1, coalesce=True)
    await notifier.run_once()      # tests: one poll and the sending it leads to, deterministically
    await notifier.stop()

Replicas (several `serve` processes on one PostgreSQL) split the work with leases (`bot/store/leases.py`):

- **Polling**: a feed per RingCentral account (`feeds.py`: the deployment's, and each one a workspace
  linked), each polled by one replica at a time, the holder of its lease (`notify:feed` for the deployment's
  account, `notify:feed:<account>` for the others), claimed like the channels below; one ISync request covers
  every resource of the account. A replica that dies leaves them to expire (`lease_ttl`), then others take
  over. The jobs that are not per account (quiet hours and digests, channel checks, retention) run on the
  holder of `notify:jobs`.
- **Delivery**: per Slack channel (`claims.py`). Each replica claims the channels with rows waiting
  (`notify:channel:<team>:<channel>`, `SELECT … FOR UPDATE SKIP LOCKED`), about its fair share (channels ÷
  live replicas, counted from the `replica:<holder>` heartbeats; one more than that or than it holds) once a
  second or when a poll queued rows, posts only their rows (a task per channel for as long as it has rows:
  `Sender.serve`), and releases the idle ones. So one channel has one poster at a time: its order and
  ≈1 message/s hold across replicas; a replica that takes a channel over waits one interval before its first
  post there. A dead replica's claims expire and move. The outbox's unique keys and the metadata lookup
  before re-posting an attempted row make any overlap harmless.
- **Poll now**: a webhook delivery may reach any replica; it records its account's poke mark in the store
  (and pokes locally), and the holder of that account's feed checks the marks four times a second. The timer
  stays as the safety net.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import get_logger
from bot.metrics import Metrics
from bot.notify import messages
from bot.notify.claims import REPLICA_LEASE, ChannelClaims
from bot.notify.feed import Feed, PollResult
from bot.notify.feeds import AccountFeed, Feeds
from bot.notify.health import HEALTH_KEY, FeedHealth
from bot.notify.notices import tell_creator
from bot.notify.pace import PollPace
from bot.notify.reconcile import RECONCILE_EVERY
from bot.notify.retention import RetentionJob
from bot.notify.routing import thread_json
from bot.notify.schedules import Schedules
from bot.notify.sender import Sender
from bot.notify.shared import other_organisations
from bot.notify.tenancy import Tenancy
from bot.notify.webhook import WebhookSubscription
from bot.notify.workspaces import NotInstalled, SlackClients
from bot.ringcentral import RingCentralClient
from bot.ringcentral.models import Thread
from bot.store import StoreError
from bot.store.feed_state import DEPLOYMENT, scoped
from bot.store.protocols import NotifierStore
from bot.store.retention import DEFAULT_RETENTION_DAYS, change_horizon
from bot.store.subscriptions import Subscription
from bot.store.tenant_accounts import ACTIVE, TenantAccount

log = get_logger(__name__)

JOBS_LEASE = "notify:jobs"  # the jobs that are not per account
TICK_SECONDS = 0.25  # how often the poll job looks for due polls and pokes
STOP_GRACE_SECONDS = 10.0  # how long `stop` lets running jobs finish before the scheduler cancels them
SEND_ROUNDS = 5  # claims in one run of the send job at most (rows queued while it runs: once more each)
CHANNEL_REASONS = ("channel_not_found", "is_archived", "not_in_channel")
# A burst of webhook deliveries for one account (one per note) writes its poke at most this often, per
# replica: the first at once, the last one's within this time (the holder looks for pokes every tick).
POKE_EVERY = TICK_SECONDS


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
        deployment_account: bool = True,  # RINGCENTRAL_JWT is set: the deployment's own account has a feed
        service_for: Callable[[TenantAccount], RingCentralClient] | None = None,  # workspaces' own accounts
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self.poll_interval = poll_interval
        self.recheck_every = recheck_every
        self.retention = RetentionJob(store, metrics, clock=clock, days=retention_days)
        self.tenancy = Tenancy(store)  # which RingCentral account each workspace reads
        self.sender = Sender(
            store, slack, metrics, on_pause=self._tell_creator, account_of=self.tenancy.account_of,
            clock=clock, channel_interval=channel_interval,
        )  # fmt: skip
        self.clients = self.sender.clients
        self.schedules = Schedules(store, self.client_for, self.clients, clock=clock)  # quiet hours, digests
        self.webhook = webhook  # the deployment's account's (each other account has its own: `feeds.py`)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.lease_ttl = lease_ttl or timedelta(seconds=max(3 * poll_interval, 10.0))
        self._service_client, self._service_for = service_client, service_for

        def make_feed(account: str, client: Callable[[], RingCentralClient]) -> Feed:
            return Feed(
                store, client, clock=clock, reconcile_every=reconcile_every,
                horizon=change_horizon(retention_days), account=account, linked=self.tenancy.linked,
            )  # fmt: skip

        self.feeds = Feeds(
            store, self.tenancy, self.clients, metrics, make_feed=make_feed,
            default=service_client if deployment_account else None, service_for=service_for,
            webhook=webhook, holder=self.holder, clock=clock, interval=lambda: self.poll_interval,
            lease_ttl=lambda: self.lease_ttl,
        )  # fmt: skip
        self.feeds.on_queued = self._send_soon
        self._scheduler: AsyncIOScheduler | None = None
        self.channels = ChannelClaims(
            store, self.sender.pacer, holder=self.holder, ttl=lambda: self.lease_ttl, clock=clock
        )
        self._running: set[asyncio.Task[Any]] = set()  # job runs in flight (see `_tracked`)
        self._poking: set[str] = set()  # accounts with a poke written less than POKE_EVERY ago
        self._poke_again: set[str] = set()  # ...and a delivery since: one more write follows
        self._sending = False  # the send job is running
        self._send_again = False  # a poll queued rows meanwhile: the running send job goes round once more
        self._heartbeat_at = float("-inf")

    @property
    def feed(self) -> Feed:
        """The deployment's account's feed (RINGCENTRAL_JWT)."""
        return self._default().feed

    @property
    def pace(self) -> PollPace:
        return self._default().pace

    def _default(self) -> AccountFeed:
        af = self.feeds.default()
        if af is None:
            raise RuntimeError("RINGCENTRAL_JWT is not configured: the deployment's account has no feed")
        return af

    # --- the work -------------------------------------------------------------------------------------------

    async def run_once(
        self, *, reconcile: bool | None = None, send_seconds: float = 0.0
    ) -> PollResult | None:
        """Poll the feeds this replica holds once each and post what is due. The deployment's feed's result
        (or, without one, the first account's); None when other replicas hold them all."""
        results = [
            await self.feeds.poll(self.feeds.by_account[account], reconcile=reconcile)
            for account in sorted(await self.feeds.claim())
        ]
        await self.send(max_seconds=send_seconds)
        return results[0] if results else None

    async def poll(self, *, reconcile: bool | None = None) -> PollResult:
        """Poll the deployment's account's feed once, whoever holds its lease (tests, benchmarks)."""
        return await self.feeds.poll(self._default(), reconcile=reconcile)

    async def feed_health(self, account: str = DEPLOYMENT) -> FeedHealth:
        """`account`'s feed's health as the store has it, whichever replica polls it."""
        if account == DEPLOYMENT and self.feeds.default() is None:
            return FeedHealth()  # no RINGCENTRAL_JWT: the deployment's account has no feed
        return FeedHealth.from_json(await self._store.get_state(scoped(HEALTH_KEY, account)))

    async def accounts_health(self) -> dict[str, tuple[FeedHealth, bool]]:
        """Each workspace's own account (not the deployment's): its feed's health, and whether it's paused."""
        paused: dict[str, bool] = {}
        for account, status in (await self._store.linked_accounts()).values():
            paused[account] = paused.get(account, False) or status != ACTIVE
        states = await self._store.get_states(scoped(HEALTH_KEY, a) for a in paused)  # one query for all
        return {
            a: (FeedHealth.from_json(states.get(scoped(HEALTH_KEY, a))), p) for a, p in sorted(paused.items())
        }

    async def send(self, *, max_seconds: float = 0.0) -> int:
        """Post this replica's channels' rows for up to `max_seconds` (tests; `serve`: `serve_channels`)."""
        _, channels = await self.channels.claim()
        if not channels:
            return 0
        done = await self.sender.drain(
            max_seconds=max_seconds, still_mine=self.channels.mine, channels=set(channels)
        )
        await self.channels.release_idle()
        return done

    async def request_poll(self, account: str = DEPLOYMENT) -> None:
        """Ask whichever replica polls `account` to poll now (a verified webhook delivery lands on any
        replica). The poke is a time in the store, and the holder polls again when it is newer than its last
        poll: a delivery that comes while an earlier poke of this account is less than `POKE_EVERY` old
        leaves one more write to follow that one, with the time then. So a burst costs a few writes, not one
        a note, and its last change is still polled for."""
        self.feeds.poke(account)
        af = self.feeds.by_account.get(account)
        if af is None:
            return
        if account in self._poking:
            self._poke_again.add(account)
            return
        self._poking.add(account)
        try:
            await self._store.set_state(af.poke_key, self._clock().isoformat())
        finally:
            self._spawn(self._poke_trailing(account, af.poke_key))

    async def _poke_trailing(self, account: str, key: str) -> None:
        """After a poke: while deliveries came meanwhile, write the poke again, `POKE_EVERY` apart."""
        try:
            while True:
                await asyncio.sleep(POKE_EVERY)
                if account not in self._poke_again:
                    return
                self._poke_again.discard(account)
                await self._store.set_state(key, self._clock().isoformat())
        except StoreError as exc:  # the next delivery, or the holder's own poll, brings it in
            log.warning("webhook.poke_failed", account=account, error=type(exc).__name__)
        finally:
            self._poking.discard(account)

    async def client_for(self, team_id: str) -> RingCentralClient:
        """The client of the account `team_id`'s workspace reads (its own link, or the deployment's)."""
        account = await self.tenancy.account_of(team_id)
        if account == DEPLOYMENT:
            return self._service_client()
        row = await self._store.tenant_account(team_id)
        if row is None or self._service_for is None or row.account_id != account:
            raise RuntimeError("this workspace's RingCentral account is not available: link it again")
        return self._service_for(row)

    async def account_unlinked(self, row: TenantAccount) -> None:
        """`row`'s workspace no longer reads its account (link removed, or replaced by another account). When
        no other workspace reads that account, its webhook subscription is deleted at RingCentral now, with
        the link's own credential: else RingCentral would go on pushing that account's changes to us for up
        to a week (refused, but sent). Best effort: a failure is logged (`webhook.delete_failed`,
        `webhook.unlink_failed`) and the unlink goes on."""
        linked = await self._store.linked_accounts()
        others = [t for t, (account, _) in linked.items() if account == row.account_id and t != row.team_id]
        if others or self.webhook is None or self._service_for is None or not row.account_id:
            return
        try:
            client = self._service_for(row)
            await self.webhook.for_account(row.account_id, lambda: client).remove()
        except Exception as exc:  # never blocks the unlink: RingCentral ends an unrenewed subscription itself
            log.warning("webhook.unlink_failed", account=row.account_id, error=type(exc).__name__)
            return
        log.info("webhook.unlinked", account=row.account_id, team_id=row.team_id)

    async def rc_now(self, team_id: str) -> datetime:
        """RingCentral's time now, as the feed of `team_id`'s account last saw it (our clock without one)."""
        af = self.feeds.by_account.get(await self.tenancy.account_of(team_id))
        return await af.feed.rc_now() if af is not None else self._clock()

    async def thread_changed(self, thread: Thread, team_id: str) -> None:
        """A thread was assigned or resolved from Slack by someone of `team_id`'s workspace: cache it in its
        account's feed and update its parent messages in that account's workspaces now."""
        account = await self.tenancy.account_of(team_id)
        row = (thread.id, thread.owner.extension_id, thread_json(thread))
        await self._store.cache_threads([row], account=account)
        for slack_thread in await self._store.slack_threads_for(thread.id):
            if await self.tenancy.account_of(slack_thread.team_id) != account:
                continue  # another account's workspace: not this thread, whatever its id
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
        linked = await self.tenancy.linked()
        resources: dict[str, dict[str, Any]] = {}
        for account in {linked.get(sub.team_id, DEPLOYMENT) for sub in subs}:
            ids = {sub.resource_id for sub in subs if linked.get(sub.team_id, DEPLOYMENT) == account}
            resources[account] = dict(await self._store.feed_resource_states(ids, account=account))
        now = self._clock()
        out = []
        for sub in subs:
            res = resources[linked.get(sub.team_id, DEPLOYMENT)].get(sub.resource_id)
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
            ("notify-poll", self._poll_job, TICK_SECONDS, now),
            ("notify-send", self.serve_channels, 1.0, None),
            ("notify-gauges", self._gauges_job, 1.0, None),
            ("notify-schedules", self._schedules_job, 1.0, None),
            ("notify-recheck", self._recheck_job, self.recheck_every, None),
            ("notify-retention", self._retention_job, self.poll_interval, None),
        ]
        if self.webhook is not None:  # first run once the server listens (the handshake needs it)
            jobs.append(("notify-webhook", self._webhook_job, 1.0, now + timedelta(seconds=1)))
        for job_id, job, seconds, first in jobs:
            when = {"next_run_time": first} if first is not None else {}
            scheduler.add_job(self._tracked(job), "interval", seconds=seconds, id=job_id, **when, **common)
        scheduler.start()
        # A line per job run (eight a second with the poll tick) would drown the bot's own log.
        logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
        self._scheduler = scheduler
        log.info(
            "notifier.started",
            holder=self.holder,
            poll_interval=self.poll_interval,
            accounts=len(self.feeds.by_account),
        )

    def poke(self, account: str | None = None) -> None:
        """Poll `account`'s feed (every held one without) as soon as its pace allows (a RingCentral push
        event is only this hint)."""
        self.feeds.poke(account)

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
            await self.sender.stop_serving(STOP_GRACE_SECONDS)
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        try:
            await self.feeds.release()
            await self._store.release_lease(JOBS_LEASE, self.holder)
            await self.channels.release()
            await self._store.release_lease(REPLICA_LEASE + self.holder, self.holder)
        except Exception as exc:  # shutting down: the leases expire anyway
            log.info("notifier.release_failed", error=type(exc).__name__)

    async def _poll_job(self) -> None:
        """The tick: renew this replica's share of the feeds, take the pokes of other replicas, and start the
        polls that are due, each at its account's pace (`feeds.py`)."""
        try:
            await self._heartbeat()  # counted by the claims of every replica
            await self.feeds.claim_due()
            await self.feeds.check_pokes()
            await self.feeds.run_due(self._spawn)
        except Exception:
            log.exception("notifier.poll_failed")

    def _spawn(self, work: Awaitable[None]) -> None:
        """Run `work` as a task of its own, remembered as a job run until it ends, so `stop` waits for it."""

        async def run() -> None:
            await work

        task = asyncio.ensure_future(run())
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    def _send_soon(self) -> None:
        """A poll queued rows: run the send job now. APScheduler skips a "run now" of a job that is still
        running (`max_instances=1`), and the rows would wait for the next tick, a second later: so a running
        send job is told to go round once more instead."""
        if self._sending:
            self._send_again = True
        else:
            self._run_now("notify-send")

    async def serve_channels(self) -> None:
        """The send job: claim this replica's share of the channels with rows for their tasks (`serve`).
        It waits for no post; rows queued while it runs are claimed before it returns (`_send_soon`)."""
        self._sending = True
        try:
            await self._heartbeat()
            # The claims come last: between the last look at `_send_again` and the end of the run nothing
            # awaits, so a poll's request is never left unseen.
            for _ in range(SEND_ROUNDS):  # bounded: a run that keeps being asked again still ends
                self._send_again = False
                waiting, channels = await self.channels.claim()
                self.sender.serve(channels, self.channels.mine)
                await self.channels.release_idle(waiting)
                if not self._send_again:
                    break
        except Exception:
            log.exception("notifier.send_failed")
        finally:
            self._sending = False

    async def _gauges_job(self) -> None:
        """The outbox's gauges, in a job of their own: not on the way from a queued row to its post."""
        try:
            await self.sender.update_gauges()
        except Exception:
            log.exception("notifier.gauges_failed")

    async def _webhook_job(self) -> None:
        """Each held account's webhook subscription, renewed every `check_every`, retried with backoff."""
        assert self.webhook is not None
        try:
            await self.feeds.ensure_webhooks(self.webhook.check_every)
        except Exception:
            log.exception("notifier.webhook_failed")

    async def _schedules_job(self) -> None:
        """Quiet hours that ended and digests that are due, on one replica (the clock is injected)."""
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
        """Hourly on the bot's clock, on one replica (see `bot/notify/retention.py`)."""
        try:
            if self.retention.due() and await self._lease():
                await self.retention.run()
        except Exception:
            log.exception("notifier.retention_failed")

    # --- lease and creator notices --------------------------------------------------------------------------

    async def _lease(self) -> bool:
        """`notify:jobs`: the replica that runs the jobs that are not per account."""
        return await self._store.try_acquire_lease(JOBS_LEASE, self.holder, self.lease_ttl) is not None

    async def _heartbeat(self) -> None:
        """`replica:<holder>`: how the replicas count each other to split the channels fairly."""
        if time.monotonic() - self._heartbeat_at < self.lease_ttl.total_seconds() / 4:
            return
        await self._store.try_acquire_lease(REPLICA_LEASE + self.holder, self.holder, self.lease_ttl)
        self._heartbeat_at = time.monotonic()

    async def _tell_creator(self, sub: Subscription, reason: str) -> None:
        await tell_creator(self.clients, sub, reason)
