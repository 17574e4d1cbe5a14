"""Pacing and 429 penalties, with a fake clock: no test here sleeps for real."""

from __future__ import annotations

import asyncio
from collections import deque

import httpx
import pytest

from bot.ringcentral import RateLimited, RateLimiter
from tests.ringcentral.fakes import MT, FakeClock, FakeRingCentral, make_client


class SlidingWindowServer:
    """A RingCentral that enforces `limit` requests per `window` seconds and answers like the real one."""

    def __init__(self, clock: FakeClock, limit: int, window: float, penalty: float) -> None:
        self.clock, self.limit, self.window, self.penalty = clock, limit, window, penalty
        self.log: deque[float] = deque()
        self.times: list[float] = []
        self.too_many = 0
        self.penalty_until = 0.0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        now = self.clock()
        self.times.append(now)
        while self.log and self.log[0] <= now - self.window:
            self.log.popleft()
        if now < self.penalty_until or len(self.log) >= self.limit:
            self.too_many += 1
            self.penalty_until = now + self.penalty
            return httpx.Response(429, headers={"Retry-After": str(self.penalty)}, json={"errors": []})
        self.log.append(now)
        headers = {
            "X-Rate-Limit-Group": "medium",
            "X-Rate-Limit-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(self.limit - len(self.log)),
            "X-Rate-Limit-Window": str(int(self.window)),
        }
        return httpx.Response(200, headers=headers, json={"records": [], "paging": {"perPage": 100}})


async def test_steady_load_of_200_requests_never_meets_a_429() -> None:
    clock = FakeClock()
    server = SlidingWindowServer(clock, limit=40, window=2.0, penalty=60.0)
    client = make_client(FakeRingCentral(server), clock)
    for _ in range(200):
        await client.list_notes()
    assert server.too_many == 0
    assert len(server.times) == 200
    # and it does not crawl: the budget is used, about 40 per 2 s (plus the latency margin)
    assert clock() - server.times[0] < 200 / 40 * 2 * 1.3
    await client.aclose()


async def test_concurrent_load_stays_under_the_limit() -> None:
    clock = FakeClock()
    server = SlidingWindowServer(clock, limit=40, window=2.0, penalty=60.0)
    client = make_client(FakeRingCentral(server), clock)
    await asyncio.gather(*(client.list_notes() for _ in range(120)))
    assert server.too_many == 0
    await client.aclose()


async def test_remaining_zero_waits_for_the_window() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    await limiter.acquire("Medium")
    headers = {
        "x-rate-limit-group": "Medium",
        "x-rate-limit-limit": "40",
        "x-rate-limit-remaining": "0",
        "x-rate-limit-window": "60",
    }
    limiter.observe("/r", "Medium", headers, sent_at=clock())
    assert limiter.delay("Medium") >= 60


async def test_after_a_429_no_caller_of_the_group_sends_until_the_penalty_is_over() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    start = clock()
    limiter.penalize("Medium", 5.0)
    released: list[float] = []

    async def caller() -> None:
        await limiter.acquire("Medium")
        released.append(clock())

    await asyncio.gather(*(caller() for _ in range(3)))
    assert all(t >= start + 5.0 for t in released)


async def test_a_429_without_retry_after_blocks_for_the_groups_window_and_at_least_30_seconds() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    assert limiter.penalize("Medium", None) == 60.0  # the window: retrying after 30 s restarts the penalty
    assert limiter.penalty_left("Medium") == pytest.approx(60.0)
    limiter.observe("/r", "Light", {"x-rate-limit-group": "Light", "x-rate-limit-window": "10"}, sent_at=0.0)
    assert limiter.penalize("Light", None) == 30.0


async def test_groups_are_paced_independently() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.penalize("Medium", 60.0)
    assert limiter.delay("Light") == 0.0
    assert limiter.delay("medium") > 0  # group names are case-insensitive (the header's casing varies)


async def test_group_of_a_route_is_learned_from_the_response_header() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    assert limiter.group_for("/x", "Medium") == "Medium"
    limiter.observe("/x", "Medium", {"x-rate-limit-group": "Heavy"}, sent_at=clock())
    assert limiter.group_for("/x", "Medium") == "Heavy"


async def test_limiter_with_max_wait_raises_rate_limited_instead_of_waiting() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, max_wait=1.0)
    limiter.penalize("Medium", 60.0)
    with pytest.raises(RateLimited) as info:
        await limiter.acquire("Medium")
    assert info.value.group == "Medium"
    assert info.value.retry_after == pytest.approx(60.0)


async def test_client_waits_out_a_429_and_sends_nothing_meanwhile() -> None:
    clock = FakeClock()
    times: list[float] = []

    def api(request: httpx.Request) -> httpx.Response:
        times.append(clock())
        if len(times) == 1:
            return httpx.Response(
                429,
                headers={"Retry-After": "7", "X-Rate-Limit-Group": "Medium"},
                json={"errorCode": "CMN-301", "errors": [{"errorCode": "CMN-301"}]},
            )
        return httpx.Response(200, json={"records": [], "paging": {"perPage": 100}})

    client = make_client(FakeRingCentral(api), clock)
    first = asyncio.create_task(client.list_notes())
    await asyncio.sleep(0)
    others = [asyncio.create_task(client.list_notes()) for _ in range(3)]
    await asyncio.gather(first, *others)
    assert len(times) == 5  # the refused one, its retry, three others
    assert all(t >= times[0] + 7.0 for t in times[1:])
    await client.aclose()


async def test_a_penalty_longer_than_the_client_accepts_raises_rate_limited() -> None:
    clock = FakeClock()

    def api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429, headers={"Retry-After": "600", "X-Rate-Limit-Group": "Medium"}, json=error_json_429()
        )

    client = make_client(FakeRingCentral(api), clock, max_rate_limit_wait=60.0)
    with pytest.raises(RateLimited) as info:
        await client.get_thread("t1")
    assert info.value.retry_after == 600.0
    assert info.value.group == "Medium"
    assert info.value.error_code == "CMN-301"
    await client.aclose()


def error_json_429() -> dict[str, object]:
    return {
        "errorCode": "CMN-301",
        "message": "Request rate exceeded",
        "errors": [{"errorCode": "CMN-301", "message": "Request rate exceeded"}],
    }


def test_routes_group_defaults_follow_the_spec() -> None:
    from bot.ringcentral import _routes

    assert _routes.match("POST", "/restapi/oauth/token") == ("/restapi/oauth/token", "Auth")
    assert _routes.match("PATCH", f"{MT}/notes/abc") == (
        "/restapi/v1.0/account/{accountId}/message-threads/notes/{noteId}",
        "Medium",
    )
    assert _routes.match("POST", "/restapi/v1.0/subscription/s1/renew")[1] == "Light"
    assert _routes.match("GET", f"{MT}/entries/sync")[0].endswith("/entries/sync")


async def test_callers_arriving_during_a_long_penalty_fail_fast_instead_of_hanging() -> None:
    clock = FakeClock()

    def api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "600"}, json=error_json_429())

    fake = FakeRingCentral(api)
    client = make_client(fake, clock, max_rate_limit_wait=60.0)
    with pytest.raises(RateLimited):
        await client.list_notes()
    with pytest.raises(RateLimited) as info:
        await client.list_notes()
    assert info.value.retry_after == pytest.approx(600.0)
    assert len(fake.requests) == 1  # the second caller sent nothing into the penalty
    await client.aclose()
