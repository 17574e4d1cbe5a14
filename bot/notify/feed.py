"""The change feed: `entries/sync` (ISync with the stored token, scope Accessible), one request per poll
whatever the number of subscribed resources, routed to the outbox.

- The answer is read tolerantly (records we cannot read are skipped and counted, `PollResult.skipped`). A
  server may cap an answer (RingCentral's clients send `recordCount=250` on FSync): while one comes back
  full, the poll syncs again with the token it handed back, committing each answer first, at most
  `max_syncs` (4) times a poll: ≤ 1,000 records, and with the 30 s poll ≤ 8 sync requests a minute of the
  Medium group's 40 (the rest come on the next poll).
- A refused token (any 4xx but 401/429, in the client) or `FAILING_AFTER` failed polls in a row (the token
  is then no longer sent: a request that keeps failing is not retried forever) mean a full sync plus
  reconciliation of every resource. The feed's health (`bot/notify/health.py`) is kept in the store.

- Each `AliveNote` (created or edited) and `DeletedNote` goes to the subscriptions of its thread's resource
  (threads and their owners are cached in the store, fetched once when unknown). Thread hints (resolved,
  assigned, deleted) update the cache and queue a refresh of the parent messages.
- The rows, the thread cache and the new sync token are written in one transaction: the cursor never moves
  past a change that is not durably queued. A failure before that leaves the old token, so the next poll sees
  the same changes again and the outbox's unique key absorbs the repeats.
- When the token was lost or expired (the client falls back to a full sync) and on a slower schedule anyway,
  each subscribed resource is *reconciled* through the threads and notes lists (alive and deleted notes), so
  a note missed while the token was dead, or in a thread resolved meanwhile, is still posted, and a deletion
  still marked. Where listing deleted notes is refused (400), Alive ones are listed and a deletion is
  inferred: a note shown in Slack, in a thread listed as Alive, that is no longer listed as Alive (and is not
  found by id either). Reconciliation backs off per resource after errors.
- New notes are posted only when created after the subscription started and when they pass its filters; the
  edits and deletion of a posted note always follow it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from bot.logs import get_logger
from bot.notify.filters import Filters, passes
from bot.notify.health import FAILING_AFTER, HEALTH_KEY, FeedHealth
from bot.ringcentral import RingCentralClient
from bot.ringcentral.errors import InvalidInput, NotFound, RateLimited, RingCentralError
from bot.ringcentral.models import (
    AliveNoteRecord,
    AssignedHintRecord,
    DeletedNoteRecord,
    EntriesSync,
    HintRecord,
    Note,
    Thread,
)
from bot.ringcentral.params import MAX_FILTER_IDS, MAX_PAGE, SYNC_RECORD_COUNT, Availability
from bot.store import Store
from bot.store.notify import OutboxEntry, Subscription

log = get_logger(__name__)

TOKEN_KEY = "notify:sync_token"
RECONCILE_KEY = "notify:reconcile_before"  # resources reconciled before this time are due (token lost)
SYNC_TIME_KEY = "notify:sync_time"  # {"rc": RingCentral's syncTime, "at": our time} of the last good poll
DELETED = "deleted"
MAX_BACKOFF = timedelta(minutes=15)
T = TypeVar("T")


@dataclass
class PollResult:
    requests_ok: bool = True
    records: int = 0
    queued: int = 0
    full_resync: bool = False
    reconciled: list[str] = field(default_factory=list)
    error: str | None = None
    syncs: int = 0  # entries/sync answers this poll
    skipped: dict[str, int] = field(default_factory=dict)  # records skipped, by reason
    token_dropped: bool = False  # the poll did not resend a token that failed FAILING_AFTER polls in a row
    health: FeedHealth = field(default_factory=FeedHealth)  # after this poll
    recovered: bool = False  # the feed was failing (and its creators told) and works again


def thread_json(thread: Thread) -> dict[str, Any]:
    return thread.model_dump(mode="json", by_alias=True, exclude_none=True)


def thread_from(data: dict[str, Any]) -> Thread:
    return Thread.model_validate(data)


def note_json(note: Note) -> dict[str, Any]:
    return Note.model_validate(note.model_dump()).model_dump(mode="json", by_alias=True, exclude_none=True)


class Feed:
    def __init__(
        self,
        store: Store,
        client: Callable[[], RingCentralClient],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        reconcile_every: timedelta = timedelta(minutes=15),
        reconcile_budget: int = 2,
        max_syncs: int = 4,
    ) -> None:
        self._store = store
        self.max_syncs = max_syncs
        self._refused_deleted: set[str] = set()  # "threads"/"notes": listing deleted ones answered 400
        self._client = client
        self._clock = clock
        self.reconcile_every = reconcile_every
        self.reconcile_budget = reconcile_budget

    # --- the poll -------------------------------------------------------------------------------------------

    async def poll(self, *, reconcile: bool | None = None) -> PollResult:
        """One poll: sync, route, queue, move the cursor (again while answers come back full); then
        reconcile the resources that are due."""
        result = PollResult()
        subs = await self._store.list_subscriptions()
        if not subs:
            return result
        by_resource = _by_resource(subs)
        health = FeedHealth.from_json(await self._store.get_state(HEALTH_KEY))
        token = await self._store.get_state(TOKEN_KEY)
        if token and health.failures >= FAILING_AFTER:
            # The same request failed poll after poll: stop sending it; a full sync and reconciliation
            # catch up on everything (the outbox's keys absorb what was already queued).
            token, result.token_dropped = None, True
            log.info("feed.token_dropped", failures=health.failures, last_error=health.last_error)
        client = self._client()
        try:
            await self._sync(client, token, subs, by_resource, result)
        except RingCentralError as exc:
            # The cursor stays where the last committed answer left it.
            result.requests_ok, result.error = False, _describe(exc)
            await self._all_failed(by_resource, exc)
            result.health = health.failed(result.error, self._now())
            await self._store.set_state(HEALTH_KEY, result.health.to_json())
            log.info("feed.poll_failed", error=result.error, failures=result.health.failures)
            return result
        if health != FeedHealth():
            result.recovered = health.announced
            await self._store.set_state(HEALTH_KEY, FeedHealth().to_json())
            log.info("feed.recovered", failures=health.failures)
        await self._store.feed_resources_ok(by_resource)
        if reconcile is not False:
            due = list(by_resource) if reconcile else await self._due(by_resource)
            for rid in due:
                if await self.reconcile(client, rid, by_resource[rid]):
                    result.reconciled.append(rid)
        return result

    async def _sync(
        self,
        client: RingCentralClient,
        token: str | None,
        subs: Sequence[Subscription],
        by_resource: dict[str, list[Subscription]],
        result: PollResult,
    ) -> None:
        """Sync and commit, again with the new token while an answer came back full (`max_syncs` at most)."""
        for _ in range(self.max_syncs):
            sync = await client.sync_entries(token, scope="Accessible")
            full_resync = token is None or sync.full_resync
            result.syncs += 1
            result.records += len(sync.records)
            result.full_resync = result.full_resync or full_resync
            for reason, count in sync.skipped.items():
                result.skipped[reason] = result.skipped.get(reason, 0) + count
            if sync.skipped:
                log.info("feed.records_skipped", **sync.skipped)
            result.queued += await self._commit(client, sync, subs, by_resource, full_resync, token)
            token = sync.sync_info.sync_token
            if sync.received < SYNC_RECORD_COUNT:
                return

    async def _commit(
        self,
        client: RingCentralClient,
        sync: EntriesSync,
        subs: Sequence[Subscription],
        by_resource: dict[str, list[Subscription]],
        full_resync: bool,
        token: str | None,
    ) -> int:
        """Route one answer and queue it with its token, in one transaction; how many rows were added."""
        notes = [r for r in sync.records if isinstance(r, AliveNoteRecord | DeletedNoteRecord)]
        hints = [r for r in sync.records if isinstance(r, HintRecord | AssignedHintRecord)]
        # Cannot route without the thread's owner: a failure here leaves the old token.
        threads = await self._threads(client, await self._routable_threads(notes, subs))
        changed_threads = self._apply_hints(
            hints, await self._store.cached_threads(r.thread_id for r in hints)
        )
        threads.update({t.id: t for t in changed_threads})
        entries = await self._route_notes(notes, threads, by_resource)
        entries += self._route_thread_changes(changed_threads, by_resource)
        state: dict[str, Any] = {
            TOKEN_KEY: sync.sync_info.sync_token,
            SYNC_TIME_KEY: {"rc": sync.sync_info.sync_time.isoformat(), "at": self._now().isoformat()},
        }
        if full_resync and await self._store.get_state(SYNC_TIME_KEY) is not None:
            # A full sync holds only alive notes of open threads: the token was lost, so deletions and notes
            # of threads resolved meanwhile are found by reconciling every resource (budget per poll).
            state[RECONCILE_KEY] = self._now().isoformat()
            log.info("feed.full_resync", had_token=token is not None)
        return await self._store.enqueue(
            entries,
            threads=[(t.id, t.owner.extension_id, thread_json(t)) for t in threads.values()],
            state=state,
        )

    async def rc_now(self) -> datetime:
        """RingCentral's time now, estimated from the last poll's `syncTime` (our clock when never polled)."""
        mark = await self._store.get_state(SYNC_TIME_KEY)
        now = self._now()
        if not mark:
            return now
        rc = datetime.fromisoformat(mark["rc"])
        at = datetime.fromisoformat(mark["at"])
        return rc + max(now - at, timedelta(0))

    # --- reconciliation -------------------------------------------------------------------------------------

    async def reconcile(
        self, client: RingCentralClient, resource_id: str, subs: Sequence[Subscription]
    ) -> bool:
        """Compare one resource's threads and notes (alive and deleted) with what was queued; queue the
        rest."""
        owner = [resource_id]
        try:
            listed, _ = await self._with_deleted(
                "threads",
                lambda av: client.iter_threads(owner_extension_ids=owner, availability=av, per_page=MAX_PAGE),
            )
            threads = {t.id: t for t in listed}
            notes, deleted_listed = await self._with_deleted(
                "notes",
                lambda av: client.iter_notes(owner_extension_ids=owner, availability=av, per_page=MAX_PAGE),
            )
            inferred = [] if deleted_listed else await self._inferred_deletions(client, subs, threads, notes)
        except RingCentralError as exc:
            await self._failed(resource_id, exc)
            return False
        cached = await self._store.cached_threads(threads)
        changed = [t for t in threads.values() if t.id in cached and _state(cached[t.id]) != _state_of(t)]
        unknown_threads = {n.thread_id for n in notes} - set(threads)
        for tid in unknown_threads:  # not listed (e.g. moved): still route what we can
            if tid in cached:
                threads[tid] = thread_from(cached[tid])
        records: list[AliveNoteRecord | DeletedNoteRecord] = list(inferred)
        for n in notes:
            if n.availability == "Deleted":
                records.append(_deleted_record(n.id, n.thread_id, n.last_modified_time))
            else:
                records.append(AliveNoteRecord(record_type="AliveNote", **n.model_dump()))
        by_resource = {resource_id: list(subs)}
        entries = await self._route_notes(records, threads, by_resource, reconciling=True)
        entries += self._route_thread_changes(changed, by_resource)
        added = await self._store.enqueue(
            entries, threads=[(t.id, t.owner.extension_id, thread_json(t)) for t in threads.values()]
        )
        await self._store.feed_resources_ok([resource_id], reconciled=True)
        if added:
            log.info("feed.reconciled", resource_id=resource_id, queued=added)
        return True

    async def _with_deleted(
        self, kind: str, listing: Callable[[list[Availability]], AsyncIterator[T]]
    ) -> tuple[list[T], bool]:
        """Alive and Deleted items, or, where RingCentral refuses `availability=Deleted` (400; remembered
        for this process), Alive ones only. The flag says whether deleted ones were listed."""
        if kind not in self._refused_deleted:
            try:
                return [item async for item in listing(["Alive", "Deleted"])], True
            except InvalidInput as exc:
                self._refused_deleted.add(kind)
                log.info("feed.deleted_listing_refused", kind=kind, error_code=exc.error_code)
        return [item async for item in listing(["Alive"])], False

    async def _inferred_deletions(
        self,
        client: RingCentralClient,
        subs: Sequence[Subscription],
        threads: dict[str, Thread],
        alive: Sequence[Note],
    ) -> list[DeletedNoteRecord]:
        """Deletions seen without a listing of deleted notes: a note shown in a channel of `subs`, in a
        thread listed as Alive, that the Alive listing no longer holds. Each is looked up by id first (10 a
        request): a deletion between two pages of the listing shifts the later ones, so a note can be
        missing from a listing without being gone."""
        alive_threads = [tid for tid, t in threads.items() if t.availability == "Alive"]
        shown = await self._store.shown_notes([(s.team_id, s.channel_id) for s in subs], alive_threads)
        missing = sorted(set(shown) - {n.id for n in alive})
        gone: list[DeletedNoteRecord] = []
        for start in range(0, len(missing), MAX_FILTER_IDS):
            batch = missing[start : start + MAX_FILTER_IDS]
            page = await client.list_notes(note_ids=batch, availability=["Alive"], per_page=MAX_PAGE)
            found = {n.id for n in page.records if n.availability == "Alive"}
            gone += [
                _deleted_record(nid, shown[nid], threads[shown[nid]].last_modified_time)
                for nid in batch
                if nid not in found
            ]
        if gone:
            log.info("feed.deletions_inferred", count=len(gone))
        return gone

    async def _due(self, by_resource: dict[str, list[Subscription]]) -> list[str]:
        """The resources to reconcile in this poll: those not reconciled since the token was lost, then those
        not reconciled for `reconcile_every`, oldest first, at most `reconcile_budget` of them (each costs a
        request or two, and the Medium group allows 40 a minute shared with every other caller)."""
        states = await self._store.feed_resource_states()
        now = self._now()
        mark = await self._store.get_state(RECONCILE_KEY)
        lost_at = datetime.fromisoformat(mark) if mark else None
        new = [rid for rid in by_resource if rid not in states or states[rid].last_reconciled_at is None]
        if new:  # subscriptions start from now: nothing to catch up yet
            await self._store.feed_resources_ok(new, reconciled=True)
        due: list[tuple[datetime, str]] = []
        for rid in by_resource:
            state = states.get(rid)
            if state is None or state.last_reconciled_at is None:
                continue
            if state.next_retry_at is not None and state.next_retry_at > now:
                continue  # backing off after errors
            last = state.last_reconciled_at
            if (lost_at is not None and last <= lost_at) or now - last >= self.reconcile_every:
                due.append((last, rid))
        return [rid for _, rid in sorted(due)[: self.reconcile_budget]]

    # --- routing --------------------------------------------------------------------------------------------

    async def _routable_threads(
        self, records: Sequence[AliveNoteRecord | DeletedNoteRecord], subs: Sequence[Subscription]
    ) -> set[str]:
        """The threads whose owner is needed to route `records`. A note created before every subscription
        started, and never posted, is dropped by `_route_notes` whatever its thread: looking its thread up
        would cost a request each (a full sync returns the account's whole history)."""
        earliest = min(sub.start_at for sub in subs)
        old = [r.id for r in records if isinstance(r, AliveNoteRecord) and r.creation_time < earliest]
        posted = {note_id for _, _, note_id in await self._store.posted_note_ids(old)} if old else set()
        return {
            r.thread_id
            for r in records
            if not isinstance(r, AliveNoteRecord) or r.creation_time >= earliest or r.id in posted
        }

    async def _threads(self, client: RingCentralClient, thread_ids: set[str]) -> dict[str, Thread]:
        cached = await self._store.cached_threads(thread_ids)
        threads = {tid: thread_from(data) for tid, data in cached.items()}
        for tid in sorted(thread_ids - set(cached)):
            try:
                threads[tid] = await client.get_thread(tid)
            except NotFound:
                log.info("feed.thread_gone", thread_id=tid)
        return threads

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

    async def _route_notes(
        self,
        records: Sequence[AliveNoteRecord | DeletedNoteRecord],
        threads: dict[str, Thread],
        by_resource: dict[str, list[Subscription]],
        *,
        reconciling: bool = False,
    ) -> list[OutboxEntry]:
        posted = await self._store.posted_note_ids([r.id for r in records])
        entries: list[OutboxEntry] = []
        for record in sorted(records, key=lambda r: r.last_modified_time):
            thread = threads.get(record.thread_id)
            if thread is None:
                continue
            for sub in by_resource.get(thread.owner.extension_id, ()):
                shown = (sub.team_id, sub.channel_id, record.id) in posted
                if isinstance(record, DeletedNoteRecord):
                    if shown or not reconciling:
                        entries.append(
                            OutboxEntry(sub.id, record.id, DELETED, "deleted", record.thread_id, {})
                        )
                    continue
                note = Note.model_validate(record.model_dump())
                if not shown:
                    if note.creation_time < sub.start_at:
                        continue
                    if not passes(Filters.from_json(sub.filters), note, thread):
                        continue
                entries.append(
                    OutboxEntry(sub.id, note.id, note.version, "note", note.thread_id, note_json(note))
                )
        return entries

    def _route_thread_changes(
        self, threads: Iterable[Thread], by_resource: dict[str, list[Subscription]]
    ) -> list[OutboxEntry]:
        entries = []
        for thread in threads:
            version = f"{_state_of(thread)}@{thread.last_modified_time.isoformat()}"[:40]
            for sub in by_resource.get(thread.owner.extension_id, ()):
                entries.append(OutboxEntry(sub.id, f"thread:{thread.id}", version, "thread", thread.id, {}))
        return entries

    # --- errors ---------------------------------------------------------------------------------------------

    async def _all_failed(self, by_resource: dict[str, list[Subscription]], exc: RingCentralError) -> None:
        for rid in by_resource:
            await self._failed(rid, exc)

    async def _failed(self, resource_id: str, exc: RingCentralError) -> None:
        states = await self._store.feed_resource_states()
        count = (states[resource_id].error_count if resource_id in states else 0) + 1
        delay = timedelta(seconds=min(MAX_BACKOFF.total_seconds(), 5 * 2 ** min(count, 10)))
        if isinstance(exc, RateLimited):
            delay = max(delay, timedelta(seconds=exc.retry_after))
        await self._store.feed_resource_failed(resource_id, _describe(exc), self._now() + delay)
        log.info(
            "feed.resource_failed", resource_id=resource_id, error=_describe(exc), retry_in=delay.seconds
        )

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)


def _by_resource(subs: Iterable[Subscription]) -> dict[str, list[Subscription]]:
    out: dict[str, list[Subscription]] = defaultdict(list)
    for sub in subs:
        out[sub.resource_id].append(sub)
    return dict(out)


def _state_of(thread: Thread) -> str:
    assignee = thread.assignee.extension_id if thread.assignee else "-"
    return f"{thread.status}/{thread.availability}/{assignee}"


def _state(data: dict[str, Any]) -> str:
    return _state_of(thread_from(data))


def _deleted_record(note_id: str, thread_id: str, at: datetime) -> DeletedNoteRecord:
    return DeletedNoteRecord(
        record_type="DeletedNote", id=note_id, thread_id=thread_id, last_modified_time=at
    )


def _describe(exc: RingCentralError) -> str:
    return f"{type(exc).__name__}" + (f" {exc.status}" if exc.status else "")
