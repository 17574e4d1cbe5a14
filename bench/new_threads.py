"""New conversations: thread lookups for a burst of N notes in N new conversations, and the time until all N
are posted, under RingCentral's real Medium limit.

    .venv/bin/python -m bench.new_threads [--notes 30,300] [--resources 40]

For each N, a fresh world (`bench/_feedkit.py`: the emulator and the Slack stand-in in their own processes,
the bot's notifier here with Slack's pace of one message per second per channel, `--resources` call queues
subscribed over 20 channels). Two polls settle it. Then N customers text the queues (round robin), each
starting a new conversation, and Ana writes one note in each (the emulator's Medium limit is lifted while
she writes, then set back to RingCentral's 40 requests a minute, the service identity's budget for the
rest). The clock starts at her last note: the bot polls (`run_once`, what `serve` schedules) until every note
is in Slack.

Counted where they land (the emulator's log): thread lookups (`GET …/message-threads/{id}` and
`GET …/message-threads` list pages) and every request until all N are posted. The notes in a sync carry only
their thread's id; routing a note needs the thread's owner. Side by side in the same run, the obvious design
as a reference function over the same client (not in the bot): one `GET …/message-threads/{id}` per unknown
thread (N). Target: at most 1 + ⌈N ÷ 250⌉ lookups.
"""

from __future__ import annotations

import argparse
import math
import time

from bench._feedkit import LIFTED, REAL_MEDIUM, count, feed_world, measure, parser_for
from bench._kit import JSON, table
from bot.ringcentral import RingCentralClient

POLL_INTERVAL = 30.0
GIVE_UP_S = 900.0


async def naive_lookups(client: RingCentralClient, thread_ids: list[str]) -> None:
    """Reference (not the bot): one lookup per thread the bot has not seen."""
    for tid in thread_ids:
        await client.get_thread(tid)


async def one_burst(notes: int, resources: int) -> JSON:
    async with feed_world(resources, channel_interval=1.0, limits=LIFTED) as w:
        n = w.bot.notifier
        await n.run_once()
        w.moved(POLL_INTERVAL)
        await n.run_once()
        threads, written = [], set()
        for i in range(notes):
            threads.append(w.new_conversation(w.resources[i % resources], f"+1415666{i:04d}"))
            written.add(w.write(threads[-1], f"burst note {i}")["id"])
        w.rc.config(rateLimits=REAL_MEDIUM)
        w.rc.reset_requests()
        started = time.monotonic()
        polls = 0
        while w.posted(written) != written and time.monotonic() - started < GIVE_UP_S:
            await n.run_once(send_seconds=5.0)
            polls += 1
        seconds = time.monotonic() - started
        posted = len(w.posted(written))
        bot = count(w.rc)
        w.rc.config(rateLimits=LIFTED)
        w.rc.reset_requests()
        await naive_lookups(w.bot.clients.service(), threads)
        naive = count(w.rc)
    return {
        "notes": notes,
        "resources": resources,
        "posted": posted,
        "seconds_until_all_posted": seconds,
        "polls": polls,
        "thread_lookups": bot.thread_lookups,
        "requests": bot.to_json(),
        "target_lookups": 1 + math.ceil(notes / 250),
        "naive_lookups": naive.thread_lookups,
        "ratio_to_naive": bot.thread_lookups / max(1, naive.thread_lookups),
    }


async def run(args: argparse.Namespace) -> JSON:
    rows = []
    for notes in [int(s) for s in args.notes.split(",")]:
        rows.append(await one_burst(notes, args.resources))
        print(f"  burst of {notes} measured", flush=True)
    table(
        "A burst of N notes in N new conversations — target: thread lookups ≤ 1 + ⌈N ÷ 250⌉ "
        "(RingCentral's real Medium limit, 40/min)",
        [
            "notes",
            "thread lookups (target)",
            "requests in all",
            "polls",
            "seconds until all posted",
            "one lookup per thread",
            "bot ÷ per thread",
        ],
        [
            (
                r["notes"],
                f"{r['thread_lookups']} (≤ {r['target_lookups']})",
                r["requests"]["total"],
                r["polls"],
                f"{r['seconds_until_all_posted']:.1f}"
                + ("" if r["posted"] == r["notes"] else f" ({r['posted']} posted)"),
                r["naive_lookups"],
                f"{r['ratio_to_naive']:.3f}",
            )
            for r in rows
        ],
    )
    return {"rows": rows, "target": "thread lookups <= 1 + ceil(N / 250)"}


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__)
    parser.add_argument("--notes", default="30,300", help="burst sizes (new conversations, one note each)")
    parser.add_argument("--resources", type=int, default=40, help="subscribed call queues")
    return measure("new_threads", run, parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
