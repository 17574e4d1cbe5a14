"""The emulator's clock: a base clock (wall time by default, injectable) plus an offset moved by `advance`."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime


class SandboxClock:
    def __init__(self, base: Callable[[], float] | None = None) -> None:
        self._base = base or time.time
        self.offset = 0.0

    def now(self) -> float:
        """Seconds since the epoch, as the emulated service sees them."""
        return self._base() + self.offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset += seconds


def iso_ms(ms: int) -> str:
    """RFC 3339 with millisecond precision and `Z`: `2026-03-01T12:00:00.123Z`."""
    stamp = datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{ms % 1000:03d}Z"


def parse_rfc3339(value: str) -> int:
    """Milliseconds since the epoch; raises ValueError when `value` has no time zone."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("time zone missing")
    return int(parsed.timestamp() * 1000)
