"""Retention on every backend: what delivery left behind goes after N days, except the links of notes that can
still change (their thread is open), what still waits, and the summaries that still show a kept line."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.store import Store
from bot.store.outbox import OutboxEntry
from bot.store.slack_messages import NoteMessage, SlackThread
from bot.store.subscriptions import NewSubscription
from tests.kit.db import FakeClock

DAYS = 30


async def _subscription(store: Store) -> int:
    new = NewSubscription("T1", "C1", "ops", True, "601", "Support", {}, False, "strike", "U1", store._now())
    sub, _ = await store.save_subscription(new)
    return sub.id


def _thread(thread_id: str, status: str = "Open", availability: str = "Alive") -> tuple[str, str, Any]:
    data = {
        "id": thread_id,
        "status": status,
        "availability": availability,
        "owner": {"extensionId": "601", "name": "Support"},
        "creationTime": "2026-03-01T09:00:00Z",
        "lastModifiedTime": "2026-03-01T09:00:00Z",
    }
    return thread_id, "601", data


async def _deliver(store: Store, sub: int, note_id: str, thread_id: str, *, parent: bool = True) -> None:
    """Queue a note and record it posted, as the sender does: its message, its Slack thread, the row done."""
    await store.enqueue([OutboxEntry(sub, note_id, "v1", "note", thread_id, {"id": note_id})])
    (row,) = [r for r in await store.pending_outbox() if r.note_id == note_id]
    ts = f"{abs(hash(note_id)) % 10**6}.000100"
    message = NoteMessage("T1", "C1", note_id, thread_id, ts, "v1", parent, {"id": note_id}, False)
    thread = SlackThread("T1", "C1", thread_id, ts, note_id, False) if parent else None
    await store.record_delivery(row.id, sub, message=message, thread=thread)


async def _prune(store: Store, clock: FakeClock, **kw: Any) -> dict[str, int]:
    return await store.prune(clock() - timedelta(days=DAYS), **kw)


async def test_links_of_notes_that_can_no_longer_change_go_the_others_stay(
    store: Store, clock: FakeClock
) -> None:
    sub = await _subscription(store)
    await store.cache_threads(
        [_thread("resolved", "Resolved"), _thread("open"), _thread("gone", "Open", "Deleted")], account=""
    )
    await _deliver(store, sub, "n-resolved", "resolved")
    await _deliver(store, sub, "n-open", "open")
    await _deliver(store, sub, "n-gone", "gone")
    clock.advance(days=DAYS - 1)
    assert await _prune(store, clock) == dict.fromkeys(
        ("outbox", "note_messages", "slack_threads", "rc_threads"), 0
    )

    clock.advance(days=2)
    pruned = await _prune(store, clock)
    assert pruned == {"outbox": 3, "note_messages": 2, "slack_threads": 2, "rc_threads": 2}
    assert await store.outbox_rows() == []
    assert await store.get_note_message("T1", "C1", "n-resolved") is None
    assert await store.get_slack_thread("T1", "C1", "gone") is None
    # the open thread's note can still be edited or deleted: its message and Slack thread stay, and so does
    # its cached thread (the message refers to it)
    assert await store.get_note_message("T1", "C1", "n-open") is not None
    assert await store.get_slack_thread("T1", "C1", "open") is not None
    assert set(await store.cached_threads(["resolved", "open", "gone"], account="")) == {"open"}
    assert sum((await _prune(store, clock)).values()) == 0, "a second run finds nothing more"


async def test_what_waits_is_kept_and_so_are_its_threads_messages(store: Store, clock: FakeClock) -> None:
    sub = await _subscription(store)
    await store.cache_threads([_thread("busy", "Resolved"), _thread("recent", "Resolved")], account="")
    await _deliver(store, sub, "n-busy", "busy")
    # the thread's resolution, queued to be shown on its parent message, not delivered yet
    await store.enqueue([OutboxEntry(sub, "thread:busy", "Resolved@x", "thread", "busy", {})])
    await store.enqueue([OutboxEntry(sub, "n-held", "v1", "note", "held-thread", {"id": "n-held"})])
    (held,) = [r for r in await store.pending_outbox() if r.note_id == "n-held"]
    await store.hold_outbox(held.id)
    clock.advance(days=20)
    await _deliver(store, sub, "n-recent", "recent")  # a note of a thread resolved since, 20 days later
    clock.advance(days=DAYS - 5)

    pruned = await _prune(store, clock)
    assert pruned["note_messages"] == 0 and pruned["slack_threads"] == 0
    assert {r.status for r in await store.outbox_rows()} == {"pending", "held", "done"}
    assert [r.note_id for r in await store.outbox_rows() if r.status == "done"] == ["n-recent"]
    assert await store.get_note_message("T1", "C1", "n-busy") is not None
    assert await store.get_note_message("T1", "C1", "n-recent") is not None


async def test_a_summary_goes_whole_and_its_held_rows_wait_for_it(store: Store, clock: FakeClock) -> None:
    sub = await _subscription(store)
    await store.cache_threads([_thread("closed", "Resolved"), _thread("open")], account="")
    entries = [
        OutboxEntry(sub, "s-closed", "v1", "note", "closed", {"id": "s-closed"}),
        OutboxEntry(sub, "s-open", "v1", "note", "open", {"id": "s-open"}),
    ]
    await store.enqueue(entries)
    for row in await store.pending_outbox():
        await store.hold_outbox(row.id)
    assert await store.release_held(sub) == 2
    clock.advance(days=DAYS + 1)
    assert (await _prune(store, clock))["outbox"] == 0, "the summary still waits: its held rows stay"

    (summary,) = await store.pending_outbox()
    lines = [
        NoteMessage("T1", "C1", e.note_id, e.thread_id, "7.7", "v1", False, e.payload, False) for e in entries
    ]
    await store.record_summary(summary.id, sub, lines)
    clock.advance(days=DAYS + 1)
    pruned = await _prune(store, clock)
    assert pruned["outbox"] == 3 and pruned["note_messages"] == 0, (
        "a line of an open thread keeps the summary"
    )
    assert {m.note_id for m in await store.summary_lines("T1", "C1", "7.7")} == {"s-closed", "s-open"}

    await store.cache_threads([_thread("open", "Resolved")], account="")
    clock.advance(days=DAYS + 1)
    assert (await _prune(store, clock))["note_messages"] == 2
    assert await store.summary_lines("T1", "C1", "7.7") == []


async def test_a_big_backlog_goes_in_bounded_batches(store: Store, clock: FakeClock) -> None:
    sub = await _subscription(store)
    await store.cache_threads([_thread(f"t{i}", "Resolved") for i in range(7)], account="")
    for i in range(7):
        await _deliver(store, sub, f"n{i}", f"t{i}")
    clock.advance(days=DAYS + 1)
    assert await _prune(store, clock, batch=2) == {
        "outbox": 7, "note_messages": 7, "slack_threads": 7, "rc_threads": 7
    }  # fmt: skip
