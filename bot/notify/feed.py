"""The change feed: `entries/sync` (ISync with the stored token, scope Accessible), one request per poll
whatever the number of subscribed resources, routed to the outbox (`routing.py`).

- The answer is read tolerantly (records we cannot read are skipped and counted, `PollResult.skipped`). A
  server may cap an answer (RingCentral's clients send `recordCount=250` on FSync): while one comes back
  full, the poll syncs again with the token it handed back, committing each answer first, at most
  `max_syncs` (4) times a poll: ≤ 1,000 records, and with the 30 s poll ≤ 8 sync requests a minute of the
  Medium group's 40 (the rest come on the next poll). The remainder of a full sync (a snapshot, newest
  first: what is new is in its first answer) is followed only within the poll's budget of 2.
- A refused token (any 4xx but 401/429, in the client) or `FAILING_AFTER` failed polls in a row (the token
  is then no longer sent: a request that keeps failing is not retried forever) mean a full sync plus
  reconciliation of every resource, spread over the next polls (`reconcile.py`). The feed's health
  (`bot/notify/health.py`) is kept in the store.
- Routing a note needs its thread's owner (the resource); threads are cached in the store. The threads an
  answer's notes need and the cache lacks (`_owners`): one lookup when there is one; for more, a listing of
  the threads created since the feed last caught up (`creationTimeFrom/To`), then one of the Open threads
  (a note is only ever written in an Open thread), then a lookup each for the rest. A listing goes to its
  next page only while the threads still missing outnumber the pages it took (never dearer than the lookups
  it saves), each listing at most once a poll. So a burst of N notes in N new conversations costs one request
  per 1,000 threads created meanwhile, not N. The listings are not filtered by owner: `ownerExtensionIds`
  takes 10, and a thread missing from a list by owner could be another resource's (a note the service
  identity sees in a resource nobody subscribed) as well as an older one, so it would still cost a lookup.
  What they list and the cache lacks is cached (a later note there costs nothing); cached threads are left
  for reconciliation to compare.
- Thread hints (resolved, assigned, deleted) update the cache and queue a refresh of the parent messages.
- The rows, the thread cache and the new sync token are written in one transaction: the cursor never moves
  past a change that is not durably queued. A failure before that leaves the old token, so the next poll sees
  the same changes again and the outbox's unique key absorbs the repeats.
- Changes last modified longer ago than `horizon` (THREAD_NOTE_RETENTION_DAYS less a day) are not routed,
  here or in reconciliation (`routing.py` says why).
- A feed reads one RingCentral account (`account`: "" the deployment's, RINGCENTRAL_JWT, else the account a
  workspace linked) with that account's client, and keeps its own token, time mark, health and
  reconciliation cursor (`scoped` keys; the deployment's keep the names they had before accounts). It routes
  only to subscriptions of workspaces whose account it is (`linked`: team → account of the workspaces that
  linked one; any other workspace is the deployment's): a note of one account never reaches a channel of a
  workspace of another.
- The subscriptions come from the store's snapshot (`subscriptions_snapshot`), and their routing is worked out
  again only when it (or the linked workspaces) changed; a good poll marks every resource polled fine with
  one row, a failed one records every resource's error in one transaction: an idle poll reads and writes no
  row per subscribed resource.
- A poll costs what its changes need (the sync, the thread lookups of new notes); reconciliation gets what is
  left of 2 requests, at most one (`reconcile.py`). An idle poll is 1 request, 2 when it reconciles.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.logs import get_logger
from bot.notify.health import FAILING_AFTER, HEALTH_KEY, FeedHealth, describe_error
from bot.notify.reconcile import (
    MEDIUM,
    POLL_BUDGET,
    RECONCILE_EVERY,
    Reconciler,
    recovery,
    retry_delay,
)
from bot.notify.routing import (
    ByResource,
    by_resource,
    cache_rows,
    note_json,
    recent,
    route_notes,
    route_thread_changes,
    thread_from,
    thread_json,
)
from bot.ringcentral import RingCentralClient
from bot.ringcentral.errors import AuthRevoked, NotFound, RingCentralError
from bot.ringcentral.models import (
    AliveNoteRecord,
    AssignedHintRecord,
    DeletedNoteRecord,
    EntriesSync,
    HintRecord,
    Thread,
)
from bot.ringcentral.params import MAX_PAGE, SYNC_RECORD_COUNT, has_more
from bot.store.feed_state import DEPLOYMENT, scoped
from bot.store.protocols import FeedStore
from bot.store.subscriptions import Subscription

__all__ = ["TOKEN_KEY", "Feed", "PollResult", "note_json", "thread_from", "thread_json"]

log = get_logger(__name__)

TOKEN_KEY = "notify:sync_token"
# {"rc": RingCentral's syncTime, "at": our time} of the last good poll, and "caughtUp": the syncTime of the
# last answer that was not full (the feed had every change up to then).
SYNC_TIME_KEY = "notify:sync_time"
LISTING_MARGIN = timedelta(minutes=1)  # around the window of a listing of new threads
POLL_SHARE = 0.5  # of the service identity's Medium budget that polling may take (`min_interval`)


@dataclass
class PollResult:
    requests_ok: bool = True
    records: int = 0
    queued: int = 0
    full_resync: bool = False
    reconciled: list[str] = field(default_factory=list)  # resources whose reconciliation finished this poll
    error: str | None = None
    syncs: int = 0  # entries/sync answers this poll
    requests: int = 0  # RingCentral requests the feed made this poll (the client's retries not counted)
    skipped: dict[str, int] = field(default_factory=dict)  # records skipped, by reason
    token_dropped: bool = False  # the poll did not resend a token that failed FAILING_AFTER polls in a row
    health: FeedHealth = field(default_factory=FeedHealth)  # after this poll
    recovered: bool = False  # the feed was failing (and its creators told) and works again
    revoked: bool = False  # RingCentral refused the account's credential for good (`AuthRevoked`)


@dataclass
class _Poll:
    """One poll as it goes: its result, where the feed had caught up, the listings it used."""

    result: PollResult
    since: datetime  # threads created before this are known, or were created before their notes' poll
    listed: set[str] = field(default_factory=set)


class Feed:
    def __init__(
        self,
        store: FeedStore,
        client: Callable[[], RingCentralClient],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        reconcile_every: int = RECONCILE_EVERY,
        budget: int = POLL_BUDGET,
        max_syncs: int = 4,
        horizon: timedelta | None = None,
        account: str = DEPLOYMENT,
        linked: Callable[[], Awaitable[Mapping[str, str]]] | None = None,
    ) -> None:
        self._store = store
        self.account = account
        self._linked = linked
        self.max_syncs = max_syncs
        self.budget = budget
        self._client = client
        self._clock = clock
        self.reconciler = Reconciler(
            store, clock=clock, every=reconcile_every, budget=budget, horizon=horizon, account=account
        )
        self.token_key, self.sync_time_key = scoped(TOKEN_KEY, account), scoped(SYNC_TIME_KEY, account)
        self.health_key = scoped(HEALTH_KEY, account)
        # the store's snapshot, the linked workspaces, this account's subscriptions of them, their routing
        self._mine: tuple[tuple[Subscription, ...], Mapping[str, str], tuple[Subscription, ...]] | None = None
        self._routed: tuple[tuple[Subscription, ...], ByResource] | None = None

    # --- the poll -------------------------------------------------------------------------------------------

    async def poll(self, *, reconcile: bool | None = None) -> PollResult:
        """One poll: sync, route, queue, move the cursor (again while answers come back full); then a step
        of reconciliation if one is due and the poll's budget leaves room (`reconcile`: True takes a step
        whatever the pace, False none)."""
        result = PollResult()
        subs = await self.subscriptions()
        if not subs:
            return result
        subs_by = self._routing(subs)
        health = FeedHealth.from_json(await self._store.get_state(self.health_key))
        token = await self._store.get_state(self.token_key)
        if token and health.failures >= FAILING_AFTER:
            # The same request failed poll after poll: stop sending it; a full sync and reconciliation
            # catch up on everything (the outbox's keys absorb what was already queued).
            token, result.token_dropped = None, True
            log.info("feed.token_dropped", failures=health.failures, last_error=health.last_error)
        client = self._client()
        try:
            await self._sync(client, token, subs, subs_by, result)
        except RingCentralError as exc:
            # The cursor stays where the last committed answer left it.
            result.requests_ok, result.error = False, describe_error(exc)
            await self._all_failed(subs_by, exc)
            result.health = health.failed(result.error, self._now())
            result.revoked = isinstance(exc, AuthRevoked)
            await self._store.set_state(self.health_key, result.health.to_json())
            log.info(
                "feed.poll_failed", error=result.error, failures=result.health.failures, account=self.account
            )
            return result
        if health != FeedHealth():
            result.recovered = health.announced
            await self._store.set_state(self.health_key, FeedHealth().to_json())
            log.info("feed.recovered", failures=health.failures, account=self.account)
        await self._store.feed_resources_ok(subs_by, account=self.account)
        if reconcile is not False:
            spent, done = await self.reconciler.step(client, subs_by, result.requests, force=bool(reconcile))
            result.requests += spent
            result.reconciled += done
        return result

    async def _sync(
        self,
        client: RingCentralClient,
        token: str | None,
        subs: Sequence[Subscription],
        subs_by: ByResource,
        result: PollResult,
    ) -> None:
        """Sync and commit, again with the new token while an answer came back full (`max_syncs` at most;
        within the poll's budget when the poll began with a full sync)."""
        mark = await self._store.get_state(self.sync_time_key)
        poll = _Poll(result, _caught_up(mark) or min(sub.start_at for sub in subs))
        for _ in range(self.max_syncs):
            sync = await client.sync_entries(token, scope="Accessible")
            full_resync = token is None or sync.full_resync
            result.requests += 2 if token and sync.full_resync else 1  # a refused ISync, then the FSync
            result.syncs += 1
            result.records += len(sync.records)
            result.full_resync = result.full_resync or full_resync
            for reason, count in sync.skipped.items():
                result.skipped[reason] = result.skipped.get(reason, 0) + count
            if sync.skipped:
                log.info("feed.records_skipped", **sync.skipped)
            result.queued += await self._commit(
                client, sync, subs, subs_by, poll, full=full_resync, token=token
            )
            token = sync.sync_info.sync_token
            if sync.received < SYNC_RECORD_COUNT or (result.full_resync and result.requests >= self.budget):
                return

    async def _commit(
        self,
        client: RingCentralClient,
        sync: EntriesSync,
        subs: Sequence[Subscription],
        subs_by: ByResource,
        poll: _Poll,
        *,
        full: bool,
        token: str | None,
    ) -> int:
        """Route one answer and queue it with its token, in one transaction; how many rows were added."""
        notes = [r for r in sync.records if isinstance(r, AliveNoteRecord | DeletedNoteRecord)]
        hints = [r for r in sync.records if isinstance(r, HintRecord | AssignedHintRecord)]
        # Cannot route without the thread's owner: a failure here leaves the old token.
        wanted = await self._routable_threads(notes, subs)
        threads = await self._owners(client, wanted, poll, sync.sync_info.sync_time)
        changed_threads = self._apply_hints(
            hints, await self._store.cached_threads((r.thread_id for r in hints), account=self.account)
        )
        threads.update({t.id: t for t in changed_threads})
        entries = await route_notes(self._store, notes, threads, subs_by, oldest=self.reconciler.oldest())
        entries += route_thread_changes(changed_threads, subs_by)
        if sync.received < SYNC_RECORD_COUNT:
            poll.since = sync.sync_info.sync_time
        state: dict[str, Any] = {
            self.token_key: sync.sync_info.sync_token,
            self.sync_time_key: {
                "rc": sync.sync_info.sync_time.isoformat(),
                "at": self._now().isoformat(),
                "caughtUp": poll.since.isoformat(),
            },
        }
        if full and await self._store.get_state(self.sync_time_key) is not None:
            # A full sync holds only alive notes of open threads: the token was lost, so deletions and notes
            # of threads resolved meanwhile are found by reconciling every resource (spread over polls).
            state[self.reconciler.key] = recovery()
            log.info("feed.full_resync", had_token=token is not None, account=self.account)
        return await self._store.enqueue(
            entries, threads=cache_rows(threads.values()), state=state, account=self.account
        )

    def min_interval(self) -> float:
        """The shortest interval between polls on average (`pace.py`): idle polls (1 request) take at most
        half of the service identity's Medium budget, 3 s with RingCentral's default of 40 requests a minute.
        Reconciliation steps stay out of the last quarter (the rate limiter's spread), so after a lost token
        they get up to a quarter, and the last quarter is left for what people do (subscribing, backfills,
        digests) and bursts of lookups."""
        return self._client().limiter.spacing(MEDIUM, POLL_SHARE)

    async def rc_now(self) -> datetime:
        """RingCentral's time now, estimated from the last poll's `syncTime` (our clock when never polled)."""
        mark = await self._store.get_state(self.sync_time_key)
        now = self._now()
        if not mark:
            return now
        rc = datetime.fromisoformat(mark["rc"])
        at = datetime.fromisoformat(mark["at"])
        return rc + max(now - at, timedelta(0))

    # --- whose thread: the owners of the threads to route -----------------------------------------------

    async def _routable_threads(
        self, records: Sequence[AliveNoteRecord | DeletedNoteRecord], subs: Sequence[Subscription]
    ) -> set[str]:
        """The threads whose owner is needed to route `records`. A note created before every subscription
        started, and never posted, is dropped by `route_notes` whatever its thread: looking its thread up
        would cost a request each (a full sync returns the account's whole history)."""
        records = recent(records, self.reconciler.oldest())
        earliest = min(sub.start_at for sub in subs)
        old = [r.id for r in records if isinstance(r, AliveNoteRecord) and r.creation_time < earliest]
        posted = {note_id for _, _, note_id in await self._store.posted_note_ids(old)} if old else set()
        return {
            r.thread_id
            for r in records
            if not isinstance(r, AliveNoteRecord) or r.creation_time >= earliest or r.id in posted
        }

    async def _owners(
        self, client: RingCentralClient, wanted: set[str], poll: _Poll, until: datetime
    ) -> dict[str, Thread]:
        """`wanted` threads (with their owner) from the cache, then the listings of the module docstring,
        then one lookup each; plus what the listings found that the cache lacked."""
        cached = await self._store.cached_threads(wanted, account=self.account)
        threads = {tid: thread_from(data) for tid, data in cached.items()}
        unknown = wanted - set(cached)
        listings: tuple[tuple[str, dict[str, Any]], ...] = (
            (
                "new",
                {
                    "creation_time_from": poll.since - LISTING_MARGIN,
                    "creation_time_to": until + LISTING_MARGIN,
                },
            ),
            ("open", {"status": "Open"}),
        )
        for name, filters in listings:
            if len(unknown) < 2 or name in poll.listed:
                continue
            poll.listed.add(name)
            found = await self._listing(client, unknown, poll.result, filters)
            threads.update(found)
            unknown -= found.keys()
        for tid in sorted(unknown):
            poll.result.requests += 1
            try:
                threads[tid] = await client.get_thread(tid)
            except NotFound:
                log.info("feed.thread_gone", thread_id=tid)
        return threads

    async def _listing(
        self, client: RingCentralClient, unknown: set[str], result: PollResult, filters: dict[str, Any]
    ) -> dict[str, Thread]:
        """The threads listed with `filters` that the cache lacks, page by page while the unknown ones still
        missing outnumber the pages taken."""
        listed: dict[str, Thread] = {}
        page = 1
        while True:
            result.requests += 1
            answer = await client.list_threads(**filters, page=page, per_page=MAX_PAGE)
            listed.update((t.id, t) for t in answer.records)
            left = len(unknown - listed.keys())
            if left <= page or not has_more(answer.paging, len(answer.records), page, MAX_PAGE):
                break
            page += 1
        known = await self._store.cached_threads(set(listed) - unknown, account=self.account)
        return {tid: t for tid, t in listed.items() if tid not in known}

    def _apply_hints(
        self, hints: Iterable[HintRecord | AssignedHintRecord], cached: dict[str, dict[str, Any]]
    ) -> list[Thread]:
        changed: dict[str, Thread] = {}
        for hint in sorted(hints, key=lambda h: h.last_modified_time):
            data = changed.get(hint.thread_id) or (
                thread_from(cached[hint.thread_id]) if hint.thread_id in cached else None
            )
            if data is None:
                continue  # a thread we never posted about: nothing to refresh
            update: dict[str, Any] = {
                "last_modified_time": max(data.last_modified_time, hint.last_modified_time)
            }
            if isinstance(hint, AssignedHintRecord):
                update["assignee"] = hint.assignee
            elif hint.record_type == "ThreadResolvedHint":
                update["status"] = "Resolved"
            elif hint.record_type == "ThreadDeletedHint":
                update["availability"] = "Deleted"
            changed[hint.thread_id] = data.model_copy(update=update)
        return list(changed.values())

    # --- errors ---------------------------------------------------------------------------------------------

    async def _all_failed(self, subs_by: ByResource, exc: RingCentralError) -> None:
        """Every resource's error, in one transaction (`retry_delay` after as many errors in a row)."""
        now = self._now()
        await self._store.feed_resources_failed(
            subs_by, describe_error(exc), lambda count: now + retry_delay(count, exc), account=self.account
        )
        log.info("feed.resources_failed", resources=len(subs_by), error=describe_error(exc))

    async def subscriptions(self) -> tuple[Subscription, ...]:
        """The subscriptions this feed serves: those of the workspaces whose account it reads (a workspace
        that linked no account is the deployment's), worked out again only when the store's snapshot or the
        linked workspaces changed."""
        snapshot = await self._store.subscriptions_snapshot()
        linked = await self._linked() if self._linked is not None else {}
        if self._mine is None or self._mine[0] is not snapshot or self._mine[1] != linked:
            account = self.account
            mine = tuple(s for s in snapshot if linked.get(s.team_id, DEPLOYMENT) == account)
            self._mine = (snapshot, linked, snapshot if len(mine) == len(snapshot) else mine)
        return self._mine[2]

    def _routing(self, subs: tuple[Subscription, ...]) -> ByResource:
        """The subscriptions by resource, worked out again only when the store's snapshot changed (with ten
        thousand subscriptions, doing it on every poll cost a tenth of the poll)."""
        if self._routed is None or self._routed[0] is not subs:
            self._routed = (subs, by_resource(subs))
        return self._routed[1]

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)


def _caught_up(mark: Any) -> datetime | None:
    """Where the feed last had every change (the stored mark; its syncTime for a mark of an older version)."""
    if not isinstance(mark, dict):
        return None
    value = mark.get("caughtUp") or mark.get("rc")
    return datetime.fromisoformat(value) if value else None
