"""The poll interval the bot really keeps: `THREAD_NOTE_POLL_INTERVAL=1` with 40 subscribed resources against
RingCentral's real Medium limit (40 requests a minute per user), steady and after a lost sync token.

    .venv/bin/python -m bench.poll_interval [--interval 1] [--resources 40] [--seconds 100]

A fresh world (`bench/_feedkit.py`), the emulator at RingCentral's real limits, and the bot's notifier here
*scheduled* as `serve` schedules it (`Notifier.start()`: the poll job every `--interval` seconds, the send
job, the rest), on the wall clock. Two phases of `--seconds` each: steady (nothing to reconcile), then right
after the sync token is lost (`POST /sandbox/sync/expire`: a full sync, then reconciliation of every
resource). The emulator's request log is read four times a second: each new `entries/sync` request is a
poll (one per poll when nothing is pending), so the gaps between polls are known to ±0.25 s.

Reported per phase: polls, the mean interval kept, the longest gap, the fewest and most polls in any 25 s
window, and RingCentral requests per minute (everything the emulator received: REST API and OAuth), against
the budget of 40 a minute. Reference: the interval the budget allows at the measured requests per poll
(60 s ÷ 40, times the requests per poll).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time

import httpx

from bench._feedkit import KINDS, REAL_MEDIUM, feed_world, measure, parser_for
from bench._kit import JSON, MEDIUM_PER_MINUTE, table

WINDOW = 25.0


async def watch(url: str, seconds: float) -> tuple[list[float], int]:
    """Times (s from the start) at which new entries/sync requests were seen, and all requests received."""
    times: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        await http.delete("/sandbox/requests")
        started, seen = time.monotonic(), 0
        while (now := time.monotonic() - started) < seconds:
            by_route = (await http.get("/sandbox/requests")).json()["byRoute"]
            syncs = by_route.get(KINDS["sync"], 0)
            times += [now] * (syncs - seen)
            seen = syncs
            await asyncio.sleep(0.25)
        total = sum((await http.get("/sandbox/requests")).json()["byRoute"].values())
    return times, total


def describe(name: str, times: list[float], total: int, seconds: float) -> JSON:
    gaps = [b - a for a, b in itertools.pairwise(times)]
    windows = [sum(1 for t in times if w <= t < w + WINDOW) for w in range(0, int(seconds - WINDOW) + 1, 5)]
    per_poll = total / max(1, len(times))
    return {
        "phase": name,
        "seconds": seconds,
        "polls": len(times),
        "mean_interval_s": seconds / max(1, len(times)),
        "longest_gap_s": max(gaps, default=seconds),
        "polls_per_25s_min": min(windows, default=0),
        "polls_per_25s_max": max(windows, default=0),
        "requests": total,
        "requests_per_minute": total * 60 / seconds,
        "requests_per_poll": per_poll,
        "budget_interval_s": 60 / MEDIUM_PER_MINUTE * per_poll,
        "poll_times_s": [round(t, 2) for t in times],
    }


async def run(args: argparse.Namespace) -> JSON:
    phases = []
    async with feed_world(args.resources, limits=REAL_MEDIUM, poll_interval=args.interval) as w:
        w.bot.notifier.start()
        try:
            times, total = await watch(w.rc.url, args.seconds)
            phases.append(describe("steady", times, total, args.seconds))
            w.rc.http.post("/sandbox/sync/expire").raise_for_status()
            times, total = await watch(w.rc.url, args.seconds)
            phases.append(describe("after a lost sync token", times, total, args.seconds))
        finally:
            await w.bot.notifier.stop()
    table(
        f"THREAD_NOTE_POLL_INTERVAL={args.interval:g} with {args.resources} resources, RingCentral's real "
        f"Medium limit ({MEDIUM_PER_MINUTE}/min)",
        [
            "phase",
            "polls",
            "mean interval",
            "longest gap",
            "polls per 25 s (min-max)",
            "requests/min",
            "requests/poll",
            "budget allows",
        ],
        [
            (
                p["phase"],
                p["polls"],
                f"{p['mean_interval_s']:.2f} s",
                f"{p['longest_gap_s']:.1f} s",
                f"{p['polls_per_25s_min']}-{p['polls_per_25s_max']}",
                f"{p['requests_per_minute']:.1f}",
                f"{p['requests_per_poll']:.2f}",
                f"{p['budget_interval_s']:.2f} s",
            )
            for p in phases
        ],
    )
    return {"interval_s": args.interval, "resources": args.resources, "phases": phases}


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__)
    parser.add_argument("--interval", type=float, default=1.0, help="THREAD_NOTE_POLL_INTERVAL (seconds)")
    parser.add_argument("--resources", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=100.0, help="length of each phase")
    return measure("poll_interval", run, parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
