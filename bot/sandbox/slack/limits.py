"""Faults and rate limits: the unkind parts of Slack, on request.

Faults (`POST /sandbox/slack/faults`) make the next `count` calls of a method (optionally for one channel or
workspace) answer with an error, an HTTP status, a 429 with `Retry-After`, or wait first (latency / hang).
A delay alone holds the answer, then the call goes through (`land: true`, the default): when the client gave
up meanwhile, the message is stored all the same, as a Slack call that timed out may still land. `land: false`
holds the answer, then drops the call unperformed (HTTP 504 `request_timeout`): a request that never landed.
Rate limits (`POST /sandbox/slack/rate-limits`) are off until asked for; then a sliding window per method,
keyed per channel or per workspace, answers HTTP 429 `{"ok": false, "error": "ratelimited"}` with
`Retry-After` (whole seconds) like Slack. The window runs on the stand-in's clock. The profile's own limits
(`profile_limits`) hold whatever is configured: they are the reading of Slack's docs being played.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.profiles import Profile
from bot.sandbox.slack.workspace_data import JSON

# Slack's published tiers (calls per minute), and chat.postMessage's "about one per second per channel".
TIERS = {1: 1, 2: 20, 3: 50, 4: 100}
SLACK_PRESET: dict[str, tuple[str, int, float]] = {
    # method: (per, limit, window seconds)
    "chat.postMessage": ("channel", 1, 1.0),
    "chat.update": ("workspace", TIERS[3], 60.0),
    "chat.delete": ("workspace", TIERS[3], 60.0),
    "chat.postEphemeral": ("workspace", TIERS[4], 60.0),
    "chat.getPermalink": ("workspace", TIERS[4], 60.0),
    "views.open": ("workspace", TIERS[4], 60.0),
    "views.push": ("workspace", TIERS[4], 60.0),
    "views.update": ("workspace", TIERS[4], 60.0),
    "views.publish": ("workspace", TIERS[4], 60.0),
    "conversations.history": ("workspace", TIERS[3], 60.0),
    "conversations.replies": ("workspace", TIERS[3], 60.0),
    "conversations.info": ("workspace", TIERS[3], 60.0),
    "conversations.members": ("workspace", TIERS[4], 60.0),
    "conversations.join": ("workspace", TIERS[3], 60.0),
    "users.info": ("workspace", TIERS[4], 60.0),
    "users.list": ("workspace", TIERS[2], 60.0),
    "reactions.add": ("workspace", TIERS[3], 60.0),
    "apps.connections.open": ("workspace", TIERS[1], 60.0),
}


class ControlError(ValueError):
    """A bad control-route request (answered with HTTP 400 and the message)."""


@dataclass
class Fault:
    id: str
    method: str
    channel: str | None = None
    team_id: str | None = None
    error: str | None = None
    status: int = 200
    retry_after: int | None = None
    delay: float = 0.0
    remaining: int = 1
    land: bool = True  # after the delay the call goes through; False: dropped unperformed (504)

    def matches(self, method: str, channel: str | None, team_id: str | None) -> bool:
        return (
            self.remaining > 0
            and self.method in (method, "*")
            and (self.channel is None or self.channel == channel)
            and (self.team_id is None or self.team_id == team_id)
        )

    def to_json(self) -> JSON:
        return dict(self.__dict__)


class Faults:
    """The armed faults, consumed in the order they were added."""

    MAX_DELAY = 120.0

    def __init__(self) -> None:
        self.items: list[Fault] = []
        self._serial = 0
        self._release: asyncio.Event | None = None

    def add(self, body: JSON) -> Fault:
        method = body.get("method")
        if not isinstance(method, str) or not method:
            raise ControlError("`method` is required (a Web API method name, or `*`)")
        error = body.get("error")
        status = int(body.get("status", 200))
        retry_after = body.get("retry_after")
        delay = float(body.get("delay", 0.0))
        if error == "ratelimited" and status == 200:
            status = 429
        if status == 429:
            error = error or "ratelimited"
            retry_after = int(retry_after if retry_after is not None else 1)
        if status >= 500:
            error = error or "internal_error"
        land = body.get("land", True)
        if not isinstance(land, bool):
            raise ControlError("`land` is true or false")
        if not land:
            if delay <= 0 or error is not None:
                raise ControlError(
                    "`land: false` needs a `delay` and no `error` (a call dropped after a hang)"
                )
            error, status = "request_timeout", 504
        if error is None and delay <= 0:
            raise ControlError("give an `error`, a `status`, or a `delay` (seconds to hang)")
        if not 0 <= delay <= self.MAX_DELAY:
            raise ControlError(f"`delay` must be between 0 and {self.MAX_DELAY} seconds")
        count = int(body.get("count", 1))
        if count < 1:
            raise ControlError("`count` must be at least 1")
        self._serial += 1
        fault = Fault(
            id=f"F{self._serial}",
            method=method,
            channel=body.get("channel"),
            team_id=body.get("team_id"),
            error=error,
            status=status,
            retry_after=retry_after,
            delay=delay,
            remaining=count,
            land=land,
        )
        self.items.append(fault)
        return fault

    def take(self, method: str, channel: str | None, team_id: str | None) -> Fault | None:
        for fault in self.items:
            if fault.matches(method, channel, team_id):
                fault.remaining -= 1
                return fault
        return None

    async def wait(self, seconds: float) -> None:
        """Hang for `seconds` of real time, or until the faults are cleared."""
        if self._release is None:
            self._release = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._release.wait(), timeout=seconds)

    def clear(self) -> None:
        self.items.clear()
        if self._release is not None:
            self._release.set()
            self._release = None


@dataclass
class Rule:
    method: str
    per: str
    limit: int
    window: float
    hits: dict[tuple[str | None, str | None], deque[float]] = field(default_factory=dict)

    def to_json(self) -> JSON:
        return {"method": self.method, "per": self.per, "limit": self.limit, "window": self.window}


class RateLimits:
    """Sliding-window limits per method; off until configured."""

    def __init__(self) -> None:
        self.rules: dict[str, Rule] = {}
        self.workspace_posts: Rule | None = None  # chat.postMessage across the workspace, besides per channel

    def configure(self, body: JSON) -> list[Rule]:
        """`{preset: "slack", scale?, workspace_posts?}`, `{method, limit, window?, per?: channel|workspace}`
        or `{rules}`. `workspace_posts` (messages a minute, times `scale`) adds Slack's workspace-wide
        `chat.postMessage` limit to the per-channel one: stricter than the preset alone."""
        if body.get("preset") is not None:
            if body["preset"] != "slack":
                raise ControlError("the only preset is `slack`")
            scale = float(body.get("scale", 1.0))
            if scale <= 0:
                raise ControlError("`scale` must be positive")
            preset = [
                self._set(m, per, max(1, round(limit * scale)), window)
                for m, (per, limit, window) in SLACK_PRESET.items()
            ]
            posts = body.get("workspace_posts")
            if posts is not None:
                if int(posts) < 1:
                    raise ControlError("`workspace_posts` must be at least 1 (messages a minute)")
                limit = max(1, round(int(posts) * scale))
                self.workspace_posts = Rule("chat.postMessage", "workspace", limit, 60.0)
                preset.append(self.workspace_posts)
            return preset
        rules: list[Any] = body.get("rules") or [body]
        out = []
        for rule in rules:
            if not isinstance(rule, dict) or not isinstance(rule.get("method"), str):
                raise ControlError("each rule needs a `method`")
            per = rule.get("per", "channel" if rule["method"] == "chat.postMessage" else "workspace")
            if per not in ("channel", "workspace"):
                raise ControlError("`per` is `channel` or `workspace`")
            limit, window = int(rule.get("limit", 1)), float(rule.get("window", 1.0))
            if limit < 1 or window <= 0:
                raise ControlError("`limit` must be ≥ 1 and `window` > 0")
            out.append(self._set(rule["method"], per, limit, window))
        return out

    def _set(self, method: str, per: str, limit: int, window: float) -> Rule:
        rule = Rule(method=method, per=per, limit=limit, window=window)
        self.rules[method] = rule
        return rule

    def clear(self) -> None:
        self.rules.clear()
        self.workspace_posts = None

    def check(self, method: str, team_id: str | None, channel: str | None, now: float) -> int | None:
        """Counts the call and returns None, or returns Retry-After seconds when over a limit (a call refused
        by one rule is counted by none)."""
        rules = [self.rules.get(method)]
        if method == "chat.postMessage":
            rules.append(self.workspace_posts)
        windows = []
        for rule in (r for r in rules if r is not None):
            hits = rule.hits.setdefault((team_id, channel if rule.per == "channel" else None), deque())
            while hits and hits[0] <= now - rule.window:
                hits.popleft()
            if len(hits) >= rule.limit:
                return max(1, math.ceil(hits[0] + rule.window - now))
            windows.append(hits)
        for hits in windows:
            hits.append(now)
        return None


# The non-Marketplace limits of conversations.history/replies since 2025-05-29 (Slack changelog "Rate limit
# changes for non-Marketplace apps"): one request a minute per method and workspace, at most 15 a page.
TIER1_HISTORY_METHODS = ("conversations.history", "conversations.replies")
TIER1_PAGE_MAX = 15


def profile_limits(profile: Profile) -> RateLimits:
    """The limits the profile's readings impose, always on (apart from those configured by tests)."""
    limits = RateLimits()
    if profile.slack_history_tier1:
        for name in TIER1_HISTORY_METHODS:
            limits.configure({"method": name, "limit": TIERS[1], "window": 60.0, "per": "workspace"})
    if profile.slack_workspace_post_limit is not None:
        limits.configure(
            {
                "method": "chat.postMessage",
                "limit": profile.slack_workspace_post_limit,
                "window": 60.0,
                "per": "workspace",
            }
        )
    return limits
