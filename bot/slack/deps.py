"""What the listeners need, handed in by the composition root (bot/app.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cachetools import TTLCache

from bot.metrics import Metrics
from bot.service.accounts import Accounts
from bot.service.notes import Notes
from bot.service.types import Actor


@dataclass
class Deps:
    accounts: Accounts
    notes: Notes
    metrics: Metrics
    health: Callable[[], Awaitable[dict[str, Any]]]
    # `/thread-note status` for a person; the Web API client tells whether they are a workspace admin
    status: Callable[[Actor, Any], Awaitable[dict[str, Any]]]
    # Per-person thread suggestions for the picker: options requests must be answered within 3 s.
    thread_cache: TTLCache[Any, Any] = field(default_factory=lambda: TTLCache(maxsize=1024, ttl=60.0))
    # Filled in by the notifications feature; None until it is wired.
    subscriptions: Any = None
    # Many workspaces (Slack OAuth): bot.slack.install.Workspaces; None with a single SLACK_BOT_TOKEN.
    workspaces: Any = None
