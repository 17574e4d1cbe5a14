"""The change feed's health, kept in the store (`kv_state`) so every replica, `/healthz`, `/metrics`,
`/thread-note status` and `thread-note-bot check` tell the same story.

A poll that fails (the sync, or the thread lookups its records need) counts one failure; a good poll resets
the count. From `FAILING_AFTER` failures in a row the feed is *failing*: the poll stops resending its sync
token and falls back to a full sync plus reconciliation, the subscriptions' creators are told once (and once
more when it recovers), and every surface says "failing since …".

Why 3: one failed poll is already three or four failed requests (the client retries 5xx, timeouts and 429s
with backoff before giving up), so a blip never counts twice; three polls in a row (≈ 90 s at the default
30 s interval) that all exhausted their retries mean the request itself is unlikely to succeed, and a full
sync with reconciliation loses nothing: it costs one request, then two per 10 resources spread over the next
polls (`reconcile.py`), never more than 2 in a poll.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bot.ringcentral.errors import RingCentralError

HEALTH_KEY = "notify:feed_health"
FAILING_AFTER = 3


@dataclass(frozen=True)
class FeedHealth:
    failures: int = 0  # polls in a row that failed
    failing_since: datetime | None = None  # the first failure of this run of failures
    last_error: str | None = None
    announced: bool = False  # the subscriptions' creators were told that it is failing

    @property
    def failing(self) -> bool:
        return self.failures >= FAILING_AFTER

    def failed(self, error: str, now: datetime) -> FeedHealth:
        return replace(
            self, failures=self.failures + 1, failing_since=self.failing_since or now, last_error=error
        )

    def describe(self) -> str:
        """One line for people: "ok", or since when and why it fails."""
        if not self.failures:
            return "ok"
        since = self.failing_since.strftime("%Y-%m-%d %H:%M:%S UTC") if self.failing_since else "?"
        what = "failing" if self.failing else "retrying"
        polls = "poll" if self.failures == 1 else "polls"
        return f"{what} since {since} ({self.failures} {polls} in a row; last error {self.last_error})"

    def to_json(self) -> dict[str, Any]:
        return {
            "failures": self.failures,
            "failingSince": self.failing_since.isoformat() if self.failing_since else None,
            "lastError": self.last_error,
            "announced": self.announced,
        }

    @classmethod
    def from_json(cls, data: Any) -> FeedHealth:
        if not isinstance(data, dict):
            return cls()
        since = data.get("failingSince")
        return cls(
            failures=int(data.get("failures") or 0),
            failing_since=datetime.fromisoformat(since) if since else None,
            last_error=data.get("lastError"),
            announced=bool(data.get("announced")),
        )


def describe_error(exc: RingCentralError) -> str:
    """An error as the health, the logs and the resources' states name it: its class and HTTP status."""
    return f"{type(exc).__name__}" + (f" {exc.status}" if exc.status else "")
