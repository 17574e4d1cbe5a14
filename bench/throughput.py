"""Figure 3 — delivery throughput: a burst of 5,000 notes over 100 resources into 20 channels, the old sender
and the new side by side.

    .venv/bin/python -m bench.throughput [--notes 5000] [--scale 1,4,4:300] [--repeat 1]
                                         [--baseline REF] [--designs old,new]

The bot's notifier (`poll()`, then the send job `serve` schedules once a second: `serve_channels`; the old
design's `send()`) runs in a child process per run, one per design: `new` is this tree, `old` the sender
before issue 15 (`--baseline`, default `35fd251`, checked out in a temporary git worktree, see
`_baseline.py`), run one after the other in one go so that the load of the
shared machine is the same for both (the load average is recorded with each run). The RingCentral emulator and
the Slack stand-in run in their own processes, always from this tree. The stand-in enforces Slack's limits
(the `slack` preset: `chat.postMessage` 1 per second per channel, the tiers per method), all multiplied by
`--scale` so the run is short; the bot's per-channel pacing is scaled the same way (`channel_interval = 1 /
scale`). So the bound is `20 channels * scale` messages per second. A setting `S:N` (`--scale 4:300`) adds
Slack's workspace-wide `chat.postMessage` limit to the stand-in for the burst, N messages a minute times the
scale; the bound is then the smaller of the two.

Before the burst each of the 500 threads (5 per resource) gets one note, delivered, so the burst's notes are
replies in known Slack threads. Then a handler writes the burst (round robin over the threads), and the clock
starts: one poll queues it, the sender drains it. Reported: delivered per second as a fraction of the bound
(from before the poll, and from its end: the sender alone), duplicates and losses (from the stand-in's
channels, by each message's metadata), and 429 answers.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench._baseline import designs
from bench._kit import (
    JSON,
    MT,
    Notifying,
    RcControl,
    SlackControl,
    big_seed,
    extra_resources,
    percentile,
    quiet,
    spread,
    start_rc,
    start_slack,
    table,
    thread_of,
    write_result,
)

RESOURCES = 100
THREADS = 5
CHANNELS = 20


def write_notes(
    rc: RcControl, threads: list[str], count: int, label: str, created: dict[str, float] | None = None
) -> list[str]:
    """`count` notes round robin over `threads`, written by Ana through the API (8 at a time); `created`
    gets each note's moment (wall clock), when its creation returned."""
    first = rc.handler("Ana Alvarez")  # one sign-in (the Auth group allows 5 a minute), 8 connections
    clients = [first] + [httpx.Client(base_url=rc.url, timeout=30, headers=first.headers) for _ in range(7)]
    try:

        def one(i: int) -> str:
            http = clients[i % len(clients)]
            response = http.post(
                f"{MT}/notes", json={"threadId": threads[i % len(threads)], "text": f"{label} {i}"}
            )
            response.raise_for_status()
            note = str(response.json()["id"])
            if created is not None:
                created[note] = time.time()
            return note

        with ThreadPoolExecutor(len(clients)) as pool:
            return list(pool.map(one, range(count)))
    finally:
        for c in clients:
            c.close()


def note_ids_in(slack: SlackControl, channels: list[str]) -> list[str]:
    found = []
    for channel in channels:
        for message in slack.messages(channel):
            for m in [message, *(message.get("replies") or [])]:
                payload = (m.get("metadata") or {}).get("event_payload") or {}
                if payload.get("note_id"):
                    found.append(str(payload["note_id"]))
    return found


async def drain(bot: Notifying, deadline: float) -> None:
    """Until the outbox is empty, the way `serve` sends: the send job once a second (a design with
    `serve_channels`: a task per channel), or `send` (the old design: a drain of up to 2 s at a time)."""
    serving, job_at = hasattr(bot.notifier, "serve_channels"), float("-inf")
    while time.monotonic() < deadline:
        if not serving:
            await bot.notifier.send(max_seconds=2.0)
        elif time.monotonic() - job_at >= 1.0:
            job_at = time.monotonic()
            await bot.notifier.serve_channels()
        else:
            await asyncio.sleep(0.2)  # the end is seen within 0.2 s, as a drain that ran out of rows shows it
        if not sum((await bot.store.outbox_depths()).values()):
            return


