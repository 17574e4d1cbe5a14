"""Figure 4 — latency from a note in RingCentral to its message in Slack, old and new sender side by side.

    .venv/bin/python -m bench.note_latency [--modes webhook,burst] [--notes 10] [--burst 2000]
                                           [--baseline REF] [--designs old,new]

For each mode and each design a fresh stack: the RingCentral emulator and the Slack stand-in (own processes,
always this tree's) and `thread-note-bot serve` (own process, HTTP mode, SQLite), of this tree (`new`) or of
the sender before issue 15 (`old`, `35fd251` unless `--baseline`, a temporary git worktree, see
`_baseline.py`), one after the
other in one go:

- `poll30`: polling only, at the default THREAD_NOTE_POLL_INTERVAL of 30 s (no THREAD_NOTE_PUBLIC_URL);
- `poll2`: polling only, every 2 s;
- `webhook`: THREAD_NOTE_PUBLIC_URL set, so the bot subscribes to RingCentral's push; each event is a
  "poll now" hint; the timer stays at 30 s as the safety net.

Alice (a Slack admin) subscribes `#handoffs` to the Support queue with `/thread-note subscribe Support`. Ana
then writes `--notes` notes through the RingCentral API at random moments (gaps drawn uniformly, at least
1.2 s apart so Slack's per-channel pacing adds nothing). Latency = the stand-in's time of the
`chat.postMessage` carrying the note (by its metadata) minus the time the note's creation returned.

- `burst`: at scale, with webhooks: 1,000 call queues (one open thread each) subscribed into 100 channels
  (10 each, written straight into the bot's store before it starts), the stand-in enforcing Slack's limits
  (`slack` preset, real rate). Each thread first gets one note (delivered), then Ana writes `--burst` notes
  round robin over the threads (8 at a time), so each channel gets 20. Most of a note's latency is then
  its own channel's pacing (the 20th note of a channel cannot be posted before 19 s have passed), so the
  figure is the latency *after the pacing is taken out*: the arrival minus the moment a sender that costs
  nothing would post the note, keeping its channel at one message a second (`ideal = max(created, ideal of
  the channel's previous note + 1 s)`, the channel's notes in the order they were written). RingCentral's
  Medium limit is lifted (setting up looks up 1,000 new threads, one request each: figure 2).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._baseline import Design, designs
from bench._kit import (
    DEMO_SEED,
    JSON,
    MT,
    Notifying,
    RcControl,
    SlackControl,
    big_seed,
    extra_resources,
    percentile,
    quiet,
    start_bot,
    start_rc,
    start_slack,
    table,
    thread_of,
    write_result,
)
from bench.throughput import write_notes
from bot.sandbox.slack.requests import SlackActor

THREADS = ("3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c01", "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c02")  # Support
MODES: dict[str, tuple[float, bool, tuple[float, float]]] = {
    # name: (poll interval, webhook, gap between notes (s))
    "poll30": (30.0, False, (2.0, 8.0)),
    "poll2": (2.0, False, (1.2, 3.0)),
    "webhook": (30.0, True, (1.2, 3.0)),
}


def posted_at(slack: SlackControl) -> dict[str, float]:
    """note id → when the stand-in received the chat.postMessage that shows it (first one)."""
    out: dict[str, float] = {}
    for call in slack.calls("chat.postMessage"):
        meta = call["args"].get("metadata")
        if isinstance(meta, str):
            meta = json.loads(meta)
        note_id = ((meta or {}).get("event_payload") or {}).get("note_id")
        if note_id and call.get("ok") and note_id not in out:
            out[str(note_id)] = float(call["time"])
    return out


def one_mode(name: str, notes: int, rng: random.Random, code: Path) -> JSON:
    interval, webhook, (low, high) = MODES[name]
    rc_proc, slack_proc = start_rc(str(DEMO_SEED)), start_slack()
    rc, slack = RcControl(rc_proc.url), SlackControl(slack_proc.url)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
            bot = start_bot(rc, slack, Path(tmp), poll_interval=interval, webhook=webhook, code=code)
            actor = SlackActor(slack.url, app_url=bot.url, timeout=30)
            ana = rc.handler("Ana Alvarez")
            try:
                said = actor.answers(actor.command("subscribe Support", user="alice", channel="handoffs"), 1)
                assert "now receives" in json.dumps(said), said
                time.sleep(1.0)  # the subscription starts from RingCentral's "now"
                created: dict[str, float] = {}
                deadline = time.monotonic() + 300
                for i in range(notes):
                    if time.monotonic() > deadline:
                        break
                    time.sleep(rng.uniform(low, high))
                    body = {"threadId": THREADS[i % 2], "text": f"latency probe {i}"}
                    response = ana.post(f"{MT}/notes", json=body)
                    response.raise_for_status()
                    created[str(response.json()["id"])] = time.time()
                wait_until = time.monotonic() + interval + 15
                seen = posted_at(slack)
                while time.monotonic() < wait_until and not set(created) <= set(seen):
                    time.sleep(0.25)
                    seen = posted_at(slack)
            finally:
                ana.close()
                actor.close()
                bot.stop()
    finally:
        rc.close()
        slack.close()
        rc_proc.stop()
        slack_proc.stop()
    latencies = [seen[n] - t for n, t in created.items() if n in seen]
    return {
        "mode": name,
        "poll_interval_s": interval,
        "webhook": webhook,
        "notes": len(created),
        "delivered": len(latencies),
        "median_s": percentile(latencies, 50),
        "p99_s": percentile(latencies, 99),
        "max_s": max(latencies, default=float("nan")),
        "latencies_s": [round(x, 3) for x in latencies],
    }


BURST_RESOURCES = 1000
BURST_CHANNELS = 100
PACE = 1.0  # Slack's one message a second per channel


async def subscribe_all(rc: RcControl, slack: SlackControl, folder: Path, channels: list[str]) -> None:
    """1,000 subscriptions written into the store the bot will open (as `/thread-note subscribe` would)."""
    bot = await Notifying.open(rc, slack, f"sqlite:///{folder / 'bot.db'}")
    try:
        creator = slack.ws["users"]["alice"]
        for i, rid in enumerate(extra_resources(BURST_RESOURCES)):
            await bot.subscribe(slack.ws["team_id"], channels[i % BURST_CHANNELS], rid, creator)
    finally:
        await bot.close()


def wait_for(slack: SlackControl, wanted: set[str], seconds: float) -> dict[str, float]:
    """The stand-in's time of each post (so how often it is asked changes no figure), asked every 2 s: each
    answer lists every post so far (megabytes in a burst), which the stand-in also has to serve the bot."""
    deadline = time.monotonic() + seconds
    seen = posted_at(slack)
    while time.monotonic() < deadline and not wanted <= set(seen):
        time.sleep(2.0)
        seen = posted_at(slack)
    return seen


def beyond_pacing(
    created: dict[str, float], channel_of: dict[str, int], seen: dict[str, float]
) -> list[float]:
    """Each delivered note's arrival minus the moment a sender that costs nothing would post it, pacing
    its channel at one message a second (its notes in the order they were written)."""
    ideal: dict[str, float] = {}
    last: dict[int, float] = {}
    for note, at in sorted(created.items(), key=lambda item: item[1]):
        ch = channel_of[note]
        ideal[note] = max(at, last.get(ch, float("-inf")) + PACE)
        last[ch] = ideal[note]
    return [seen[n] - ideal[n] for n in created if n in seen]


def burst_mode(count: int, code: Path) -> JSON:
    rc_proc, slack_proc = start_rc(big_seed(BURST_RESOURCES)), start_slack()
    rc, slack = RcControl(rc_proc.url), SlackControl(slack_proc.url)
    rc.config(rateLimits={"Medium": {"limit": 1_000_000, "window": 60, "penalty": 60}})
    threads = [thread_of(i) for i in range(BURST_RESOURCES)]
    try:
        with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
            channels = [slack.create_channel(f"bench-latency-{i}") for i in range(BURST_CHANNELS)]
            # Written by the design's own code (a child started in `code`): its store is at its own schema
            # revision, which an older bot needs to start at all.
            subscribe = [sys.executable, "-m", "bench.note_latency", "--subscribe-into", tmp, "--rc", rc.url,
                         "--slack", slack.url, "--channels", ",".join(channels)]  # fmt: skip
            subprocess.run(subscribe, cwd=code, check=True, timeout=900)
            slack.rate_limits(preset="slack", scale=1)
            bot = start_bot(rc, slack, Path(tmp), webhook=True, code=code)
            try:
                time.sleep(3.0)  # the webhook subscription is made a second after start
                opening = write_notes(rc, threads, len(threads), "opening")
                warm = wait_for(slack, set(opening), 300)
                time.sleep(2.0)
                load = os.getloadavg()[0]
                started = time.time()
                created: dict[str, float] = {}
                burst = write_notes(rc, threads, count, "burst", created)
                written = time.time()
                seen = wait_for(slack, set(burst), 60 + 3 * count / BURST_CHANNELS)
            finally:
                bot.stop()
    finally:
        rc.close()
        slack.close()
        rc_proc.stop()
        slack_proc.stop()
    channel_of = {note: (i % BURST_RESOURCES) % BURST_CHANNELS for i, note in enumerate(burst)}
    excess = beyond_pacing(created, channel_of, seen)
    latencies = [seen[n] - t for n, t in created.items() if n in seen]
    return {
        "mode": "burst",
        "poll_interval_s": 30.0,
        "webhook": True,
        "notes": len(created),
        "delivered": len(latencies),
        "opening_delivered": len(set(opening) & set(warm)),
        "write_seconds": written - started,
        "median_s": percentile(latencies, 50),
        "p99_s": percentile(latencies, 99),
        "max_s": max(latencies, default=float("nan")),
        "beyond_pacing_median_s": percentile(excess, 50),
        "beyond_pacing_p99_s": percentile(excess, 99),
        "beyond_pacing_max_s": max(excess, default=float("nan")),
        "loadavg_1m": load,
    }


def run_design(mode: str, args: argparse.Namespace, rng: random.Random, design: Design) -> JSON:
    row = (
        burst_mode(args.burst, design.root)
        if mode == "burst"
        else one_mode(mode, args.notes, rng, design.root)
    )
    return row | {"design": design.name, "commit": design.commit}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--modes", default="webhook,burst", help="poll30, poll2, webhook, burst (a list)")
    parser.add_argument("--notes", type=int, default=10, help="notes per mode (not burst)")
    parser.add_argument("--burst", type=int, default=2000, help="notes in the burst")
    parser.add_argument("--seed", type=int, default=7, help="random seed for the moments notes are written")
    parser.add_argument(
        "--baseline", default=None, help="the old design's commit (default: the sender before issue 15)"
    )
    parser.add_argument("--designs", default="old,new", help="which designs to run (old, new or both)")
    for hidden in ("--subscribe-into", "--rc", "--slack", "--channels"):  # the burst's child (see burst_mode)
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.subscribe_into:
        channels = args.channels.split(",")
        asyncio.run(
            subscribe_all(RcControl(args.rc), SlackControl(args.slack), Path(args.subscribe_into), channels)
        )
        return 0
    quiet()
    load, started = os.getloadavg(), time.monotonic()
    rows = []
    with designs(args.baseline) as pair:
        chosen = [d for d in pair if d.name in args.designs.split(",")]
        for mode in args.modes.split(","):
            for design in chosen:
                rows.append(run_design(mode, args, random.Random(args.seed), design))
                print(f"  {mode} {design.name} measured (load {os.getloadavg()[0]:.2f})", flush=True)
    table(
        "Note in RingCentral → message in Slack",
        ["mode", "design", "poll interval", "notes (delivered)", "median", "p99", "max", "p99 beyond pacing"],
        [
            (r["mode"], f"{r['design']} {r['commit']}", f"{r['poll_interval_s']:g} s",
             f"{r['notes']} ({r['delivered']})", f"{r['median_s']:.2f} s", f"{r['p99_s']:.2f} s",
             f"{r['max_s']:.2f} s",
             f"{r['beyond_pacing_p99_s']:.2f} s" if "beyond_pacing_p99_s" in r else "-")
            for r in rows
        ],
    )  # fmt: skip
    write_result(
        "note_latency",
        {"modes": rows, "target": "burst: p99 < 1 s beyond the note's own channel pacing"},
        started=started,
        load_before=load,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
