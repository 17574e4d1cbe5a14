"""Figure 5 — footprint: resident memory and CPU per poll with many subscriptions and a store full of
delivered notes, over a day compressed with the clocks; and the CPU of an idle poll, old code path against
new, side by side in one run.

    .venv/bin/python -m bench.footprint [--subscriptions 1000] [--delivered 100000] [--soak-hours 1]
        [--baseline REV] [--idle-polls 60] [--compare-sizes 1000,10000] [--database-url URL]
    # the target: --subscriptions 10000 --delivered 1000000 --soak-hours 24

**Idle polls, side by side.** For each code path (the tree at `--baseline`, by default where this branch left
`main`, exported with `git archive`; and this tree) a child process runs the bot's notifier
(`Notifier.run_once()`, what `serve` schedules) against a fresh RingCentral emulator with `--subscriptions`
call queues, one subscription each (made through the store, as `/thread-note subscribe` makes them), in 20
channels; after the first poll, `--idle-polls` polls 30 s apart on both clocks, nothing new in RingCentral
(reconciliation comes due after 15 simulated minutes, 2 resources a poll, as in production). CPU is
`time.process_time()` of the child around each poll (all its threads, the SQLite driver's included).

**The compressed day.** This process runs the notifier (the stand-ins in their own processes): the
subscriptions as above, then the store filled with `--delivered` notes delivered over the last 30 days
(`bench/_fill.py`, in its own process: note messages, done outbox rows, Slack threads, cached threads). Then a
poll every 30 s for `--soak-hours`, compressed: both clocks move 30 s before each poll, a note is written
every 4th poll (posted as it would be), and the retention job runs when due (hourly on the bot's clock; its
CPU is reported apart from the polls'). RSS (VmRSS) and CPU are read around each poll. The emulator's Medium
limit is lifted because a compressed day would otherwise be paced by wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._kit import (
    JSON,
    MT,
    ROOT,
    Notifying,
    RcControl,
    SlackControl,
    big_seed,
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
CHANNELS = 20


class World:
    """The emulator (`resources` extra call queues) and the Slack stand-in, each in its own process."""

    def __init__(self, resources: int) -> None:
        self.rc_proc, self.slack_proc = start_rc(big_seed(resources)), start_slack()
        self.rc, self.slack = RcControl(self.rc_proc.url), SlackControl(self.slack_proc.url)
        self.rc.config(rateLimits={"Medium": {"limit": 1_000_000, "window": 60, "penalty": 60}})
        self.channels = [self.slack.create_channel(f"bench-foot-{i}") for i in range(CHANNELS)]

    def close(self) -> None:
        self.rc.close()
        self.slack.close()
        self.rc_proc.stop()
        self.slack_proc.stop()


async def subscribed(world: World, database_url: str, count: int) -> Notifying:
    from bench._kit import extra_resources

    bot = await Notifying.open(world.rc, world.slack, database_url, channel_interval=0.05)
    team, creator = world.slack.ws["team_id"], world.slack.ws["users"]["alice"]
    for i, rid in enumerate(extra_resources(count)):
        await bot.subscribe(team, world.channels[i % CHANNELS], rid, creator)
    return bot


async def timed_poll(bot: Notifying, **kw: Any) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one `run_once`."""
    cpu, wall = time.process_time(), time.perf_counter()
    await bot.notifier.run_once(**kw)
    return time.process_time() - cpu, time.perf_counter() - wall


# --- idle polls, old code path against new -----------------------------------------------------------------


async def idle(subscriptions: int, polls: int) -> JSON:
    """In a child process whose `bot` package is the code path measured."""
    import bot

    world = World(subscriptions)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-idle-") as tmp:
            notifying = await subscribed(world, f"sqlite:///{Path(tmp) / 'idle.db'}", subscriptions)
            try:
                await notifying.notifier.run_once()
                cpu, wall = [], []
                for _ in range(polls):
                    notifying.clock.advance(POLL_INTERVAL)
                    world.rc.advance(POLL_INTERVAL)
                    c, w = await timed_poll(notifying)
                    cpu.append(c)
                    wall.append(w)
            finally:
                await notifying.close()
    finally:
        world.close()
    return {"code": str(Path(bot.__file__).parent), "cpu_s": cpu, "wall_s": wall}