def slack_gaps(posts: list[JSON], window: int) -> JSON:
    """When the stand-in took each channel's posts: the gap between two posts in a row, and between a post
    and the one `window` posts before it (one second's worth: at x4 the 5th and the 1st), less one second.
    The second is what Slack's window costs at best; what is left is the sender's loss per window."""
    times: dict[str, list[float]] = {}
    for call in posts:
        times.setdefault(str(call["args"].get("channel")), []).append(float(call["time"]))
    gaps, over = [], []
    for moments in times.values():
        moments.sort()
        gaps += [b - a for a, b in itertools.pairwise(moments)]
        over += [b - a - 1.0 for a, b in zip(moments, moments[window:], strict=False)]
    summary = {}
    for name, values in (("gap", gaps), ("window_over_1s", over)):
        summary[name] = {q: percentile(values, q) for q in (10, 50, 90, 99)} if values else None
    return summary


async def one_run(args: argparse.Namespace, scale: float, workspace_posts: int, folder: Path) -> JSON:
    rc_proc, slack_proc = start_rc(big_seed(RESOURCES, threads_per_resource=THREADS)), start_slack()
    rc, slack = RcControl(rc_proc.url), SlackControl(slack_proc.url)
    bot: Notifying | None = None
    try:
        # Ana writes 5,000 notes, and the warm-up's 500 new threads are looked up one request each (see
        # BENCHMARKS.md, figure 2): lift Medium so that setting up takes seconds, not 12 minutes. The burst's
        # own poll is one request whatever the limit.
        rc.config(rateLimits={"Medium": {"limit": 1_000_000, "window": 60, "penalty": 60}})
        channels = [slack.create_channel(f"bench-burst-{i}") for i in range(CHANNELS)]
        bot = await Notifying.open(
            rc, slack, f"sqlite:///{folder / 'burst.db'}", channel_interval=1.0 / scale
        )
        creator = slack.ws["users"]["alice"]
        for i, rid in enumerate(extra_resources(RESOURCES)):
            await bot.subscribe(slack.ws["team_id"], channels[i % CHANNELS], rid, creator)
        await bot.notifier.run_once()
        slack.rate_limits(preset="slack", scale=scale)
        threads = [thread_of(i, t) for i in range(RESOURCES) for t in range(THREADS)]
        write_notes(rc, threads, len(threads), "opening")
        await bot.notifier.poll()
        await drain(bot, time.monotonic() + 120)
        slack.http.delete("/calls").raise_for_status()

        burst = write_notes(rc, threads, args.notes, "burst")
        bound = CHANNELS * scale
        if workspace_posts:
            slack.rate_limits(preset="slack", scale=scale, workspace_posts=workspace_posts)
            bound = min(bound, workspace_posts * scale / 60)
        load = os.getloadavg()[0]
        rc.reset_requests()
        started = time.monotonic()
        await bot.notifier.poll()
        queued = time.monotonic() - started
        await drain(bot, started + 3 * args.notes / bound + 60)
        elapsed = time.monotonic() - started
        calls = slack.calls("chat.postMessage")
        ok = [c for c in calls if c.get("ok")]
        limited = sum(1 for c in calls if c.get("status") == 429)
        seen = Counter(note_ids_in(slack, channels))
        wanted = set(burst)
        duplicates = sum(n - 1 for note, n in seen.items() if note in wanted and n > 1)
        lost = len(wanted - set(seen))
        rate = len(ok) / elapsed
        return {
            "slack_gaps": slack_gaps(ok, window=max(1, round(scale))),
            "notes": args.notes,
            "scale": scale,
            "workspace_posts": workspace_posts,
            "workspace_posts_per_min": workspace_posts * scale or None,
            "bound_per_s": bound,
            "seconds": elapsed,
            "ideal_seconds": args.notes / bound,
            "poll_seconds": queued,
            "rc_requests": rc.api_requests(),
            "posted": len(ok),
            "per_s": rate,
            "fraction_of_bound": rate / bound,
            "sender_fraction_of_bound": len(ok) / (elapsed - queued) / bound,
            "duplicates": duplicates,
            "lost": lost,
            "http_429": limited,
            "loadavg_1m": load,
        }
    finally:
        if bot is not None:
            await bot.close()
        rc.close()
        slack.close()
        rc_proc.stop()
        slack_proc.stop()


