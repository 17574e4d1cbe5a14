"""The feeds of one replica: one per RingCentral account (issue 16), each behind a lease of its own, spread
over the replicas and over the poll interval.

- **Which accounts**: the deployment's ("" , RINGCENTRAL_JWT) when it has one, and every account a workspace
  linked with an active link (`tenancy.py`), each read with its own client (`service_for`: its own token,
  rate limiter and so budget). Each `AccountFeed` keeps its own sync token, reconciliation cursor, health
  (`feed.py`, `scoped` keys), pace (`pace.py`) and webhook (`webhook.py`).
- **Who polls it**: the holder of its lease, `notify:feed` for the deployment's account (the name the one
  global lease had, so a replica of an older version and a new one never poll it together during an upgrade)
  and `notify:feed:<account>` for any other. Replicas claim them as they claim channels
  (`claim_leases`, `FOR UPDATE SKIP LOCKED`): about their fair share, accounts ÷ live replicas (the
  `replica:<holder>` heartbeats), giving back what is over it when replicas join. Claims are renewed every
  quarter of the lease's lifetime; a dead replica's leases expire and the others take its accounts.
- **When**: each held account polls once an interval, at its own phase (its place among the accounts, sorted,
  as a fraction of the interval), so a replica's polls are spread over the interval, not all at once; a poke
  (a webhook delivery, here or on another replica through its `notify:poke` mark) brings one account's poll
  forward, never faster than its pace. A slow account does not hold the others up: each poll is a task of its
  own, a few at a time.
- **Failures are the account's**: its health is its own; when it starts failing (or recovers), only the
  creators of its own workspaces' subscriptions are told. A credential RingCentral refuses for good
  (`AuthRevoked`) pauses that account's link (its workspaces' admins see why and link it again); the
  deployment's account, which has no link, keeps retrying as before.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot.logs import get_logger
from bot.metrics import Metrics
from bot.notify.claims import REPLICA_LEASE
from bot.notify.feed import Feed, PollResult
from bot.notify.notices import tell_creators
from bot.notify.pace import PollPace
from bot.notify.tenancy import Tenancy
from bot.notify.webhook import WebhookSubscription
from bot.notify.workspaces import SlackClients
from bot.ringcentral import RingCentralClient
from bot.store.feed_state import DEPLOYMENT, scoped
from bot.store.protocols import NotifierStore
from bot.store.tenant_accounts import TenantAccount

log = get_logger(__name__)

FEED_LEASE = "notify:feed"
POKE_KEY = "notify:poke"
CONCURRENT_POLLS = 8  # polls of different accounts in flight at once on one replica
REVOKED = "RingCentral refused this account's credential for good (AuthRevoked): link it again"

Client = Callable[[], RingCentralClient]


@dataclass
class AccountFeed:
    """One account's feed on this replica, and when it polls next (monotonic seconds)."""

    account: str
    feed: Feed
    pace: PollPace
    webhook: WebhookSubscription | None
    tenant: TenantAccount | None = None  # the link its client is built from (None: the deployment's)
    phase: float = 0.0  # its place in the interval
    due: float = 0.0
    webhook_due: float = 0.0
    polled_at: datetime | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def lease(self) -> str:
        return scoped(FEED_LEASE, self.account)

    @property
    def poke_key(self) -> str:
        return scoped(POKE_KEY, self.account)


