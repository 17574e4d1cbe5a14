"""A store full of delivered notes, written in bulk behind the bot's back (for the footprint figure only):

    python -m bench._fill DATABASE_URL NOTES DAYS

Run in its own process after the bot has migrated the database and made its subscriptions, so the bot's
process never holds the rows it did not make. `NOTES` delivered notes, spread evenly over the last `DAYS` days
(the oldest first), five to a RingCentral thread, each thread in the channel of one subscription (round
robin): per note a `note_messages` row and a done outbox row, per thread an `rc_threads` row (Resolved when
its last note is more than 72 hours old, as RingCentral resolves idle threads, else Open) and a
`slack_threads` row. SQLite gets `executemany` from the standard library (one transaction per 20,000 notes);
PostgreSQL gets `COPY` (asyncpg's `copy_records_to_table`). Prints the seconds it took.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
import sys
import time
from collections.abc import Iterator
from typing import Any

NOTES_PER_THREAD = 5
CHUNK = 20_000  # notes per transaction
RESOLVED_AFTER = dt.timedelta(hours=72)
TEXT = "Customer called back about the delivery window; promised a callback before noon. " * 2

Rows = dict[str, list[tuple[Any, ...]]]
COLUMNS = {
    "rc_threads": ("thread_id", "resource_id", "data", "updated_at"),
    "slack_threads": (
        "team_id", "channel_id", "thread_id", "parent_ts", "first_note_id", "muted", "created_at",
    ),
    "note_messages": (
        "team_id", "channel_id", "note_id", "thread_id", "ts", "version", "is_parent", "note", "deleted",
        "updated_at", "in_summary",
    ),
    "outbox": (
        "subscription_id", "note_id", "version", "kind", "thread_id", "payload", "status", "created_at",
        "attempts", "attempted_at", "done_at",
    ),
}  # fmt: skip


def chunks(subs: list[tuple[int, str, str, str]], notes: int, days: float) -> Iterator[Rows]:
    """The rows of `notes` delivered notes, CHUNK notes at a time (whole threads); times are aware."""
    now = dt.datetime.now(dt.UTC)
    span = dt.timedelta(days=days)
    threads = notes // NOTES_PER_THREAD
    per_chunk = CHUNK // NOTES_PER_THREAD
    for start in range(0, threads, per_chunk):
        rows: Rows = {name: [] for name in COLUMNS}
        for k in range(start, min(start + per_chunk, threads)):
            sub_id, team, channel, resource = subs[k % len(subs)]
            tid = f"bench-thread-{k:07d}"
            times = [now - span * (1 - (k * NOTES_PER_THREAD + j) / notes) for j in range(NOTES_PER_THREAD)]
            status = "Resolved" if now - times[-1] > RESOLVED_AFTER else "Open"
            thread = {
                "id": tid, "status": status, "availability": "Alive",
                "owner": {"extensionId": resource, "name": resource},
                "creationTime": times[0].isoformat(), "lastModifiedTime": times[-1].isoformat(),
            }  # fmt: skip
            rows["rc_threads"].append((tid, resource, thread, times[-1]))
            parent_ts = f"{times[0].timestamp():.6f}"
            first = f"bench-note-{k * NOTES_PER_THREAD:08d}"
            rows["slack_threads"].append((team, channel, tid, parent_ts, first, False, times[0]))
            for j, at in enumerate(times):
                nid = f"bench-note-{k * NOTES_PER_THREAD + j:08d}"
                note = {
                    "id": nid, "threadId": tid, "availability": "Alive", "text": TEXT,
                    "author": {"extensionId": "62001001", "name": "Ana Alvarez"},
                    "creationTime": at.isoformat(), "lastModifiedTime": at.isoformat(),
                }  # fmt: skip
                ts = parent_ts if j == 0 else f"{at.timestamp():.6f}"
                version = at.isoformat()
                rows["note_messages"].append(
                    (team, channel, nid, tid, ts, version, j == 0, note, False, at, False)
                )
                rows["outbox"].append((sub_id, nid, version, "note", tid, note, "done", at, 1, at, at))
        yield rows


def fill_sqlite(path: str, notes: int, days: float) -> None:
    db = sqlite3.connect(path)
    subs = list(db.execute("SELECT id, team_id, channel_id, resource_id FROM subscriptions ORDER BY id"))

    def value(v: Any) -> Any:  # as the store writes them: naive UTC text, JSON text
        if isinstance(v, dt.datetime):
            return v.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")
        return json.dumps(v) if isinstance(v, dict) else v

    for rows in chunks(subs, notes, days):
        with db:
            for table, columns in COLUMNS.items():
                marks = ", ".join("?" * len(columns))
                db.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                    ([value(v) for v in row] for row in rows[table]),
                )
    db.close()


async def fill_postgres(dsn: str, notes: int, days: float) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        subs = [
            tuple(r)
            for r in await conn.fetch(
                "SELECT id, team_id, channel_id, resource_id FROM subscriptions ORDER BY id"
            )
        ]
        for rows in chunks(subs, notes, days):  # type: ignore[arg-type]
            async with conn.transaction():
                for table, columns in COLUMNS.items():
                    records = [
                        tuple(json.dumps(v) if isinstance(v, dict) else v for v in row) for row in rows[table]
                    ]
                    await conn.copy_records_to_table(table, records=records, columns=list(columns))
    finally:
        await conn.close()


def main(argv: list[str]) -> int:
    url, notes, days = argv[0], int(argv[1]), float(argv[2])
    started = time.monotonic()
    if url.startswith("sqlite:///"):
        fill_sqlite(url.removeprefix("sqlite:///"), notes, days)
    else:
        asyncio.run(fill_postgres(url.replace("postgresql+asyncpg://", "postgresql://"), notes, days))
    print(f"{time.monotonic() - started:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