def run_design(args: argparse.Namespace, root: Path, scale: float, workspace_posts: int) -> JSON:
    """One run in a child process started in `root` (so it imports that design's bot)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        child = [sys.executable, "-m", "bench.throughput", "--one", "--notes", str(args.notes), "--scale",
                 f"{scale:g}", "--workspace-posts", str(workspace_posts), "--out", out.name]  # fmt: skip
        subprocess.run(child, cwd=root, check=True, timeout=3600)
        result: JSON = json.loads(Path(out.name).read_text())
    return result


def settings(text: str) -> list[tuple[float, int]]:
    """`1,4,4:300` → [(1, 0), (4, 0), (4, 300)]: the scale, and a workspace-wide limit a minute (0: none)."""
    out = []
    for item in text.split(","):
        scale, _, posts = item.partition(":")
        out.append((float(scale), int(posts or 0)))
    return out


def run(args: argparse.Namespace) -> JSON:
    chosen_settings = settings(args.scale)
    wanted = args.designs.split(",")
    runs: list[JSON] = []
    with designs(args.baseline) as pair:
        chosen = [d for d in pair if d.name in wanted]
        for i in range(args.repeat):  # the designs side by side in each repeat, for each setting
            for scale, posts in chosen_settings:
                for design in chosen:
                    r = run_design(args, design.root, scale, posts)
                    runs.append(r | {"design": design.name, "commit": design.commit, "repeat": i + 1})
                    print(
                        f"  {design.name} ({design.commit}) x{scale:g} workspace {posts or '-'}/min, run "
                        f"{i + 1}: {r['fraction_of_bound']:.1%} of the bound, {r['http_429']} x 429 "
                        f"(load {r['loadavg_1m']:.2f})",
                        flush=True,
                    )
    table(
        f"Burst of {args.notes} notes, {RESOURCES} resources, {CHANNELS} channels — "
        "target: >= 95 % of the bound, no duplicates, no losses, no 429 storm",
        ["design", "limits x", "workspace/min", "delivered/s", "bound/s", "of bound", "sender alone",
         "seconds (ideal)", "poll s", "duplicates", "lost", "429s", "load"],
        [
            (f"{r['design']} {r['commit']}", f"{r['scale']:g}", r["workspace_posts_per_min"] or "-",
             r["per_s"], r["bound_per_s"], f"{r['fraction_of_bound']:.1%}",
             f"{r['sender_fraction_of_bound']:.1%}", f"{r['seconds']:.1f} ({r['ideal_seconds']:.1f})",
             r["poll_seconds"], r["duplicates"], r["lost"], r["http_429"], r["loadavg_1m"])
            for r in runs
        ],
    )  # fmt: skip
    by_setting: dict[str, JSON] = {}
    for scale, posts in chosen_settings:
        key = f"x{scale:g}" + (f" workspace {posts}/min" if posts else "")
        same = [r for r in runs if r["scale"] == scale and r["workspace_posts"] == posts]
        by_setting[key] = {
            d: spread([r["fraction_of_bound"] for r in same if r["design"] == d]) for d in wanted
        }
        if {"old", "new"} <= set(wanted):
            by_setting[key]["new_over_old"] = [
                n["fraction_of_bound"] / o["fraction_of_bound"]
                for o, n in zip(
                    [r for r in same if r["design"] == "old"],
                    [r for r in same if r["design"] == "new"],
                    strict=True,
                )
            ]
    return {
        "runs": runs,
        "fraction_of_bound": by_setting,
        "target": ">= 95 % of the bound at x1 and x4 (and under the workspace-wide limit), no duplicates, "
        "no losses, no 429 storm",
    }


async def one(args: argparse.Namespace) -> JSON:
    """The child: one run of the design this process imports."""
    with tempfile.TemporaryDirectory(prefix="bench-burst-") as tmp:
        return await one_run(args, float(args.scale), int(args.workspace_posts), Path(tmp))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--notes", type=int, default=5000)
    parser.add_argument(
        "--scale",
        default="4",
        help="Slack's limits and the bot's pacing, times; `S:N` adds a workspace-wide limit of N messages a "
        "minute (times S). A list: 1,4,4:300",
    )
    parser.add_argument("--workspace-posts", default="0", help=argparse.SUPPRESS)  # the child's
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--baseline", default=None, help="the old design's commit (default: the sender before issue 15)"
    )
    parser.add_argument("--designs", default="old,new", help="which designs to run (old, new or both)")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quiet()
    if args.one:  # the child: its figures go to `--out`
        Path(args.out).write_text(json.dumps(asyncio.run(one(args))))
        return 0
    load, started = os.getloadavg(), time.monotonic()
    figures = run(args)
    write_result("throughput", figures, started=started, load_before=load)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
