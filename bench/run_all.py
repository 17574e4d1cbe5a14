"""Run every benchmark, one after the other (never two at once: they would measure each other).

    .venv/bin/python -m bench.run_all [--only ack_latency,poll_cost,...] [-- extra args are not passed]

Each benchmark runs in its own process with its default (short) settings, prints its table and writes
`bench/results/<name>.json`. The exit status is the number of benchmarks that failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench._kit import ROOT

BENCHMARKS = (
    "ack_latency",
    "poll_cost",
    "throughput",
    "note_latency",
    "footprint",
    "poll_interval",
    "recovery",
    "new_threads",
    "replay_guard",
    "retention",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated subset")
    args = parser.parse_args(argv)
    failed = []
    for name in args.only.split(","):
        if name not in BENCHMARKS:
            parser.error(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
        print(f"\n=== bench.{name} ===", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, "-m", f"bench.{name}"], cwd=ROOT, timeout=900)
        print(f"=== bench.{name}: exit {code} in {time.monotonic() - started:.0f} s ===", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return len(failed)


if __name__ == "__main__":
    raise SystemExit(main())
