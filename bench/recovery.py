"""Recovery after a lost sync token: RingCentral requests per poll until every subscribed resource is
reconciled, and whether the first note written meanwhile is posted on time.

    .venv/bin/python -m bench.recovery [--sizes 10,40,100,1000] [--max-polls 600]

For each size, a fresh world (`bench/_feedkit.py`: the emulator and the Slack stand-in in their own
processes, the bot's notifier here, every queue subscribed). Two polls settle it (the second posts a note
of Ana's). Then, while the token is dead (`POST /sandbox/sync/expire`, as when RingCentral drops it): Ana
writes a note in that note's thread (known to the bot), starts a new conversation and writes a note in it,
deletes the note already posted, and writes a note in a thread she then resolves (a full sync does not carry
resolved threads: only reconciliation finds that one). From then on one poll every 30 s, compressed (both
clocks moved 30 s before each poll), until the store says every resource was reconciled after the loss (or
`--max-polls`). Requests are counted where they land (the emulator's log: REST API and OAuth).

Reported per size: polls until reconciled, requests in all, mean and max per poll, the poll on which the
first of the two notes written meanwhile was posted (1 = the first poll after the loss, "on time") and the
poll by which both were (the one in the new conversation waits for its thread's lookup), whether the
resolved thread's note was posted and the deleted one struck, and, side by side in the same run, the obvious
design as a reference function over the same client (not in the bot): reconcile every resource by itself,
threads then notes (2 requests each, `1 + 2 * resources` with the full sync). The emulator's Medium limit is
lifted so that pacing hides no count.
"""

from __future__ import annotations

import argparse
import time

from bench._feedkit import FeedWorld, batches, count, feed_world, measure, parser_for
from bench._kit import JSON, table, thread_of
from bot.ringcentral import RingCentralClient

POLL_INTERVAL = 30.0


async def naive_per_resource(client: RingCentralClient, resources: list[str]) -> None:
    """Reference (not the bot): each resource reconciled by itself, its threads then its notes, alive and
    deleted, after the full sync."""
    await client.sync_entries(None, scope="Accessible")
    for rid in resources:
        async for _ in client.iter_threads(
            owner_extension_ids=[rid], availability=["Alive", "Deleted"], per_page=1000
        ):
            pass
        async for _ in client.iter_notes(
            owner_extension_ids=[rid], availability=["Alive", "Deleted"], per_page=1000
        ):
            pass


async def one_size(size: int, max_polls: int) -> JSON:
    async with feed_world(size) as w:
        n = w.bot.notifier
        await n.run_once()
        w.moved(POLL_INTERVAL)
        shown = w.write(thread_of(min(2, size - 1), 0), "posted, then deleted while the token was dead")["id"]
        await n.run_once(send_seconds=2.0)
        lost = w.bot.clock()
        w.rc.http.post("/sandbox/sync/expire").raise_for_status()
        notes = _write_during_loss(w, size, shown)
        per_poll: list[int] = []
        first_posted: int | None = None  # the first of the two notes posted
        both_posted: int | None = None
        seconds: list[float] = []
        for poll in range(1, max_polls + 1):
            w.moved(POLL_INTERVAL)
            w.rc.reset_requests()
            started = time.perf_counter()
            await n.run_once(send_seconds=2.0)
            seconds.append(time.perf_counter() - started)
            per_poll.append(count(w.rc).total)
            posted = w.posted({notes["known"], notes["new"]})
            if first_posted is None and posted:
                first_posted = poll
            if both_posted is None and len(posted) == 2:
                both_posted = poll
            if await w.reconciled_since(lost):
                break
        reconciled = await w.reconciled_since(lost)
        # Anything reconciliation queued in its last poll is posted by the send of that poll.
        resolved_posted = bool(w.posted({notes["resolved"]}))
        deleted_struck = w.struck(notes["deleted"])
        w.rc.reset_requests()
        await naive_per_resource(w.bot.clients.service(), w.resources)
        naive = count(w.rc).total
    total = sum(per_poll)
    return {
        "resources": size,
        "reconciled": reconciled,
        "polls": len(per_poll),
        "requests": total,
        "mean_per_poll": total / len(per_poll),
        "max_per_poll": max(per_poll),
        "per_poll": per_poll,
        "first_note_posted_on_poll": first_posted,
        "both_notes_posted_on_poll": both_posted,
        "resolved_thread_note_posted": resolved_posted,
        "deleted_note_struck": deleted_struck,
        "naive_per_resource": naive,
        "ratio_to_naive": total / naive,
        "poll_seconds_max": max(seconds),
        "resources_per_10": batches(size),
    }


def _write_during_loss(w: FeedWorld, size: int, deleted: str) -> dict[str, str]:
    """Notes written (and `deleted`, posted before, deleted) while the token is dead (module docstring)."""
    known = w.write(thread_of(min(2, size - 1), 0), "written while the token was dead")["id"]
    thread = w.new_conversation(w.resources[min(1, size - 1)], "+14155559001")
    new = w.write(thread, "first note of a new conversation, token dead")["id"]
    w.delete(deleted)
    resolved = w.write(thread_of(min(3, size - 1), 1), "then the thread was resolved")["id"]
    w.resolve(thread_of(min(3, size - 1), 1))
    return {"known": known, "new": new, "deleted": deleted, "resolved": resolved}


async def run(args: argparse.Namespace) -> JSON:
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        rows.append(await one_size(size, args.max_polls))
        print(f"  {size} resources measured", flush=True)
    table(
        "Recovery after a lost sync token — target: grows with resources ÷ 10, ≤ 2 requests on every poll, "
        "the first note posted on the first poll",
        [
            "resources",
            "polls",
            "requests",
            "mean/max per poll",
            "first note / both on poll",
            "resolved posted / deleted struck",
            "one per resource",
            "bot ÷ per resource",
        ],
        [
            (
                r["resources"],
                r["polls"] if r["reconciled"] else f"> {r['polls']} (not done)",
                r["requests"],
                f"{r['mean_per_poll']:.2f} / {r['max_per_poll']}",
                f"{r['first_note_posted_on_poll']} / {r['both_notes_posted_on_poll']}",
                f"{_yes(r['resolved_thread_note_posted'])} / {_yes(r['deleted_note_struck'])}",
                r["naive_per_resource"],
                f"{r['ratio_to_naive']:.2f}",
            )
            for r in rows
        ],
    )
    return {
        "poll_interval_s": POLL_INTERVAL,
        "rows": rows,
        "target": "requests grow with resources / 10; no poll over 2 requests; the first note posted on the "
        "first poll after the loss",
    }


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__)
    parser.add_argument("--sizes", default="10,40,100,1000", help="numbers of subscribed resources")
    parser.add_argument("--max-polls", type=int, default=600, help="give up after this many polls")
    return measure("recovery", run, parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
