"""Client-side pacing for RingCentral's per-user, per-group rate limits.

RingCentral counts requests per (user, app, group) in a sliding window, answers 429 once the limit is passed,
and then rejects *every* request of that group for a penalty interval — each rejected request restarts the
penalty (NOTES.md §3). So the cheapest 429 is the one never provoked. One `RateLimiter` per identity (share it
between every client acting as the same user) keeps, per group:

* a log of our own send times, checked against the group's limit and window (from `X-Rate-Limit-Limit` /
  `-Window`, or the spec's defaults before the first response), with a small margin for latency, so steady
  load stays under the limit whatever the concurrency;
* the server's view (`X-Rate-Limit-Remaining`, minus what we sent since): traffic of the same identity from
  other processes is counted too; at 0 we wait until one of our counted requests leaves the window, or for
  the whole window when none of them was ours;
* a spread: the first 3/4 of the budget go out at once (interactive calls pay no delay); past that, the
  rest of the budget is spread over the time until the window slides on, so a burst is smoothed;
* the penalty after a 429: nothing is sent in the group until `Retry-After` (the window, at least 30 s, when
  absent) has passed —
  callers already waiting, and callers arriving later, all wait.

Time comes from the injected `clock` and waiting from the injected `sleep`, so tests run in milliseconds.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from bot.ringcentral.errors import RateLimited

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

DEFAULT_RETRY_AFTER = 30.0

# Default user-level limits (NOTES.md §3): (requests, window seconds). Real apps may differ: the headers win.
DEFAULT_LIMITS: dict[str, tuple[int, float]] = {
    "light": (50, 60.0),
    "medium": (40, 60.0),
    "heavy": (10, 60.0),
    "auth": (5, 60.0),
}


@dataclass
class _Group:
    limit: int
    window: float
    sent: deque[float] = field(default_factory=deque)  # our send times, oldest first
    remaining: int | None = None  # the server's Remaining at `observed_at`
    observed_at: float = 0.0
    sent_since_observed: int = 0
    freed_since_observed: int = 0
    penalty_until: float = 0.0
    last_sent: float | None = None


class RateLimiter:
    """Paces one identity's requests per rate-limit group. Shareable between clients of that identity."""

    def __init__(
        self,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        max_wait: float | None = None,
        latency_margin: float = 0.25,
    ) -> None:
        """`max_wait`: raise `RateLimited` instead of waiting longer than this (None: always wait)."""
        self._clock = clock
        self._sleep = sleep
        self._max_wait = max_wait
        self._margin = latency_margin
        self._groups: dict[str, _Group] = {}
        self._route_groups: dict[str, str] = {}

    def now(self) -> float:
        return self._clock()

    # --- which group ---------------------------------------------------------------------------------

    def group_for(self, route: str, default: str) -> str:
        """The group learned for `route` from a response header, else the spec's default."""
        return self._route_groups.get(route, default)

    def _state(self, group: str) -> _Group:
        key = group.lower()
        state = self._groups.get(key)
        if state is None:
            limit, window = DEFAULT_LIMITS.get(key, DEFAULT_LIMITS["medium"])
            state = self._groups[key] = _Group(limit=limit, window=window)
        return state

    # --- before sending -----------------------------------------------------------------------------

    def delay(self, group: str) -> float:
        """Seconds to wait before the next request of `group` may go out (0: now)."""
        state = self._state(group)
        now = self._clock()
        if now < state.penalty_until:
            return state.penalty_until - now
        horizon = state.window + self._margin + state.window * 0.02
        while state.sent and state.sent[0] <= now - horizon:
            if state.sent.popleft() <= state.observed_at:
                state.freed_since_observed += 1  # counted in the server's Remaining, now out of its window
        waits = [0.0]
        if len(state.sent) >= state.limit:  # our own sliding window is full: wait for the oldest to age out
            waits.append(state.sent[len(state.sent) - state.limit] + horizon - now)
        if state.remaining is not None:
            if now - state.observed_at >= horizon:
                state.remaining = None  # stale: everything the server counted then has left the window
            elif state.remaining - state.sent_since_observed + state.freed_since_observed <= 0:
                # Server budget spent. Our next own request that it counted frees a slot when it ages out;
                # if it counted none of ours (others used the identity), wait for the whole window.
                counted = [t for t in state.sent if t <= state.observed_at]
                waits.append((counted[0] if counted else state.observed_at) + horizon - now)
        if state.last_sent is not None and len(state.sent) >= state.limit * 3 // 4:
            # Past 3/4 of the budget: spread what is left over the time until the window slides on.
            left = max(1, state.limit - len(state.sent))
            waits.append(state.last_sent + (state.sent[0] + horizon - now) / left - now)
        return max(waits)

    async def acquire(self, group: str) -> None:
        """Wait until a request of `group` may be sent, then count it as sent."""
        while True:
            wait = self.delay(group)
            if wait <= 0:
                break
            if self._max_wait is not None and wait > self._max_wait:
                message = f"RingCentral rate limit for group {group}: next slot in {wait:.1f}s"
                raise RateLimited(message, retry_after=wait, group=group)
            await self._sleep(wait)
        state = self._state(group)
        now = self._clock()
        state.sent.append(now)
        state.last_sent = now
        state.sent_since_observed += 1

    # --- after the response -------------------------------------------------------------------------

    def observe(self, route: str, default_group: str, headers: Mapping[str, str], *, sent_at: float) -> str:
        """Learn from a response's rate-limit headers; returns the group the request belongs to."""
        group = headers.get("x-rate-limit-group") or self.group_for(route, default_group)
        self._route_groups[route] = group
        state = self._state(group)
        limit = _int(headers.get("x-rate-limit-limit"))
        window = _float(headers.get("x-rate-limit-window"))
        remaining = _int(headers.get("x-rate-limit-remaining"))
        if limit is not None and limit > 0:
            state.limit = limit
        if window is not None and window > 0:
            state.window = window
        if remaining is not None and sent_at >= state.observed_at:
            # Requests sent after this one was sent may or may not be counted in `remaining`: assume they are
            # not (the safe side) by counting every send after this one's send time.
            state.remaining = remaining
            state.observed_at = sent_at
            state.sent_since_observed = sum(1 for t in state.sent if t > sent_at)
            state.freed_since_observed = 0
        return group

    def penalize(self, group: str, retry_after: float | None) -> float:
        """A 429 arrived: block the group for `retry_after` seconds. Without it, for the group's window and at
        least 30 s: the penalty is usually as long as the window (60 s), and a retry inside it would restart
        it — every early request does — so waiting only 30 s would never get out. Returns the wait."""
        state = self._state(group)
        if retry_after is None or retry_after < 0:
            wait = max(DEFAULT_RETRY_AFTER, state.window)
        else:
            wait = retry_after
        state.penalty_until = max(state.penalty_until, self._clock() + wait)
        state.remaining = None
        return wait

    def spacing(self, group: str, share: float = 1.0) -> float:
        """Seconds between requests of `group` that use `share` of its budget: its window over its limit (as
        learned from the headers; the spec's defaults before the first response), over `share`."""
        state = self._state(group)
        return state.window / (state.limit * share)

    def penalty_left(self, group: str) -> float:
        return max(0.0, self._state(group).penalty_until - self._clock())


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