def export(rev: str, into: Path) -> str:
    """`bot/` as it is at `rev` (default: where this branch left main), unpacked under `into`; returns the
    commit."""
    git = ["git", "merge-base", "main", "HEAD"] if rev == "" else ["git", "rev-parse", rev]
    sha = subprocess.run(git, cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()[:12]
    archive = into / "bot.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "archive", sha, "bot"], cwd=ROOT, stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return sha


def idle_in_child(code_dir: Path | None, subscriptions: int, polls: int) -> JSON:
    """Run `idle` in a fresh interpreter whose `bot` is `code_dir/bot` (this tree's when None)."""
    path = f"sys.path.insert(0, {str(code_dir)!r}); " if code_dir is not None else ""
    script = (
        f"import sys, json, asyncio; {path}"
        "from bench._kit import quiet; quiet(); from bench.footprint import idle; "
        f"print(json.dumps(asyncio.run(idle({subscriptions}, {polls}))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True, timeout=1800
    )
    result: JSON = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def compare(args: argparse.Namespace) -> JSON:
    out: JSON = {"baseline": args.baseline, "polls": args.idle_polls, "runs": []}
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as tmp:
        out["baseline_commit"] = export(args.baseline, Path(tmp))
        for size in args.compare_sizes:
            for label, code in (("old", Path(tmp)), ("new", None)):
                load = os.getloadavg()
                got = idle_in_child(code, size, args.idle_polls)
                cpu, wall = got["cpu_s"], got["wall_s"]
                out["runs"].append(
                    {"code": label, "subscriptions": size, "loadavg": [round(x, 2) for x in load],
                     "cpu_ms_median": percentile(cpu, 50) * 1000, "cpu_ms_p90": percentile(cpu, 90) * 1000,
                     "cpu_ms_max": max(cpu) * 1000, "wall_ms_median": percentile(wall, 50) * 1000,
                     "cpu_s": cpu, "path": got["code"]}
                )  # fmt: skip
    table(
        f"Idle poll CPU, old ({out['baseline_commit']}) against new, {args.idle_polls} polls 30 s apart",
        ["subscriptions", "code", "CPU median", "CPU p90", "CPU max", "wall median", "load"],
        [
            (r["subscriptions"], r["code"], f"{r['cpu_ms_median']:.1f} ms", f"{r['cpu_ms_p90']:.1f} ms",
             f"{r['cpu_ms_max']:.1f} ms", f"{r['wall_ms_median']:.0f} ms", r["loadavg"][0])
            for r in out["runs"]
        ],
    )  # fmt: skip
    return out


# --- the compressed day ------------------------------------------------------------------------------------


async def table_sizes(notifying: Notifying) -> dict[str, int]:
    import sqlalchemy as sa

    from bot.store.schema import note_messages, outbox, rc_threads, slack_threads

    sizes = {}
    async with notifying.store._engine.connect() as conn:  # a count for the report, behind the store
        for t in (outbox, note_messages, slack_threads, rc_threads):
            sizes[t.name] = int((await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar_one())
    return sizes


async def soak(args: argparse.Namespace) -> JSON:
    me = os.getpid()
    rss_start = rss_kib(me)
    world = World(args.subscriptions)
    tmp = tempfile.TemporaryDirectory(prefix="bench-foot-")
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'foot.db'}"
    ana = world.rc.handler("Ana Alvarez")
    try:
        notifying = await subscribed(world, url, args.subscriptions)
        filler = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench._fill", url, str(args.delivered), "30",
            cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await filler.communicate()
        if filler.returncode:
            raise RuntimeError(f"bench._fill failed with exit status {filler.returncode}")
        try:
            await notifying.notifier.run_once()
            sizes_before = await table_sizes(notifying)
            rss_loaded = rss_kib(me)
            samples: list[JSON] = []
            prunes: list[JSON] = []
            polls = int(args.soak_hours * 3600 / POLL_INTERVAL)
            for n in range(polls):
                notifying.clock.advance(POLL_INTERVAL)
                world.rc.advance(POLL_INTERVAL)
                wrote = n % 4 == 3
                if wrote:
                    body = {"threadId": thread_of(n % args.subscriptions), "text": f"soak {n}"}
                    response = ana.post(f"{MT}/notes", json=body)
                    if response.status_code == 401:  # her hour-long token expired on the moved clock
                        ana.close()
                        ana = world.rc.handler("Ana Alvarez")
                        response = ana.post(f"{MT}/notes", json=body)
                    response.raise_for_status()
                cpu, wall = await timed_poll(notifying, send_seconds=1.0)
                samples.append(
                    {"poll": n, "cpu_s": cpu, "wall_s": wall, "rss_kib": rss_kib(me), "note": wrote}
                )
                if notifying.notifier.retention.due():
                    started = time.process_time()
                    pruned = await notifying.notifier.retention.run()
                    prunes.append({"poll": n, "cpu_s": time.process_time() - started, **pruned})
            posted = len(world.slack.calls("chat.postMessage"))
            sizes_after = await table_sizes(notifying)
        finally:
            await notifying.close()
    finally:
        ana.close()
        world.close()
        tmp.cleanup()
    return summarise(args, samples, prunes, rss_start, rss_loaded, posted, sizes_before, sizes_after) | {
        "fill_seconds": float(out.decode().strip() or 0)
    }


def summarise(
    args: argparse.Namespace,
    samples: list[JSON],
    prunes: list[JSON],
    rss_start: int,
    rss_loaded: int,
    posted: int,
    before: dict[str, int],
    after: dict[str, int],
) -> JSON:
    tenth = max(1, len(samples) // 10)
    early, late = samples[:tenth], samples[-tenth:]
    idle_cpu = [s["cpu_s"] for s in samples if not s["note"]]
    figures: JSON = {
        "subscriptions": args.subscriptions,
        "delivered_in_store": args.delivered,
        "soak_simulated_hours": len(samples) * POLL_INTERVAL / 3600,
        "polls": len(samples),
        "notes_posted_during_soak": posted,
        "rss_mib": {
            "before_bot": rss_start / 1024,
            "loaded": rss_loaded / 1024,
            "after_first_tenth": max(s["rss_kib"] for s in early) / 1024,
            "max": max(s["rss_kib"] for s in samples) / 1024,
            "end": samples[-1]["rss_kib"] / 1024,
        },
        "rss_growth_mib_over_soak": (samples[-1]["rss_kib"] - max(s["rss_kib"] for s in early)) / 1024,
        "cpu_per_poll_ms": {
            "idle_median": percentile(idle_cpu, 50) * 1000,
            "idle_p99": percentile(idle_cpu, 99) * 1000,
            "all_median": percentile([s["cpu_s"] for s in samples], 50) * 1000,
            "first_tenth_median": percentile([s["cpu_s"] for s in early], 50) * 1000,
            "last_tenth_median": percentile([s["cpu_s"] for s in late], 50) * 1000,
        },
        "wall_per_poll_ms_median": percentile([s["wall_s"] for s in samples], 50) * 1000,
        "table_rows_before": before,
        "table_rows_after": after,
        "retention_runs": prunes,
        "samples": samples,
    }
    r, c = figures["rss_mib"], figures["cpu_per_poll_ms"]
    first = prunes[0] if prunes else {}
    table(
        f"Footprint: {args.subscriptions:,} subscriptions, {args.delivered:,} delivered notes, "
        f"{figures['soak_simulated_hours']:.1f} simulated hours ({len(samples)} polls)",
        ["measure", "value"],
        [
            ("RSS before the bot (script + libraries)", f"{r['before_bot']:.0f} MiB"),
            ("RSS loaded (subscribed, store filled, first poll)", f"{r['loaded']:.0f} MiB"),
            ("RSS after the first tenth / max / end", f"{r['after_first_tenth']:.0f} / {r['max']:.0f} / "
             f"{r['end']:.0f} MiB"),
            ("RSS growth over the soak", f"{figures['rss_growth_mib_over_soak']:+.1f} MiB"),
            ("CPU per idle poll, median (p99)", f"{c['idle_median']:.1f} ms ({c['idle_p99']:.1f} ms)"),
            ("CPU per poll, first / last tenth (median)", f"{c['first_tenth_median']:.1f} / "
             f"{c['last_tenth_median']:.1f} ms"),
            ("wall time per poll, median", f"{figures['wall_per_poll_ms_median']:.0f} ms"),
            ("notes posted during the soak", posted),
            ("retention runs; rows pruned in all", f"{len(prunes)}; "
             f"{sum(sum(v for k, v in p.items() if k not in ('poll', 'cpu_s')) for p in prunes):,}"),
            ("first retention run: CPU", f"{first.get('cpu_s', 0):.2f} s"),
            ("rows before → after (outbox, note_messages, slack_threads, rc_threads)",
             " ; ".join(f"{before[t]:,} → {after[t]:,}" for t in before)),
        ],
    )  # fmt: skip
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--delivered", type=int, default=100_000)
    parser.add_argument("--soak-hours", type=float, default=1.0)
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temporary folder")
    parser.add_argument(
        "--baseline", default="", help="the old code path, a git revision (default: where HEAD left main)"
    )
    parser.add_argument("--no-compare", action="store_true", help="skip the old-against-new idle polls")
    parser.add_argument("--idle-polls", type=int, default=60)
    parser.add_argument(
        "--compare-sizes", type=lambda v: [int(x) for x in v.split(",")], default=None,
        help="subscription counts for the side by side (default: --subscriptions)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    args.compare_sizes = args.compare_sizes or [args.subscriptions]
    quiet()
    load, started = os.getloadavg(), time.monotonic()
    figures: JSON = {}
    if not args.no_compare:
        figures["idle_side_by_side"] = compare(args)
    if args.soak_hours > 0:
        figures["soak"] = asyncio.run(soak(args))
    name = "footprint" if args.subscriptions == 1000 else f"footprint-{args.subscriptions}"
    write_result(name, figures, started=started, load_before=load)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
