"""Reconciliation: the change feed's safety net, spread over polls so that no poll goes over its budget.

The subscribed resources' threads and notes (alive and deleted) are listed and compared with what was queued,
and what is missing is queued: a note missed while the sync token was dead, a note in a thread resolved
meanwhile (a full sync holds neither), a deletion, a thread's new state. The outbox's unique key absorbs what
was queued already.

A cursor walks the subscribed resources, sorted by id, 10 at a time (the most `ownerExtensionIds` takes), one
request per step: the batch's threads page by page, then its notes page by page, then, only where RingCentral
refuses to list deleted notes, a lookup by id (10 a request) of each note shown in Slack that the Alive
listing no longer holds (a deletion between two pages shifts the later ones, so a note can be missing from a
listing without being gone). A round costs twice ⌈resources ÷ 10⌉ requests (more for a batch with over 1,000
threads or notes). The cursor is stored with the rows its step queued, in one transaction: a restart, or
another replica taking the feed over, carries on where it stopped.

Two paces:

- After a lost sync token (the full sync commits a fresh cursor in `recovery` mode): a step on every poll
  whose own requests (the sync, the thread lookups of new notes) left room in the poll's budget of 2. So no
  poll goes over 2 requests while recovering, and new notes are posted first, on the first poll.
- Otherwise (`periodic`): a step every `every` polls (12: an idle poll then costs 1 + 1/12 requests on
  average), a slow sweep in case RingCentral's feed ever missed something. With 40 resources a round takes
  96 polls (48 minutes at the default 30 s), with 1,000 resources 2,400 (20 hours).

A step is skipped while the service identity's Medium budget is short (the client's rate limiter would make
it wait): people's requests and new notes come first. After an error a step backs off (10 s doubling up to
15 minutes, at least the `Retry-After`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from bot.logs import get_logger
from bot.notify.health import describe_error
from bot.notify.routing import (
    ByResource,
    cache_rows,
    changed_since_cached,
    deleted_record,
    route_notes,
    route_thread_changes,
    thread_from,
)
from bot.ringcentral import RingCentralClient
from bot.ringcentral.errors import InvalidInput, RateLimited, RingCentralError
from bot.ringcentral.models import AliveNoteRecord, DeletedNoteRecord, Thread
from bot.ringcentral.params import MAX_FILTER_IDS, MAX_PAGE, Availability, has_more
from bot.store.feed_state import DEPLOYMENT, scoped
from bot.store.outbox import OutboxEntry
from bot.store.protocols import FeedStore

log = get_logger(__name__)

RECONCILE_KEY = "notify:reconcile"  # the cursor (kv_state)
RECONCILE_EVERY = 12  # polls between two periodic steps
POLL_BUDGET = 2  # RingCentral requests a poll may cost, reconciliation included, unless its changes need more
MAX_BACKOFF = timedelta(minutes=15)
MEDIUM = "Medium"  # the rate-limit group of every message-threads operation
Stage = Literal["threads", "notes", "verify"]
P = TypeVar("P")


@dataclass(frozen=True)
class Cursor:
    mode: Literal["periodic", "recovery"] = "periodic"
    after: str = ""  # the last resource id of the batches done in this round
    batch: tuple[str, ...] = ()  # the batch in progress (fixed when it starts)
    stage: Stage = "threads"
    page: int = 1
    verify: tuple[tuple[str, str], ...] = ()  # (note id, thread id) still to look up by id
    errors: int = 0
    retry_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "after": self.after,
            "batch": list(self.batch),
            "stage": self.stage,
            "page": self.page,
            "verify": [list(pair) for pair in self.verify],
            "errors": self.errors,
            "retryAt": self.retry_at.isoformat() if self.retry_at else None,
        }

    @classmethod
    def from_json(cls, data: Any) -> Cursor:
        """The stored cursor; anything unreadable (or a mark of an older version) starts a periodic round."""
        if not isinstance(data, dict):
            return cls()
        try:
            retry = data.get("retryAt")
            return cls(
                mode="recovery" if data.get("mode") == "recovery" else "periodic",
                after=str(data.get("after") or ""),
                batch=tuple(str(r) for r in data.get("batch") or ()),
                stage=data["stage"] if data.get("stage") in ("threads", "notes", "verify") else "threads",
                page=max(1, min(MAX_PAGE, int(data.get("page") or 1))),
                verify=tuple((str(n), str(t)) for n, t in data.get("verify") or ()),
                errors=int(data.get("errors") or 0),
                retry_at=datetime.fromisoformat(retry) if retry else None,
            )
        except (TypeError, ValueError, KeyError):
            return cls()


@dataclass
class _Seen:
    """What this process saw of the batch in progress: only needed where deleted notes cannot be listed, to
    tell which shown notes the Alive listing no longer holds. `complete` when seen from its first page."""

    batch: tuple[str, ...]
    at: tuple[Stage, int]  # the step it expects next
    complete: bool
    alive_threads: set[str] = field(default_factory=set)
    notes: set[str] = field(default_factory=set)


@dataclass
class _Step:
    entries: list[OutboxEntry]
    cursor: Cursor  # after the step
    threads: list[Thread] = field(default_factory=list)  # to cache
    done: bool = False  # the batch is reconciled


class _Refused(Exception):
    """RingCentral refused to list deleted items of a kind: remembered; the step is tried again without."""


class Reconciler:
    def __init__(
        self,
        store: FeedStore,
        *,
        clock: Callable[[], datetime],
        every: int = RECONCILE_EVERY,
        budget: int = POLL_BUDGET,
        horizon: timedelta | None = None,
        account: str = DEPLOYMENT,
    ) -> None:
        self._store = store
        self._clock = clock
        self.account = account
        self.key = scoped(RECONCILE_KEY, account)  # this account's cursor
        self.every = every
        self.budget = budget
        self.horizon = horizon  # changes older than this are not routed (`routing.py`)
        self._idle = 0  # polls since the last periodic step (this process)
        self._refused: set[str] = set()  # "threads"/"notes": listing deleted ones answered 400
        self._seen: _Seen | None = None

    async def step(
        self, client: RingCentralClient, subs: ByResource, spent: int, *, force: bool = False
    ) -> tuple[int, list[str]]:
        """At most one request of reconciliation, when one is due and the poll (`spent` requests so far)
        leaves room; `force` ignores the periodic pace. Returns the requests made and the resources whose
        reconciliation this step finished."""
        cursor = Cursor.from_json(await self._store.get_state(self.key))
        if cursor.mode == "periodic" and not force:
            self._idle += 1
            if self._idle < self.every:
                return 0, []
        waiting = cursor.retry_at is not None and cursor.retry_at > self._now()
        if waiting or spent >= self.budget or client.limiter.delay(MEDIUM) > 0:
            return 0, []
        cursor = _with_batch(cursor, subs)
        if not cursor.batch:
            return 0, []
        self._idle = 0
        mine = {rid: subs[rid] for rid in cursor.batch if rid in subs}
        try:
            step = await self._run(client, cursor, mine)
        except _Refused:
            return 1, []
        except RingCentralError as exc:
            await self._failed(cursor, exc)
            return 1, []
        if step.done:
            step.cursor = _after(cursor, subs)
            self._seen = None
        await self._store.enqueue(
            step.entries,
            threads=cache_rows(step.threads),
            state={self.key: step.cursor.to_json()},
            account=self.account,
        )
        if not step.done:
            return 1, []
        await self._store.feed_resources_ok(mine, account=self.account, reconciled=True)
        log.info("feed.reconciled", resources=len(mine), mode=cursor.mode, queued=len(step.entries))
        if cursor.mode == "recovery" and step.cursor.mode == "periodic":
            log.info("feed.recovery_reconciled")
        return 1, list(mine)

    async def _run(self, client: RingCentralClient, cursor: Cursor, subs: ByResource) -> _Step:
        seen = self._seen
        if seen is None or seen.batch != cursor.batch or seen.at != (cursor.stage, cursor.page):
            first = (cursor.stage, cursor.page) == ("threads", 1)
            seen = self._seen = _Seen(cursor.batch, (cursor.stage, cursor.page), complete=first)
        if cursor.stage == "threads":
            step = await self._threads(client, cursor, subs, seen)
        elif cursor.stage == "notes":
            step = await self._notes(client, cursor, subs, seen)
        else:
            step = await self._verify(client, cursor, subs)
        step.cursor = replace(step.cursor, errors=0, retry_at=None)
        seen.at = (step.cursor.stage, step.cursor.page)
        return step

    async def _threads(
        self, client: RingCentralClient, cursor: Cursor, subs: ByResource, seen: _Seen
    ) -> _Step:
        """One page of the batch's threads: refresh the parent messages of those whose state changed.

        Cached: those whose state changed, and those not cached yet that are open or changed within the
        horizon (the notes stage routes from the cache, and a note can be new only in an open thread, or
        routed only when it changed within the horizon). Not the rest of the resource's history: unchanged,
        they would be rewritten on every round, and retention could never let a resolved one go."""
        page = await self._listing("threads", client.list_threads, cursor)
        cached = await self._store.cached_threads((t.id for t in page.records), account=self.account)
        changed = changed_since_cached(page.records, cached)
        entries = route_thread_changes(changed, subs)
        oldest = self.oldest()
        keep = changed + [
            t
            for t in page.records
            if t.id not in cached and (t.is_open or oldest is None or t.last_modified_time >= oldest)
        ]
        seen.alive_threads.update(t.id for t in page.records if t.availability == "Alive")
        if has_more(page.paging, len(page.records), cursor.page, MAX_PAGE):
            return _Step(entries, replace(cursor, page=cursor.page + 1), keep)
        return _Step(entries, replace(cursor, stage="notes", page=1), keep)

    async def _notes(self, client: RingCentralClient, cursor: Cursor, subs: ByResource, seen: _Seen) -> _Step:
        """One page of the batch's notes: queue what was missed (the first stage cached their threads)."""
        page = await self._listing("notes", client.list_notes, cursor)
        cached = await self._store.cached_threads({n.thread_id for n in page.records}, account=self.account)
        threads = {tid: thread_from(data) for tid, data in cached.items()}
        records: list[AliveNoteRecord | DeletedNoteRecord] = [
            deleted_record(n.id, n.thread_id, n.last_modified_time)
            if n.availability == "Deleted"
            else AliveNoteRecord(record_type="AliveNote", **n.model_dump())
            for n in page.records
        ]
        entries = await route_notes(
            self._store, records, threads, subs, reconciling=True, oldest=self.oldest()
        )
        seen.notes.update(n.id for n in page.records if n.availability == "Alive")
        if has_more(page.paging, len(page.records), cursor.page, MAX_PAGE):
            return _Step(entries, replace(cursor, page=cursor.page + 1))
        if "notes" not in self._refused:  # deleted notes were listed too
            return _Step(entries, cursor, done=True)
        if not seen.complete:  # this process did not see the whole batch (a restart): list it again
            return _Step(entries, replace(cursor, stage="threads", page=1))
        channels = [(s.team_id, s.channel_id) for group in subs.values() for s in group]
        shown = await self._store.shown_notes(channels, sorted(seen.alive_threads))
        missing = tuple(sorted((nid, tid) for nid, tid in shown.items() if nid not in seen.notes))
        if not missing:
            return _Step(entries, cursor, done=True)
        return _Step(entries, replace(cursor, stage="verify", page=1, verify=missing))

    async def _verify(self, client: RingCentralClient, cursor: Cursor, subs: ByResource) -> _Step:
        """Deletions inferred without a listing of deleted notes: shown notes missing from the Alive listing,
        looked up by id (10 a request); those not found Alive are gone."""
        ids, rest = cursor.verify[:MAX_FILTER_IDS], cursor.verify[MAX_FILTER_IDS:]
        page = await client.list_notes(
            note_ids=[n for n, _ in ids], availability=["Alive"], per_page=MAX_PAGE
        )
        found = {n.id for n in page.records if n.availability == "Alive"}
        cached = await self._store.cached_threads({tid for _, tid in ids}, account=self.account)
        threads = {tid: thread_from(data) for tid, data in cached.items()}
        # seen gone now (when is unknown): a note still shown as alive was never marked deleted
        gone = [deleted_record(nid, tid, self._now()) for nid, tid in ids if nid not in found]
        if gone:
            log.info("feed.deletions_inferred", count=len(gone))
        entries = await route_notes(self._store, gone, threads, subs, reconciling=True, oldest=self.oldest())
        if rest:
            return _Step(entries, replace(cursor, verify=rest))
        return _Step(entries, replace(cursor, verify=()), done=True)

    def _availability(self, kind: str) -> list[Availability]:
        return ["Alive"] if kind in self._refused else ["Alive", "Deleted"]

    async def _listing(self, kind: str, listing: Callable[..., Awaitable[P]], cursor: Cursor) -> P:
        """A page of the batch's `kind` (alive and deleted); a 400 to a listing of deleted ones is remembered
        for this process (the step then lists Alive ones on its next turn)."""
        try:
            return await listing(
                owner_extension_ids=list(cursor.batch),
                availability=self._availability(kind),
                page=cursor.page,
                per_page=MAX_PAGE,
            )
        except InvalidInput as exc:
            if kind in self._refused:
                raise
            self._refused.add(kind)
            log.info("feed.deleted_listing_refused", kind=kind, error_code=exc.error_code)
            raise _Refused(kind) from exc

    async def _failed(self, cursor: Cursor, exc: RingCentralError) -> None:
        errors = cursor.errors + 1
        delay = retry_delay(errors, exc)
        retry_at = self._now() + delay
        await self._store.set_state(self.key, replace(cursor, errors=errors, retry_at=retry_at).to_json())
        await self._store.feed_resources_failed(
            cursor.batch, describe_error(exc), lambda _: retry_at, account=self.account
        )
        log.info(
            "feed.reconcile_failed",
            resources=len(cursor.batch),
            error=describe_error(exc),
            retry_in=int(delay.total_seconds()),
        )

    def oldest(self) -> datetime | None:
        return None if self.horizon is None else self._now() - self.horizon

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)


