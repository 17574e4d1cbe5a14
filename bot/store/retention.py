"""Retention: what delivery leaves behind is deleted once nothing can need it again, so the outbox and the
thread tables stay bounded by THREAD_NOTE_RETENTION_DAYS (N, default 30) instead of growing with every note.
The notifier runs `prune` about hourly (`bot/notify/retention.py`); each batch is its own short transaction.

The rule behind it (RingCentral, shared/ringcentral/NOTES.md §2.2, §7.4, §7.6): a note is edited or deleted
only while its thread is **Open**; a Resolved thread never reopens (a later message starts a new thread), and
a thread is resolved by hand or after 72 hours without a message. So a note of a Resolved (or deleted) thread
can no longer change, however recent it is, and a note of an Open thread can change however old it is: the
links an edit or a deletion follows are kept for as long as the thread is open, never for a fixed time only.

Why each table is safe to prune, and when:

- `outbox`: rows finished (`done`, `skipped`, `failed`; nothing retries a failed row) more than N days ago.
  The row's key (subscription, note, version) is what makes a repeated change a no-op, and the feed reads old
  changes again (reconciliation lists every note of a resource, a full sync every alive note of the open
  threads), so the feed ignores changes last modified more than N - 1 days ago (`change_horizon`): a change
  whose key is gone is always older than that (it finished at least N days ago, and it was seen after it
  happened; the day between covers the two clocks). `summarized` rows (held in quiet hours, released into a
  summary) go the same way once their summary row has finished: a waiting summary reads them. Waiting rows
  (`pending`, `held`) are never pruned: they are work not done.
- `note_messages` (a note's Slack message: what an edit updates and a deletion strikes through) when the row
  has not changed for N days, its thread is cached as Resolved or deleted (`rc_threads`; resolved is final),
  and no row of that thread is waiting in the outbox (a resolution queued but not yet shown on the parent
  message needs the thread's messages). A line of a quiet-hours summary goes only with the whole summary:
  when one of its lines is edited, the summary is drawn again from the lines still stored.
- `slack_threads` (the parent message per channel: where replies go, what state changes update) under the same
  rule, once none of the thread's note messages in that channel is left (a parent is drawn from its first
  note).
- `rc_threads` (the thread cache) when the feed has not written the thread for N days (it writes a thread
  when it routes a change of it, when its state changes, and when reconciliation lists it uncached and open
  or changed within the horizon: a resolved thread nothing refers to is never written again), and no note
  message, Slack thread or waiting row refers to it. It is a cache: a thread needed again is fetched again.
  Reconciliation routes every change within the horizon again (the outbox's keys absorb them) and so rewrites
  their threads: a thread goes about 2N days after its last note.

What a pruned thread no longer gets: if someone deletes a resolved thread more than N days after its last
note, its Slack messages stay as they were (the thread's hint has no cached thread to apply to); a reply in
its Slack thread is no longer taken as a two-way note (RingCentral would refuse a note in a resolved thread
anyway).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot.store._base import StoreBase
from bot.store.quiet_hours import HELD, SUMMARIZED, SUMMARY
from bot.store.schema import note_messages, outbox, rc_threads, slack_threads

DEFAULT_RETENTION_DAYS = 30
# At least a week: the feed ignores changes older than the retention less a day (`change_horizon`), so this is
# also the longest outage after which the bot still catches up on what happened meanwhile.
MIN_RETENTION_DAYS = 7
MAX_RETENTION_DAYS = 3650
PRUNE_BATCH = 1000  # rows per transaction: a first run on a big table never holds one long transaction
WAITING = ("pending", HELD)
TABLES = ("outbox", "note_messages", "slack_threads", "rc_threads")  # pruned in this order


def change_horizon(days: int) -> timedelta:
    """How old a RingCentral change may be and still be routed: one day less than the retention, so a change
    is ignored before its outbox key can have been pruned (see the module docstring)."""
    return timedelta(days=days - 1)


def _closed(thread_id: Any) -> Any:
    """The thread is cached as Resolved or deleted: its notes can no longer change."""
    data = rc_threads.c.data
    return sa.exists().where(
        rc_threads.c.thread_id == thread_id,
        sa.or_(data["status"].as_string() == "Resolved", data["availability"].as_string() == "Deleted"),
    )


def _waiting_summaries() -> Any:
    """Subscriptions whose quiet-hours summary row waits: it reads the `summarized` rows it lists."""
    waiting = outbox.alias("waiting_summary")
    return sa.select(waiting.c.subscription_id).where(
        waiting.c.kind == SUMMARY, waiting.c.status.in_(WAITING)
    )


def _busy_threads() -> Any:
    """Threads with outbox rows still to deliver (or read by a summary still to post)."""
    busy = outbox.alias("busy")
    return sa.select(busy.c.thread_id).where(
        sa.or_(
            busy.c.status.in_(WAITING),
            sa.and_(busy.c.status == SUMMARIZED, busy.c.subscription_id.in_(_waiting_summaries())),
        )
    )


def _outbox_keys(before: datetime, limit: int) -> Any:
    c = outbox.c
    kept_for_summary = sa.and_(c.status == SUMMARIZED, c.subscription_id.in_(_waiting_summaries()))
    return (
        sa.select(c.id)
        # "not waiting" rather than the finished statuses by name: SQLite then walks `done_at`'s index
        .where(c.done_at < before, c.status.not_in(WAITING), sa.not_(kept_for_summary))
        .limit(limit)
    )


def _note_message_keys(before: datetime, limit: int) -> Any:
    m = note_messages.alias("m")
    line = note_messages.alias("line")

    def prunable(t: Any) -> Any:
        return sa.and_(t.c.updated_at < before, _closed(t.c.thread_id), t.c.thread_id.not_in(_busy_threads()))

    line_kept = sa.exists().where(
        line.c.team_id == m.c.team_id,
        line.c.channel_id == m.c.channel_id,
        line.c.ts == m.c.ts,
        line.c.in_summary == sa.true(),  # spelled as the partial index's WHERE, so SQLite uses it
        sa.not_(prunable(line)),
    )
    return (
        sa.select(m.c.team_id, m.c.channel_id, m.c.note_id)
        .where(prunable(m), sa.or_(m.c.in_summary == sa.false(), sa.not_(line_kept)))
        .limit(limit)
    )


def _slack_thread_keys(before: datetime, limit: int) -> Any:
    s, m = slack_threads.alias("s"), note_messages.alias("m")
    has_messages = sa.exists().where(
        m.c.thread_id == s.c.thread_id, m.c.team_id == s.c.team_id, m.c.channel_id == s.c.channel_id
    )
    return (
        sa.select(s.c.team_id, s.c.channel_id, s.c.thread_id)
        .where(
            s.c.created_at < before,
            _closed(s.c.thread_id),
            s.c.thread_id.not_in(_busy_threads()),
            sa.not_(has_messages),
        )
        .limit(limit)
    )


def _rc_thread_keys(before: datetime, limit: int) -> Any:
    t, m, s = rc_threads.alias("t"), note_messages.alias("m"), slack_threads.alias("s")
    return (
        sa.select(t.c.thread_id, t.c.account_id)
        .where(
            t.c.updated_at < before,
            t.c.thread_id.not_in(_busy_threads()),
            sa.not_(sa.exists().where(m.c.thread_id == t.c.thread_id)),
            sa.not_(sa.exists().where(s.c.thread_id == t.c.thread_id)),
        )
        .limit(limit)
    )


_KEYS: dict[str, tuple[sa.Table, Callable[[datetime, int], Any]]] = {
    "outbox": (outbox, _outbox_keys),
    "note_messages": (note_messages, _note_message_keys),
    "slack_threads": (slack_threads, _slack_thread_keys),
    "rc_threads": (rc_threads, _rc_thread_keys),
}


class Retention(StoreBase):
    async def prune(self, before: datetime, *, batch: int = PRUNE_BATCH) -> dict[str, int]:
        """Delete what the module docstring allows from rows older than `before`, table by table, `batch`
        rows per transaction. Returns the rows deleted per table. Running it on several replicas at once is
        harmless (a row is deleted once; the conditions hold for whoever deletes it)."""
        return {name: await self.prune_table(name, before, batch=batch) for name in TABLES}

    async def prune_table(self, name: str, before: datetime, *, batch: int = PRUNE_BATCH) -> int:
        table, keys = _KEYS[name]
        key = sa.tuple_(*table.primary_key.columns) if len(table.primary_key.columns) > 1 else None
        total = 0
        while True:
            chosen = keys(before, batch)
            where = key.in_(chosen) if key is not None else table.primary_key.columns[0].in_(chosen)
            async with self._tx() as conn:
                deleted = max((await conn.execute(table.delete().where(where))).rowcount, 0)
            total += deleted
            if deleted < batch:
                return total
