"""Load held: signed slash commands fired concurrently at the real app on loopback; every one must be
acknowledged (200) within Slack's 3 s. Bounded in count and time; the figure (requests per second) is printed
and, with THREAD_NOTE_RELIABILITY_OUT set, appended to that file for RELIABILITY.md.

The mix: `help` (answered in the acknowledgement), `status` and `list <phone>` from a connected person (the
acknowledgement, then RingCentral calls and a response_url post after it).
"""

from __future__ import annotations

import asyncio
import os
import time

import httpx

from tests.kit.bot import RunningBot
from tests.kit.slack import SignedRequest
from tests.reliability.conftest import long_or_short

ACK_LIMIT = 3.0
CONCURRENCY = 16
OUT = os.environ.get("THREAD_NOTE_RELIABILITY_OUT")  # read at import: the tests scrub THREAD_NOTE_* variables


def test_concurrent_commands_are_all_acknowledged_in_time(bot: RunningBot) -> None:
    bot.connect("alice", "Ana Alvarez")
    total = long_or_short(2000, 120)
    texts = ["help", "status", "list +1 415 555 0142", "help add"]
    signed: list[SignedRequest] = [
        bot.requests.form(bot.requests.payloads.command(texts[i % len(texts)], user="alice"))
        for i in range(total)
    ]  # built (and their response_urls registered) before the clock starts

    async def fire() -> tuple[list[int], list[float], float]:
        statuses: list[int] = []
        latencies: list[float] = []
        queue: asyncio.Queue[SignedRequest] = asyncio.Queue()
        for request in signed:
            queue.put_nowait(request)
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        async with httpx.AsyncClient(timeout=10.0, limits=limits) as http:

            async def worker() -> None:
                while not queue.empty():
                    request = queue.get_nowait()
                    started = time.perf_counter()
                    try:
                        response = await http.post(request.url, content=request.body, headers=request.headers)
                        statuses.append(response.status_code)
                    except httpx.HTTPError:
                        statuses.append(0)
                    latencies.append(time.perf_counter() - started)

            began = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            return statuses, latencies, time.perf_counter() - began

    statuses, latencies, elapsed = asyncio.run(fire())
    failed = [s for s in statuses if s != 200]
    slow = [lat for lat in latencies if lat > ACK_LIMIT]
    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99) - 1]
    line = (
        f"load: {total} signed commands, {CONCURRENCY} concurrent, {total / elapsed:.0f} req/s, "
        f"failed acks={len(failed)}, acks over {ACK_LIMIT:.0f}s={len(slow)}, p50={p50 * 1000:.0f}ms "
        f"p99={p99 * 1000:.0f}ms max={latencies[-1] * 1000:.0f}ms"
    )
    print(line)
    if OUT:
        with open(OUT, "a") as file:
            file.write(line + "\n")
    assert not failed, line
    assert not slow, line