def retry_delay(errors: int, exc: RingCentralError) -> timedelta:
    """How long to leave a resource (or a step) alone after `errors` in a row: 10 s doubling up to
    `MAX_BACKOFF`, at least the `Retry-After` of a 429."""
    delay = min(MAX_BACKOFF, timedelta(seconds=5 * 2 ** min(errors, 10)))
    if isinstance(exc, RateLimited):
        delay = max(delay, timedelta(seconds=exc.retry_after))
    return delay


def recovery() -> dict[str, Any]:
    """The cursor a full sync after a lost token commits: every resource again, from the first, at once."""
    return Cursor(mode="recovery").to_json()


def _with_batch(cursor: Cursor, subs: ByResource) -> Cursor:
    """The cursor with a batch to work on: the one in progress while any of it is still subscribed, else the
    next 10 subscribed resources after the last batch done (a new round from the first when none is left)."""
    if any(rid in subs for rid in cursor.batch):
        return cursor
    after = cursor.batch[-1] if cursor.batch else cursor.after
    ids = sorted(subs)
    rest = [rid for rid in ids if rid > after]
    if not rest:
        cursor, rest = Cursor(), ids
    return replace(
        cursor, after=after, batch=tuple(rest[:MAX_FILTER_IDS]), stage="threads", page=1, verify=()
    )


def _after(cursor: Cursor, subs: ByResource) -> Cursor:
    """The cursor once its batch is reconciled: the next batch of the round, or, when the round is over, a
    periodic one from the first resource (a recovery ends there)."""
    after = cursor.batch[-1]
    if any(rid > after for rid in subs):
        return Cursor(mode=cursor.mode, after=after)
    return Cursor()
