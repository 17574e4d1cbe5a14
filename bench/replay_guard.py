"""Figure 6 — what the shared replay guard adds to each Slack request.

    .venv/bin/python -m bench.replay_guard [--claims 1000] [--concurrency 8] [--postgres URL]

`ReplayGuard.first_use` (bot/web.py), exactly as `/slack/events` calls it before Bolt, over a `Store` on a
fresh SQLite file and (with `--postgres URL`, or THREAD_NOTE_TEST_POSTGRES_URL; a scratch database is
created on that server and dropped after) a fresh PostgreSQL database, in this process. Three cases:

- **first use**: a new signature (every real request): one `INSERT … ON CONFLICT … RETURNING` transaction,
  plus the prune of expired rows once a minute;
- **replay, other replica**: a signature a second store (another replica's, on the same database) claimed:
  the same round trip, answered "seen";
- **replay, same replica**: answered from the process's own claims, no round trip.

Each is timed `--claims` times one after the other, and first use also with `--concurrency` requests at
once (a burst: SQLite's single writer makes them queue). Reported: median, p99, max, and p99 as a share of
Slack's 3 s acknowledgement budget.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench._kit import JSON, SLACK_ACK_LIMIT, percentile, quiet, scratch_database, table, write_result
from bot.store import Store, TokenCipher
from bot.web import ReplayGuard


def _signature() -> str:
    return "v0=" + secrets.token_hex(32)


async def _timed(
    calls: int, concurrency: int, one: Callable[[], Awaitable[bool]], expect: bool
) -> list[float]:
    samples: list[float] = []

    async def timed() -> None:
        started = time.perf_counter()
        answer = await one()
        samples.append(time.perf_counter() - started)
        assert answer is expect, "the guard answered wrongly"

    for _ in range(calls // concurrency):
        await asyncio.gather(*(timed() for _ in range(concurrency)))
    return samples


async def measure(url: str, claims: int, concurrency: int) -> dict[str, list[float]]:
    key = TokenCipher.generate_key()
    a, b = await Store.open(url, [key]), await Store.open(url, [key])
    try:
        guard_a, guard_b = ReplayGuard(lambda: a), ReplayGuard(lambda: b)
        for _ in range(50):  # warm the connection pools
            await guard_a.first_use(_signature())
        handled: list[str] = []

        async def first() -> bool:
            handled.append(_signature())
            return await guard_a.first_use(handled[-1])

        results = {"first use": await _timed(claims, 1, first, True)}
        results[f"first use, {concurrency} at once"] = await _timed(claims, concurrency, first, True)
        others = iter(list(handled))
        results["replay, other replica"] = await _timed(
            claims, 1, lambda: guard_b.first_use(next(others)), False
        )
        same = iter(list(handled))
        results["replay, same replica"] = await _timed(
            claims, 1, lambda: guard_a.first_use(next(same)), False
        )
        return results
    finally:
        await a.close()
        await b.close()


def on_postgres(server: str, claims: int, concurrency: int) -> dict[str, list[float]]:
    with scratch_database(server) as url:
        return asyncio.run(measure(url, claims, concurrency))


def summary(values: list[float]) -> JSON:
    p99 = percentile(values, 99)
    return {
        "n": len(values),
        "median_s": percentile(values, 50),
        "p99_s": p99,
        "max_s": max(values),
        "p99_of_limit": p99 / SLACK_ACK_LIMIT,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--claims", type=int, default=1000, help="timed calls per case")
    parser.add_argument("--concurrency", type=int, default=8, help="requests at once in the burst case")
    parser.add_argument("--postgres", default=os.environ.get("THREAD_NOTE_TEST_POSTGRES_URL"), metavar="URL")
    args = parser.parse_args(argv)
    quiet()
    load, started = os.getloadavg(), time.monotonic()
    backends: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bot.db'}"
        backends["SQLite"] = asyncio.run(measure(url, args.claims, args.concurrency))
    if args.postgres:
        backends["PostgreSQL"] = on_postgres(args.postgres, args.claims, args.concurrency)
    figures = {db: {case: summary(v) for case, v in cases.items()} for db, cases in backends.items()}
    table(
        "Replay guard: time added to each Slack request — budget: Slack's 3 s acknowledgement",
        ["database", "case", "n", "median", "p99", "max", "p99 / 3 s"],
        [
            (db, case, s["n"], f"{s['median_s'] * 1000:.2f} ms", f"{s['p99_s'] * 1000:.2f} ms",
             f"{s['max_s'] * 1000:.2f} ms", f"{s['p99_of_limit']:.3%}")
            for db, cases in figures.items() for case, s in cases.items()
        ],
    )  # fmt: skip
    write_result("replay_guard", figures, started=started, load_before=load)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
