"""The outbox's storage on every backend: the idempotency key, the cursor written with the rows, order."""

from __future__ import annotations

from bot.store import Store
from bot.store.outbox import OutboxEntry
from bot.store.subscriptions import NewSubscription
from tests.kit.db import FakeClock


async def _subscription(store: Store, clock: FakeClock, channel: str = "C1") -> int:
    sub, created = await store.save_subscription(
        NewSubscription("T1", channel, "ops", True, "601", "Support", {}, False, "strike", "U1", clock())
    )
    assert created
    return sub.id


async def test_the_same_note_version_is_queued_once_and_the_cursor_moves_with_the_rows(
    store: Store, clock: FakeClock
) -> None:
    sub = await _subscription(store, clock)
    rows = [
        OutboxEntry(sub, "n1", "v1", "note", "t1", {"id": "n1"}),
        OutboxEntry(sub, "n2", "v1", "note", "t1"),
    ]
    assert await store.enqueue(rows, state={"notify:sync_token": "a"}) == 2
    again = [*rows, OutboxEntry(sub, "n1", "v2", "note", "t1")]
    assert await store.enqueue(again, state={"notify:sync_token": "b"}) == 1
    assert await store.get_state("notify:sync_token") == "b"
    pending = await store.pending_outbox()
    assert [(r.note_id, r.version) for r in pending] == [("n1", "v1"), ("n2", "v1"), ("n1", "v2")]
    assert (await store.outbox_depths()) == {sub: 3}


async def test_a_paused_subscription_keeps_its_rows_and_resubscribing_resumes_it(
    store: Store, clock: FakeClock
) -> None:
    sub = await _subscription(store, clock)
    await store.enqueue([OutboxEntry(sub, "n1", "v1", "note", "t1")])
    assert await store.pause_subscription(sub, "is_archived")
    assert not await store.pause_subscription(sub, "is_archived"), "the creator is told once"
    assert await store.pending_outbox() == []
    again, created = await store.save_subscription(
        NewSubscription(
            "T1", "C1", "ops", True, "601", "Support", {"tags": ["x"]}, True, "strike", "U2", clock()
        )
    )
    assert not created and again.active and again.created_by == "U1" and again.filters == {"tags": ["x"]}
    assert [r.note_id for r in await store.pending_outbox()] == ["n1"]


async def test_shown_notes_are_those_of_the_given_channels_and_threads_not_shown_as_deleted(
    store: Store, clock: FakeClock
) -> None:
    from bot.store.slack_messages import NoteMessage

    sub = await _subscription(store, clock)
    other = await _subscription(store, clock, channel="C2")
    shown = [
        (sub, NoteMessage("T1", "C1", "n1", "t1", "1.1", "v1", True, {}, False)),
        (sub, NoteMessage("T1", "C1", "n2", "t1", "1.2", "v1", False, {}, True)),  # struck: deleted
        (sub, NoteMessage("T1", "C1", "n3", "t2", "1.3", "v1", True, {}, False)),  # another thread
        (other, NoteMessage("T1", "C2", "n4", "t1", "1.4", "v1", True, {}, False)),  # another channel
    ]
    for subscription_id, message in shown:
        await store.enqueue([OutboxEntry(subscription_id, message.note_id, "v1", "note", message.thread_id)])
        row = (await store.pending_outbox())[0]
        await store.record_delivery(row.id, subscription_id, message=message)
    assert await store.shown_notes([("T1", "C1")], ["t1"]) == {"n1": "t1"}
    assert await store.shown_notes([("T1", "C1"), ("T1", "C2")], ["t1", "t2"]) == {
        "n1": "t1",
        "n3": "t2",
        "n4": "t1",
    }
    assert await store.shown_notes([], ["t1"]) == {}


async def test_a_mark_on_a_row_as_read_is_refused_once_it_was_finished_or_tried_since(
    store: Store, clock: FakeClock
) -> None:
    sub = await _subscription(store, clock)
    await store.enqueue(
        [OutboxEntry(sub, "n1", "v1", "note", "t1"), OutboxEntry(sub, "n2", "v1", "note", "t1")]
    )
    first, second = await store.pending_outbox()
    assert await store.mark_attempt(first.id, seen=first), "as read: marked"
    assert not await store.mark_attempt(first.id, seen=first), "tried since it was read: read it again"
    (again, _) = await store.pending_outbox()
    assert again.attempted_at is not None and await store.mark_attempt(again.id, seen=again)
    await store.finish_outbox(second.id)
    assert not await store.mark_attempt(second.id, seen=second), "finished since it was read"
    assert await store.mark_attempt(second.id), "without `seen`: marked, as before"


async def test_a_burst_is_queued_in_one_statement_in_the_order_given_and_counted_without_repeats(
    store: Store, clock: FakeClock
) -> None:
    sub = await _subscription(store, clock)
    burst = [OutboxEntry(sub, f"n{i:04d}", "v1", "note", f"t{i % 7}") for i in range(1500)]
    assert await store.enqueue([burst[0]]) == 1
    assert await store.enqueue([*burst, burst[3]]) == 1499, "one already queued, one twice in the burst"
    rows = await store.pending_outbox(limit=2000)
    assert [r.note_id for r in rows] == [e.note_id for e in burst]
    assert [r.id for r in rows] == sorted(r.id for r in rows)


async def test_a_delivery_clears_the_subscriptions_error_and_keeps_its_last_delivery_to_the_minute(
    store: Store, clock: FakeClock
) -> None:
    sub = await _subscription(store, clock)

    async def deliver(note: str) -> None:
        await store.enqueue([OutboxEntry(sub, note, "v1", "note", "t1")])
        (row,) = await store.pending_outbox()
        await store.record_delivery(row.id, sub)

    await deliver("n1")
    first = await store.get_subscription(sub)
    assert first is not None and first.last_delivery_at == clock()
    clock.advance(seconds=30)
    await deliver("n2")
    within = await store.get_subscription(sub)
    assert within is not None and within.last_delivery_at == first.last_delivery_at, "not on every post"
    await store.record_subscription_error(sub, "http 500")
    clock.advance(seconds=1)
    await deliver("n3")
    cleared = await store.get_subscription(sub)
    assert cleared is not None and cleared.last_error is None and cleared.last_error_at is None
    assert cleared.last_delivery_at == clock(), "a delivery after an error is written at once"
    clock.advance(minutes=1, seconds=1)
    await deliver("n4")
    later = await store.get_subscription(sub)
    assert later is not None and later.last_delivery_at == clock()