class Feeds:
    def __init__(
        self,
        store: NotifierStore,
        tenancy: Tenancy,
        clients: SlackClients,
        metrics: Metrics,
        *,
        make_feed: Callable[[str, Client], Feed],
        default: Client | None,
        service_for: Callable[[TenantAccount], RingCentralClient] | None,
        webhook: WebhookSubscription | None,
        holder: str,
        clock: Callable[[], datetime],
        interval: Callable[[], float],
        lease_ttl: Callable[[], timedelta],
    ) -> None:
        self._store = store
        self._tenancy = tenancy
        self._clients = clients
        self._metrics = metrics
        self._make_feed = make_feed
        self._service_for = service_for
        self._webhook = webhook
        self.holder = holder
        self._clock = clock
        self._interval = interval
        self._ttl = lease_ttl
        self.by_account: dict[str, AccountFeed] = {}  # every account known here (held or not)
        self.held: set[str] = set()
        self._claimed_at = float("-inf")
        self._known_at = float("-inf")
        self._slots = asyncio.Semaphore(CONCURRENT_POLLS)
        self.on_queued: Callable[[], None] = lambda: None  # the notifier's "send now"
        if default is not None:
            self._add(DEPLOYMENT, default, None)

    # --- which accounts, and which of them this replica polls ----------------------------------------------

    def default(self) -> AccountFeed | None:
        return self.by_account.get(DEPLOYMENT)

    async def known(self) -> dict[str, AccountFeed]:
        """The deployment's account (if any) and every actively linked one, each with its feed."""
        tenants = await self._tenancy.active() if self._service_for is not None else {}
        for account, row in tenants.items():
            af = self.by_account.get(account)
            if af is None:
                af = self._add(account, self._tenant_client(account), row)
            af.tenant = row  # a replaced credential: the client factory builds a new client for it
        self._known_at = time.monotonic()
        keep = {DEPLOYMENT, *tenants} & set(self.by_account)
        names = sorted(keep)
        for i, account in enumerate(names):
            self.by_account[account].phase = i / len(names)
        return {a: self.by_account[a] for a in names}

    def _add(self, account: str, client: Client, row: TenantAccount | None) -> AccountFeed:
        webhook = self._webhook.for_account(account, client) if self._webhook is not None else None
        feed = self._make_feed(account, client)
        af = AccountFeed(account, feed, PollPace(feed.min_interval), webhook, row)
        self.by_account[account] = af
        return af

    def _tenant_client(self, account: str) -> Client:
        def client() -> RingCentralClient:
            af, service_for = self.by_account[account], self._service_for
            assert af.tenant is not None and service_for is not None
            return service_for(af.tenant)

        return client

    async def claim(self) -> set[str]:
        """Hold this replica's fair share of the accounts' feed leases; give back what is over it or no longer
        an account. Returns the accounts held."""
        known = await self.known()
        replicas = max(1, len(await self._store.live_leases(REPLICA_LEASE)))
        limit = math.ceil(len(known) / replicas)
        names = {af.lease: account for account, af in known.items()}
        won = await self._store.claim_leases(list(names), self.holder, self._ttl(), limit=limit)
        got = sorted(names[lease.name] for lease in won)
        over = got[limit:]  # replicas joined since these were taken: leave them to the others
        gone = [a for a in self.held if a not in known]
        let_go = [self.by_account[a].lease for a in [*over, *gone] if a in self.by_account]
        if let_go:
            await self._store.release_leases(let_go, self.holder)
        now = time.monotonic()
        held = set(got[:limit])
        for account in held - self.held:  # taken now: first poll at its phase of the interval
            self.by_account[account].due = now + self.by_account[account].phase * self._interval()
            log.info("feeds.claimed", account=account)
        self.held, self._claimed_at = held, now
        return held

    async def claim_due(self) -> None:
        """Renew the claims every quarter of the lease's lifetime (and take free accounts meanwhile)."""
        if time.monotonic() - self._claimed_at >= self._ttl().total_seconds() / 4:
            await self.claim()

    async def release(self) -> None:
        await self._store.release_leases([self.by_account[a].lease for a in self.held], self.holder)
        self.held = set()

    # --- polling -------------------------------------------------------------------------------------------

    async def check_pokes(self) -> None:
        """Bring forward the polls of held accounts poked on another replica since they last polled."""
        held = [self.by_account[a] for a in sorted(self.held)]
        if not held or self._webhook is None:  # pokes come from webhook deliveries only
            return
        marks = await self._store.get_states(af.poke_key for af in held)
        for af in held:
            mark = marks.get(af.poke_key)
            if mark and (af.polled_at is None or datetime.fromisoformat(mark) >= af.polled_at):
                af.due = min(af.due, time.monotonic())

    def poke(self, account: str | None = None) -> None:
        """Poll now (`account`'s feed, or every held one), as soon as its pace allows."""
        for name in [account] if account is not None else list(self.held):
            af = self.by_account.get(name) if name is not None else None
            if af is not None:
                af.due = float("-inf")

    def due(self) -> list[AccountFeed]:
        """The held accounts whose poll is due and not running."""
        now = time.monotonic()
        return [
            af for a in sorted(self.held) if (af := self.by_account[a]).due <= now and not af.lock.locked()
        ]

    async def run_due(self, track: Callable[[Awaitable[None]], Any]) -> None:
        """Start the due polls, each a task (`track` keeps it for `stop`), at their pace."""
        for af in self.due():
            wait = af.pace.take()
            now = time.monotonic()
            if wait > 0:
                af.due = now + wait
                continue
            af.due = now + self._interval()
            track(self._poll_job(af))

    async def _poll_job(self, af: AccountFeed) -> None:
        async with self._slots:
            try:
                result = await self.poll(af)
                if result.queued:
                    self.on_queued()
            except Exception:
                log.exception("notifier.poll_failed", account=af.account)

    async def poll(self, af: AccountFeed, *, reconcile: bool | None = None) -> PollResult:
        async with af.lock:
            af.polled_at = self._clock()
            started = time.monotonic()
            result = await af.feed.poll(reconcile=reconcile)
            self._metrics.poll_duration.observe(time.monotonic() - started)
            self._metrics.polls.labels("ok" if result.requests_ok else "error").inc()
            for reason, count in result.skipped.items():
                self._metrics.sync_records_skipped.labels(reason).inc(count)
            self._metrics.set_feed(result.health, af.account)
            if result.requests_ok:
                self._metrics.last_poll.set(self._clock().timestamp())
            await self._announce(af, result)
            return result

    async def _announce(self, af: AccountFeed, result: PollResult) -> None:
        """Tell the creators of this account's subscriptions once when its feed starts failing (at once when
        its credential is refused for good, which also pauses its link), once when it recovers. The mark is
        stored first: a crash costs a notice, never repeats it on every poll."""
        health = result.health
        # A refused credential pauses the link even when the feed was already failing (5xx, then revoked):
        # the pause, not the failing notice, is what stops the polls; its workspaces are told once, then.
        revoked = (
            result.revoked
            and af.account != DEPLOYMENT
            and bool(await self._tenancy.pause(af.account, REVOKED))
        )
        if (health.failing and not health.announced) or revoked:
            await self._store.set_state(af.feed.health_key, replace(health, announced=True).to_json())
            log.warning(
                "notifier.feed_failing", account=af.account, failures=health.failures, error=health.last_error
            )
            detail = REVOKED if revoked else health.describe()
            await tell_creators(self._clients, await af.feed.subscriptions(), True, detail)
        elif result.recovered:
            await tell_creators(self._clients, await af.feed.subscriptions(), False, "")

    # --- webhooks ------------------------------------------------------------------------------------------

    async def webhook(self, account: str) -> WebhookSubscription | None:
        """`account`'s webhook, to check a delivery with (any replica; an account linked a moment ago is
        looked up, at most once a second)."""
        if account not in self.by_account and time.monotonic() - self._known_at >= 1.0:
            await self.known()
        af = self.by_account.get(account)
        return af.webhook if af is not None else None

    async def ensure_webhooks(self, check_every: float) -> None:
        """Keep each held account's webhook subscription (its own backoff after a failed run)."""
        now = time.monotonic()
        for account in sorted(self.held):
            af = self.by_account[account]
            if af.webhook is None or af.webhook_due > now:
                continue
            try:
                outcome = await af.webhook.ensure()
            except Exception:
                log.exception("notifier.webhook_failed", account=account)
                outcome = "failed"
            wait = af.webhook.retry_in() if outcome == "failed" else check_every
            af.webhook_due = time.monotonic() + wait
