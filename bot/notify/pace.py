"""How often the feed may be polled: on average no more often than every `Feed.min_interval` seconds (half of
the service identity's Medium budget: 3 s at RingCentral's 40 requests a minute), in bursts of up to `BURST`
polls. So a webhook's push after a quiet spell is read at once, while a storm of pushes, or a
THREAD_NOTE_POLL_INTERVAL below the floor, does not eat the budget everything else of the identity shares.

A token bucket: `BURST` polls, one more earned every interval. The poll job takes one before polling; without
one it moves its next run to when one is earned (a poke is then served late, never lost).
"""

from __future__ import annotations

import time
from collections.abc import Callable

BURST = 5


class PollPace:
    def __init__(
        self,
        interval: Callable[[], float],
        *,
        burst: int = BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = interval
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def take(self) -> float:
        """0, and a poll counted, when one may start now; else the seconds until one may."""
        now, interval = self._clock(), self._interval()
        self._tokens = min(float(self.burst), self._tokens + (now - self._at) / interval)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) * interval
