"""Figure 2 — poll cost: RingCentral requests per poll for 1, 10, 100 and 1,000 subscribed resources.

    .venv/bin/python -m bench.poll_cost [--sizes 1,10,100,1000] [--changes 10] [--soak-minutes 60]

The bot's own notifier (`Notifier.run_once()`, the code `serve` schedules) runs in this process against the
RingCentral emulator (its own process, seeded with 1,000 extra call queues, one thread each with one old
note) and the Slack stand-in. Requests are counted where they land, as a proxy in front of RingCentral would
count them: every request the emulator received (`GET /sandbox/requests`: the REST API and OAuth's token
endpoint, the renewal of the access token included). Rows:

- first poll: the full sync right after subscribing (the old notes come back, none is posted);
- idle poll: nothing changed;
- changes, new threads: `--changes` notes, each in a thread the bot has not seen yet (a second thread of
  each of the first `--changes` resources, two hours old, which had no note so far);
- changes, known threads: `--changes` notes in those same threads again;
- steady idle: mean and max requests per idle poll over `--soak-minutes` (an hour) of polls every 30 s,
  compressed (the bot's clock and the emulator's are moved forward 30 s per poll), so the periodic
  reconciliation and the renewal of the access token (it lives an hour) are counted. Target: at most 2 on
  every poll, at most 1.1 on average over the hour.

Next to it, two naive designs as small reference functions over the same client (not in the bot): one
list request per resource per poll, and list requests batched 10 resources at a time (the API's limit on
`ownerExtensionIds`). The budget is RingCentral's Medium group, 40 requests per user per minute: at the
default 30 s interval that is 20 requests per poll, shared with everything else the service user does.
The emulator's Medium limit is raised for the run, so that the count of a design is not hidden by pacing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._feedkit import count
from bench._kit import (
    JSON,
    MEDIUM_PER_MINUTE,
    MT,
    Notifying,
    RcControl,
    SlackControl,
    big_seed,
    extra_resources,
    quiet,
    spread,
    start_rc,
    start_slack,
    table,
    thread_of,
    write_result,
)
from bot.ringcentral import RingCentralClient

POLL_INTERVAL = 30.0


# --- the two naive designs (reference only) ----------------------------------------------------------------


async def naive_per_resource(client: RingCentralClient, resources: list[str]) -> int:
    """One list request (and its pages) per subscribed resource: the obvious way."""
    notes = 0
    for rid in resources:
        async for _ in client.iter_notes(owner_extension_ids=[rid], per_page=1000):
            notes += 1
    return notes


async def naive_batched(client: RingCentralClient, resources: list[str], batch: int = 10) -> int:
    """List requests for 10 resources at a time (the most `ownerExtensionIds` takes)."""
    notes = 0
    for start in range(0, len(resources), batch):
        async for _ in client.iter_notes(owner_extension_ids=resources[start : start + batch], per_page=1000):
            notes += 1
    return notes


# --- measuring ---------------------------------------------------------------------------------------------


async def counted(rc: RcControl, work: Any, routes: JSON | None = None) -> int:
    """Requests `work` cost (and, into `routes`, by kind)."""
    rc.reset_requests()
    await work
    found = count(rc)
    if routes is not None:
        routes.update(found.to_json())
    return found.total


async def one_size(
    size: int, rc: RcControl, slack: SlackControl, channels: list[str], args: argparse.Namespace, folder: Path
) -> JSON:
    bot = await Notifying.open(
        rc, slack, f"sqlite:///{folder / f'poll-{size}.db'}", poll_interval=POLL_INTERVAL, channel_interval=0
    )
    ana = rc.handler("Ana Alvarez")
    try:
        resources = extra_resources(size)
        creator = slack.ws["users"]["alice"]
        for i, rid in enumerate(resources):
            await bot.subscribe(slack.ws["team_id"], channels[i % len(channels)], rid, creator)
        n = bot.notifier
        phase = time.perf_counter()
        first_routes: JSON = {}
        first = await counted(rc, n.run_once(), first_routes)
        first_s = time.perf_counter() - phase
        idle = await counted(rc, n.run_once())
        changed = resources[: min(args.changes, size)]

        def write_notes(label: str) -> None:
            for i in range(len(changed)):
                body = {"threadId": thread_of(i, 1), "text": f"{label} {i}"}
                ana.post(f"{MT}/notes", json=body).raise_for_status()

        write_notes("new thread")
        rc.reset_requests()
        started = time.perf_counter()
        await n.run_once()
        new_threads, new_threads_s = count(rc).total, time.perf_counter() - started
        write_notes("known thread")
        rc.reset_requests()
        started = time.perf_counter()
        await n.run_once()
        known_threads, known_threads_s = count(rc).total, time.perf_counter() - started

        # Steady state: idle polls every 30 s (compressed), reconciliation and token renewal included.
        per_poll: list[int] = []
        poll_seconds: list[float] = []
        for _ in range(int(args.soak_minutes * 60 / POLL_INTERVAL)):
            bot.clock.advance(POLL_INTERVAL)
            rc.advance(POLL_INTERVAL)
            rc.reset_requests()
            started = time.perf_counter()
            await n.run_once()
            poll_seconds.append(time.perf_counter() - started)
            per_poll.append(count(rc).total)

        soak_s = sum(poll_seconds)
        client = bot.clients.service()
        phase = time.perf_counter()
        per_resource = await counted(rc, naive_per_resource(client, resources))
        naive_s = time.perf_counter() - phase
        batched = await counted(rc, naive_batched(client, resources))
        print(f"    first poll {first_s:.1f} s, soak {soak_s:.1f} s, naive {naive_s:.1f} s", flush=True)
        return {
            "resources": size,
            "bot": {
                "first_poll": first,
                "first_poll_requests": first_routes,
                "first_poll_seconds": first_s,
                "idle_poll": idle,
                "changes_new_threads": new_threads,
                "changes_known_threads": known_threads,
                "changes": len(changed),
                "steady_idle_mean": sum(per_poll) / len(per_poll) if per_poll else 0.0,
                "steady_idle_max": max(per_poll, default=0),
                "steady_idle_polls": len(per_poll),
                "idle_poll_seconds": spread(poll_seconds) if poll_seconds else None,
                "changes_new_threads_seconds": new_threads_s,
                "changes_known_threads_seconds": known_threads_s,
            },
            "naive_per_resource": per_resource,
            "naive_batched_10": batched,
        }
    finally:
        ana.close()
        await bot.close()


async def run(args: argparse.Namespace) -> JSON:
    sizes = [int(s) for s in args.sizes.split(",")]
    seed = big_seed(max(sizes), threads_per_resource=2, notes_per_thread=1)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-poll-") as tmp:
        for size in sizes:  # a fresh emulator per size: every size starts from the same world
            rc_proc, slack_proc = start_rc(seed), start_slack()
            rc, slack = RcControl(rc_proc.url), SlackControl(slack_proc.url)
            try:
                # Counting, not pacing: lift Medium so no design's count is hidden by waiting (docstring).
                rc.config(rateLimits={"Medium": {"limit": 1_000_000, "window": 60, "penalty": 60}})
                channels = [slack.create_channel(f"bench-poll-{i}") for i in range(20)]
                rows.append(await one_size(size, rc, slack, channels, args, Path(tmp)))
                print(f"  {size} resources measured", flush=True)
            finally:
                rc.close()
                slack.close()
                rc_proc.stop()
                slack_proc.stop()
    budget = MEDIUM_PER_MINUTE * POLL_INTERVAL / 60
    table(
        "RingCentral requests per poll (bot) — target: at most 2 on every idle poll, at most 1.1 on average "
        "over the hour",
        [
            "resources",
            "first poll",
            "idle",
            "idle over the hour: mean/max",
            "changes in new threads",
            "changes in known threads",
        ],
        [
            (
                r["resources"],
                r["bot"]["first_poll"],
                r["bot"]["idle_poll"],
                f"{r['bot']['steady_idle_mean']:.2f} / {r['bot']['steady_idle_max']}",
                f"{r['bot']['changes_new_threads']} ({r['bot']['changes']} notes)",
                r["bot"]["changes_known_threads"],
            )
            for r in rows
        ],
    )
    table(
        f"Requests per poll, side by side (budget at a {POLL_INTERVAL:.0f} s interval: {budget:.0f} per poll "
        f"= {MEDIUM_PER_MINUTE}/min Medium); shortest interval each design can poll at within the budget",
        [
            "resources",
            "bot (idle)",
            "one per resource",
            "batched by 10",
            "bot interval",
            "per-resource interval",
            "batched interval",
        ],
        [
            (
                r["resources"],
                r["bot"]["idle_poll"],
                r["naive_per_resource"],
                r["naive_batched_10"],
                f"{_interval(r['bot']['steady_idle_mean']):.1f} s",
                f"{_interval(r['naive_per_resource']):.0f} s",
                f"{_interval(r['naive_batched_10']):.1f} s",
            )
            for r in rows
        ],
    )
    return {
        "poll_interval_s": POLL_INTERVAL,
        "budget_per_poll": budget,
        "budget_per_minute": MEDIUM_PER_MINUTE,
        "rows": rows,
        "target": "at most 2 requests on every idle poll, at most 1.1 on average over a simulated hour",
    }


def _interval(requests_per_poll: float) -> float:
    """Shortest poll interval (s) at which `requests_per_poll` stays within 40 requests a minute."""
    return requests_per_poll * 60 / MEDIUM_PER_MINUTE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1,10,100,1000", help="numbers of subscribed resources")
    parser.add_argument("--changes", type=int, default=10, help="notes written for the 'with changes' polls")
    parser.add_argument("--soak-minutes", type=float, default=60.0, help="compressed idle minutes per size")
    args = parser.parse_args(argv)
    quiet()
    load, started = os.getloadavg(), time.monotonic()
    figures = asyncio.run(run(args))
    write_result("poll_cost", figures, started=started, load_before=load)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
