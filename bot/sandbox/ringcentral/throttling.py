"""User-level rate limits: a sliding window per (user, app, group), with RingCentral's penalty rule.

Once a group's limit is exceeded every request of that group is refused for `penalty` seconds, and each
refused request restarts the penalty (NOTES.md §3). Every answer carries
`X-Rate-Limit-Group/-Limit/-Remaining/-Window`; a 429 also carries `Retry-After` (the penalty) and the body
`CMN-301`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from bot.sandbox.ringcentral.error_bodies import ApiError
from bot.sandbox.ringcentral.settings import SandboxSettings


@dataclass
class _Bucket:
    hits: deque[float] = field(default_factory=deque)
    penalty_until: float = 0.0


class RateLimiter:
    def __init__(self, settings: SandboxSettings) -> None:
        self._settings = settings
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}

    def reset(self) -> None:
        self._buckets.clear()

    def hit(self, who: str, app: str, group: str, now: float) -> dict[str, str]:
        """Count one request; return the headers to send, or raise the 429 `ApiError` (with headers)."""
        limit = self._settings.rate_limits.get(group)
        if limit is None or limit.limit is None:
            return {}
        bucket = self._buckets.setdefault((who, app, group), _Bucket())
        while bucket.hits and bucket.hits[0] <= now - limit.window:
            bucket.hits.popleft()
        headers = {
            "X-Rate-Limit-Group": group.lower(),
            "X-Rate-Limit-Limit": str(limit.limit),
            "X-Rate-Limit-Window": str(int(limit.window)),
        }
        if now < bucket.penalty_until or len(bucket.hits) >= limit.limit:
            bucket.penalty_until = now + limit.penalty
            headers["X-Rate-Limit-Remaining"] = "0"
            headers["Retry-After"] = str(int(limit.penalty))
            raise ApiError(429, "CMN-301", "Request rate exceeded", headers=headers)
        bucket.hits.append(now)
        headers["X-Rate-Limit-Remaining"] = str(limit.limit - len(bucket.hits))
        return headers

    def penalise(self, who: str, app: str, group: str, now: float, seconds: float | None) -> dict[str, str]:
        """An injected 429 (a fault): start the caller's penalty in `group` as a real 429 would, and return
        the headers the answer carries (`Retry-After` only when `seconds` was given)."""
        limit = self._settings.rate_limits.get(group)
        if limit is None or limit.limit is None:
            return {"Retry-After": str(int(seconds))} if seconds is not None else {}
        bucket = self._buckets.setdefault((who, app, group), _Bucket())
        bucket.penalty_until = now + (limit.penalty if seconds is None else seconds)
        headers = {
            "X-Rate-Limit-Group": group.lower(),
            "X-Rate-Limit-Limit": str(limit.limit),
            "X-Rate-Limit-Window": str(int(limit.window)),
            "X-Rate-Limit-Remaining": "0",
        }
        if seconds is not None:
            headers["Retry-After"] = str(int(seconds))
        return headers
