"""Figure 4 — latency from a note in RingCentral to its message in Slack.

    .venv/bin/python -m bench.note_latency [--modes poll30,poll2,webhook] [--notes 10]

For each mode a fresh stack: the RingCentral emulator and the Slack stand-in (own processes) and
`thread-note-bot serve` (own process, HTTP mode, SQLite):

- `poll30`: polling only, at the default THREAD_NOTE_POLL_INTERVAL of 30 s (no THREAD_NOTE_PUBLIC_URL);
- `poll2`: polling only, every 2 s;
- `webhook`: THREAD_NOTE_PUBLIC_URL set, so the bot subscribes to RingCentral's push; each event is a
  "poll now" hint; the timer stays at 30 s as the safety net.

Alice (a Slack admin) subscribes `#handoffs` to the Support queue with `/thread-note subscribe Support`. Ana
then writes `--notes` notes through the RingCentral API at random moments (gaps drawn uniformly, at least
1.2 s apart so Slack's per-channel pacing adds nothing). Latency = the stand-in's time of the
`chat.postMessage` carrying the note (by its metadata) minus the time the note's creation returned.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

from bench._kit import (
    DEMO_SEED,
    JSON,
    MT,
    RcControl,
    SlackControl,
    percentile,
    quiet,
    start_bot,
    start_rc,
    start_slack,
    table,
    write_result,
)
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


def one_mode(name: str, notes: int, rng: random.Random) -> JSON:
    interval, webhook, (low, high) = MODES[name]
    rc_proc, slack_proc = start_rc(str(DEMO_SEED)), start_slack()
    rc, slack = RcControl(rc_proc.url), SlackControl(slack_proc.url)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
            bot = start_bot(rc, slack, Path(tmp), poll_interval=interval, webhook=webhook)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--modes", default="poll30,poll2,webhook")
    parser.add_argument("--notes", type=int, default=10, help="notes per mode")
    parser.add_argument("--seed", type=int, default=7, help="random seed for the moments notes are written")
    args = parser.parse_args(argv)
    quiet()
    load, started = os.getloadavg(), time.monotonic()
    rng = random.Random(args.seed)
    rows = []
    for mode in args.modes.split(","):
        rows.append(one_mode(mode, args.notes, rng))
        print(f"  {mode} measured (load {os.getloadavg()[0]:.2f})", flush=True)
    table(
        "Note in RingCentral → message in Slack",
        ["mode", "poll interval", "notes (delivered)", "median", "p99", "max"],
        [
            (r["mode"], f"{r['poll_interval_s']:g} s", f"{r['notes']} ({r['delivered']})",
             f"{r['median_s']:.2f} s", f"{r['p99_s']:.2f} s", f"{r['max_s']:.2f} s")
            for r in rows
        ],
    )  # fmt: skip
    write_result("note_latency", {"modes": rows}, started=started, load_before=load)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
