"""Routing: which subscription gets which row of the outbox, for the change feed (`feed.py`) and for
reconciliation (`reconcile.py`) alike.

- Each `AliveNoteRecord` (created or edited) and `DeletedNoteRecord` goes to the subscriptions of its thread's
  resource. New notes are posted only when created after the subscription started and when they pass its
  filters; the edits and deletion of a posted note always follow it. While reconciling, a deletion is queued
  only where the note was shown (a listing of deleted notes holds notes nobody ever saw).
- A thread whose state changed (resolved, assigned, deleted) queues a refresh of its parent messages.
- Changes last modified before `oldest` (now less the feed's `horizon`: THREAD_NOTE_RETENTION_DAYS less a day)
  are not routed: they were routed when they happened, and retention may have pruned the outbox keys that
  would make them no-ops now (`bot/store/retention.py`); reconciliation and full syncs read such old changes
  again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from bot.notify.filters import Filters, passes
from bot.ringcentral.models import AliveNoteRecord, DeletedNoteRecord, Note, Thread
from bot.store.outbox import OutboxEntry
from bot.store.protocols import FeedStore
from bot.store.subscriptions import Subscription

DELETED = "deleted"

ByResource = dict[str, list[Subscription]]  # resource id → its subscriptions


def thread_json(thread: Thread) -> dict[str, Any]:
    return thread.model_dump(mode="json", by_alias=True, exclude_none=True)


def thread_from(data: dict[str, Any]) -> Thread:
    return Thread.model_validate(data)


def note_json(note: Note) -> dict[str, Any]:
    return Note.model_validate(note.model_dump()).model_dump(mode="json", by_alias=True, exclude_none=True)


def by_resource(subs: Iterable[Subscription]) -> ByResource:
    out: dict[str, list[Subscription]] = defaultdict(list)
    for sub in subs:
        out[sub.resource_id].append(sub)
    return dict(out)


def state_of(thread: Thread) -> str:
    """What a parent message shows of a thread: status, availability, assignee."""
    assignee = thread.assignee.extension_id if thread.assignee else "-"
    return f"{thread.status}/{thread.availability}/{assignee}"


def changed_since_cached(threads: Iterable[Thread], cached: dict[str, dict[str, Any]]) -> list[Thread]:
    """The threads whose state differs from the cached one (a thread never cached has nothing to refresh)."""
    return [t for t in threads if t.id in cached and state_of(thread_from(cached[t.id])) != state_of(t)]


def deleted_record(note_id: str, thread_id: str, at: datetime) -> DeletedNoteRecord:
    return DeletedNoteRecord(
        record_type="DeletedNote", id=note_id, thread_id=thread_id, last_modified_time=at
    )


def cache_rows(threads: Iterable[Thread]) -> list[tuple[str, str, dict[str, Any]]]:
    """Threads as the store caches them: (id, owner, JSON)."""
    return [(t.id, t.owner.extension_id, thread_json(t)) for t in threads]


def recent(
    records: Sequence[AliveNoteRecord | DeletedNoteRecord], oldest: datetime | None
) -> Sequence[AliveNoteRecord | DeletedNoteRecord]:
    """The records last modified at or after `oldest` (all of them without one)."""
    if oldest is None:
        return records
    return [r for r in records if r.last_modified_time >= oldest]


async def route_notes(
    store: FeedStore,
    records: Sequence[AliveNoteRecord | DeletedNoteRecord],
    threads: dict[str, Thread],
    subs: ByResource,
    *,
    reconciling: bool = False,
    oldest: datetime | None = None,
) -> list[OutboxEntry]:
    records = recent(records, oldest)
    posted = await store.posted_note_ids([r.id for r in records])
    entries: list[OutboxEntry] = []
    for record in sorted(records, key=lambda r: r.last_modified_time):
        thread = threads.get(record.thread_id)
        if thread is None:
            continue
        for sub in subs.get(thread.owner.extension_id, ()):
            shown = (sub.team_id, sub.channel_id, record.id) in posted
            if isinstance(record, DeletedNoteRecord):
                if shown or not reconciling:
                    entries.append(OutboxEntry(sub.id, record.id, DELETED, "deleted", record.thread_id, {}))
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


def route_thread_changes(threads: Iterable[Thread], subs: ByResource) -> list[OutboxEntry]:
    entries = []
    for thread in threads:
        version = f"{state_of(thread)}@{thread.last_modified_time.isoformat()}"[:40]
        for sub in subs.get(thread.owner.extension_id, ()):
            entries.append(OutboxEntry(sub.id, f"thread:{thread.id}", version, "thread", thread.id, {}))
    return entries
