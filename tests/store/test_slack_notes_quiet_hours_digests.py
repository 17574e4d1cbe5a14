"""The storage behind two-way threads, quiet hours and digests, on every backend: each claim is won once."""

from __future__ import annotations

import asyncio

from bot.store import Store
from bot.store.outbox import OutboxEntry
from bot.store.slack_messages import NoteMessage, SlackThread
from bot.store.subscriptions import NewSubscription


async def _subscription(store: Store) -> int:
    options = {"two_way": True, "digest": "09:00", "quiet": ["22:00", "07:00"], "tz": "UTC"}
    new = NewSubscription(
        "T1", "C1", "ops", True, "601", "Support", {}, False, "strike", "U1", store._now(), options
    )
    sub, _ = await store.save_subscription(new)
    assert sub.options == options
    return sub.id


async def test_a_slack_reply_is_claimed_once_and_maps_to_its_note(store: Store) -> None:
    assert await store.claim_slack_note("T1", "C1", "1.1", "t1", "U1")
    assert not await store.claim_slack_note("T1", "C1", "1.1", "t1", "U1"), "a retry finds the claim"
    assert await store.slack_notes_creating("T1", "C1", "t1", store._now().replace(year=2000))
    await store.set_slack_note("T1", "C1", "1.1", state="created", note_id="n1")
    found = await store.slack_note_by_note("T1", "C1", "n1")
    assert found is not None and found.ts == "1.1" and found.user_id == "U1"
    assert not await store.slack_notes_creating("T1", "C1", "t1", store._now().replace(year=2000))
    assert await store.set_slack_note("T1", "C1", "1.1", state="deleted", expect="created")
    assert not await store.set_slack_note("T1", "C1", "1.1", state="deleted", expect="created")


async def test_a_notes_reads_before_a_post_see_its_message_its_slack_thread_and_a_two_way_origin(
    store: Store,
) -> None:
    sub = await _subscription(store)
    nothing = await store.note_in_channel("T1", "C1", "n1", "t1")
    assert nothing.shown is None and nothing.slack_thread is None and not nothing.written_here
    await store.enqueue([OutboxEntry(sub, "n1", "v1", "note", "t1", {"id": "n1"})])
    (row,) = await store.pending_outbox()
    shown = NoteMessage("T1", "C1", "n1", "t1", "9.9", "v1", True, {"id": "n1"}, False)
    thread = SlackThread("T1", "C1", "t1", "9.9", "n1", False)
    await store.record_delivery(row.id, sub, message=shown, thread=thread)
    await store.claim_slack_note("T1", "C1", "9.8", "t1", "U1")
    await store.set_slack_note("T1", "C1", "9.8", state="created", note_id="n2")

    first = await store.note_in_channel("T1", "C1", "n1", "t1")
    assert first.shown == shown and first.slack_thread == thread and not first.written_here
    second = await store.note_in_channel("T1", "C1", "n2", "t1")
    assert second.shown is None and second.slack_thread == thread and second.written_here
    elsewhere = await store.note_in_channel("T1", "C2", "n1", "t1")
    assert elsewhere.shown is None and elsewhere.slack_thread is None


async def test_held_rows_are_released_as_one_summary_even_when_two_release_at_once(store: Store) -> None:
    sub = await _subscription(store)
    await store.enqueue([OutboxEntry(sub, f"n{i}", "v1", "note", "t1", {"id": f"n{i}"}) for i in range(3)])
    for row in await store.pending_outbox():
        await store.hold_outbox(row.id)
    assert await store.pending_outbox() == [] and await store.held_subscriptions() == [sub]
    results = await asyncio.gather(store.release_held(sub), store.release_held(sub))
    assert sorted(results) == [0, 3]
    (summary,) = await store.pending_outbox()
    assert summary.kind == "summary" and len(summary.payload["rows"]) == 3
    shown = [
        NoteMessage("T1", "C1", f"n{i}", "t1", "9.9", "v1", False, {"id": f"n{i}"}, False) for i in range(3)
    ]
    await store.record_summary(summary.id, sub, shown)
    lines = await store.summary_lines("T1", "C1", "9.9")
    assert [m.note_id for m in lines] == ["n0", "n1", "n2"] and all(m.in_summary for m in lines)
    assert await store.pending_outbox() == []


async def test_a_digest_day_is_claimed_once(store: Store) -> None:
    sub = await _subscription(store)
    assert await store.claim_digest(sub, "2026-01-05")
    assert not await store.claim_digest(sub, "2026-01-05")
    await store.drop_digest(sub, "2026-01-05")  # posting failed: the next run may try again
    assert await store.claim_digest(sub, "2026-01-05")
    await store.finish_digest(sub, "2026-01-05", "1.2", 4)
