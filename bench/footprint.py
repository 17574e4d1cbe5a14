"""Figure 5 — footprint: resident memory and CPU per poll with 1,000 subscriptions and 100,000 delivered notes
in the store, and their growth over a one-hour soak compressed with the emulator's clock.

    .venv/bin/python -m bench.footprint [--subscriptions 1000] [--delivered 100000] [--soak-minutes 60]

The bot's notifier (store, service client, Slack client, `Notifier.run_once()`) runs in this process and is
the only thing in it besides this script; the RingCentral emulator (1,000 extra call queues, one thread
each) and the Slack stand-in run in their own processes. The store (SQLite) is filled first with 100,000
delivered notes (their `note_messages` rows and done outbox rows, bulk-inserted). Then a poll every 30 s for
`--soak-minutes`, compressed: the bot's clock and the emulator's are moved 30 s forward before each poll,
with a note written in one of the threads every 4th poll (posted as it would be). Resident memory (VmRSS of
this process) and CPU (user + system of this process) are read around each poll. The emulator's Medium limit
is lifted because a compressed hour would otherwise be paced by wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

from bench._kit import (
    JSON,
    MT,
    Notifying,
    RcControl,
    SlackControl,
    big_seed,
    cpu_seconds,
    extra_resources,
    percentile,
    quiet,
    rss_kib,
    start_rc,
    start_slack,
    table,
    thread_of,
    write_result,
)

POLL_INTERVAL = 30.0


async def fill(bot: Notifying, team: str, channels: list[str], delivered: int) -> None:
    """`delivered` notes as the sender leaves them: a note_messages row and a done outbox row each."""
    from bot.store.schema import note_messages, outbox

    subs = await bot.store.list_subscriptions()
    now = bot.clock()
    note = {"id": "", "threadId": "", "text": "x" * 200, "availability": "Alive"}
    for start in range(0, delivered, 5000):
        messages, rows = [], []
        for n in range(start, min(start + 5000, delivered)):
            sub = subs[n % len(subs)]
            nid = f"bench-{n:07d}"
            version = (now - dt.timedelta(seconds=delivered - n)).isoformat()
            messages.append(
                {"team_id": team, "channel_id": sub.channel_id, "note_id": nid, "thread_id": f"t{n % 5000}",
                 "ts": f"{1700000000 + n}.000100", "version": version, "is_parent": n < 5000,
                 "note": note | {"id": nid}, "deleted": False, "updated_at": now, "in_summary": False}
            )  # fmt: skip
            rows.append(
                {"subscription_id": sub.id, "note_id": nid, "version": version, "kind": "note",
                 "thread_id": f"t{n % 5000}", "payload": note | {"id": nid}, "status": "done",
                 "created_at": now, "attempts": 0, "done_at": now}
            )  # fmt: skip
        async with bot.store._engine.begin() as conn:  # bulk load for the benchmark only
            await conn.execute(note_messages.insert(), messages)
            await conn.execute(outbox.insert(), rows)


async def run(args: argparse.Namespace) -> JSON:
    me = os.getpid()
    rc_proc, slack_proc = start_rc(big_seed(args.subscriptions)), start_slack()
    rc, slack = RcControl(rc_proc.url), SlackControl(slack_proc.url)
    try:
        rc.config(rateLimits={"Medium": {"limit": 1_000_000, "window": 60, "penalty": 60}})
        channels = [slack.create_channel(f"bench-foot-{i}") for i in range(20)]
        rss_start = rss_kib(me)
        with tempfile.TemporaryDirectory(prefix="bench-foot-") as tmp:
            bot = await Notifying.open(rc, slack, f"sqlite:///{Path(tmp) / 'foot.db'}", channel_interval=0.05)
            ana = rc.handler("Ana Alvarez")
            try:
                team, creator = slack.ws["team_id"], slack.ws["users"]["alice"]
                for i, rid in enumerate(extra_resources(args.subscriptions)):
                    await bot.subscribe(team, channels[i % len(channels)], rid, creator)
                await fill(bot, team, channels, args.delivered)
                await bot.notifier.run_once()
                rss_loaded = rss_kib(me)
                samples: list[JSON] = []
                polls = int(args.soak_minutes * 60 / POLL_INTERVAL)
                deadline = time.monotonic() + 600
                for n in range(polls):
                    if time.monotonic() > deadline:
                        break
                    bot.clock.advance(POLL_INTERVAL)
                    rc.advance(POLL_INTERVAL)
                    if n % 4 == 3:
                        body = {"threadId": thread_of(n % args.subscriptions), "text": f"soak {n}"}
                        response = ana.post(f"{MT}/notes", json=body)
                        if response.status_code == 401:  # her hour-long token expired on the moved clock
                            ana.close()
                            ana = rc.handler("Ana Alvarez")
                            response = ana.post(f"{MT}/notes", json=body)
                        response.raise_for_status()
                    cpu, wall = cpu_seconds(me), time.perf_counter()
                    await bot.notifier.run_once(send_seconds=1.0)
                    samples.append(
                        {"poll": n, "cpu_s": cpu_seconds(me) - cpu, "wall_s": time.perf_counter() - wall,
                         "rss_kib": rss_kib(me)}
                    )  # fmt: skip
                posted = len(slack.calls("chat.postMessage"))
            finally:
                ana.close()
                await bot.close()
    finally:
        rc.close()
        slack.close()
        rc_proc.stop()
        slack_proc.stop()
    tenth = max(1, len(samples) // 10)
    early, late = samples[:tenth], samples[-tenth:]
    per_poll_cpu: list[float] = [s["cpu_s"] for s in samples]
    figures: JSON = {
        "subscriptions": args.subscriptions,
        "delivered_in_store": args.delivered,
        "soak_simulated_minutes": len(samples) * POLL_INTERVAL / 60,
        "polls": len(samples),
        "notes_posted_during_soak": posted,
        "rss_mib": {
            "before_bot": rss_start / 1024,
            "loaded": rss_loaded / 1024,
            "after_first_tenth": max(s["rss_kib"] for s in early) / 1024,
            "end": samples[-1]["rss_kib"] / 1024 if samples else None,
        },
        "rss_growth_mib_over_soak": (samples[-1]["rss_kib"] - max(s["rss_kib"] for s in early)) / 1024
        if samples
        else None,
        "cpu_per_poll_s": {
            "median": percentile(per_poll_cpu, 50),
            "p99": percentile(per_poll_cpu, 99),
            "first_tenth_median": percentile([s["cpu_s"] for s in early], 50),
            "last_tenth_median": percentile([s["cpu_s"] for s in late], 50),
        },
        "wall_per_poll_s_median": percentile([s["wall_s"] for s in samples], 50),
        "samples": samples,
    }
    r, c = figures["rss_mib"], figures["cpu_per_poll_s"]
    table(
        f"Footprint: {args.subscriptions} subscriptions, {args.delivered:,} delivered notes, "
        f"{figures['soak_simulated_minutes']:.0f} simulated minutes ({len(samples)} polls)",
        ["measure", "value"],
        [
            ("RSS before the bot (script + libraries)", f"{r['before_bot']:.0f} MiB"),
            ("RSS loaded (after filling and the first poll)", f"{r['loaded']:.0f} MiB"),
            ("RSS after the first tenth of the soak", f"{r['after_first_tenth']:.0f} MiB"),
            ("RSS at the end", f"{r['end']:.0f} MiB"),
            ("RSS growth over the soak", f"{figures['rss_growth_mib_over_soak']:+.1f} MiB"),
            ("CPU per poll, median (p99)", f"{c['median'] * 1000:.0f} ms ({c['p99'] * 1000:.0f} ms)"),
            ("CPU per poll, first / last tenth", f"{c['first_tenth_median'] * 1000:.0f} / "
             f"{c['last_tenth_median'] * 1000:.0f} ms"),
            ("wall time per poll, median", f"{figures['wall_per_poll_s_median'] * 1000:.0f} ms"),
            ("notes posted during the soak", posted),
        ],
    )  # fmt: skip
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--delivered", type=int, default=100_000)
    parser.add_argument("--soak-minutes", type=float, default=60.0)
    args = parser.parse_args(argv)
    quiet()
    load, started = os.getloadavg(), time.monotonic()
    figures = asyncio.run(run(args))
    write_result("footprint", figures, started=started, load_before=load)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
