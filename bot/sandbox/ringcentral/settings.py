"""Runtime settings of the emulator (all changeable at run time through `POST /sandbox/config`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.profiles import DEFAULT, Profile
from bot.sandbox.ringcentral.error_bodies import ApiError


@dataclass
class RateLimit:
    """Sliding-window limit per (user, app, group); `limit=None` disables the group (no headers either)."""

    limit: int | None
    window: float = 60.0
    penalty: float = 60.0


def real_rate_limits() -> dict[str, RateLimit]:
    """RingCentral's default user-level groups (NOTES.md §3)."""
    return {
        "Light": RateLimit(50),
        "Medium": RateLimit(40),
        "Heavy": RateLimit(10),
        "Auth": RateLimit(5),
    }


@dataclass
class SandboxSettings:
    access_token_ttl: float = 3600.0
    refresh_token_ttl: float = 604800.0
    auth_code_ttl: float = 60.0
    sync_token_ttl: float | None = 604800.0
    thread_ttl: float = 72 * 3600.0
    max_sessions_per_user: int = 5
    rate_limits: dict[str, RateLimit] = field(default_factory=real_rate_limits)
    redirect_uris: list[str] | None = None  # None: the seed's list; [] or ["*"]: any http(s) URI
    webhook_timeout: float = 3.0
    webhook_failures_to_blacklist: int = 5
    subscription_default_ttl: int = 604800
    subscription_max_ttl: int = 315360000
    # Event filters (a suffix such as "message-threads/entries/sync", or "*") the app may not use, as when
    # it lacks the SMS permission: subscriptions are still created, list them in `disabledFilters`, and get
    # no deliveries for them (POST /sandbox/config {"disabledEventFilters": [...]}).
    disabled_event_filters: list[str] = field(default_factory=list)
    # The reading of the docs played where they leave room (bot/sandbox/profiles.py).
    profile: Profile = DEFAULT

    def to_json(self) -> dict[str, Any]:
        return {
            "accessTokenTtl": self.access_token_ttl,
            "refreshTokenTtl": self.refresh_token_ttl,
            "authCodeTtl": self.auth_code_ttl,
            "syncTokenTtl": self.sync_token_ttl,
            "threadTtl": self.thread_ttl,
            "maxSessionsPerUser": self.max_sessions_per_user,
            "rateLimits": {
                name: None
                if rl.limit is None
                else {"limit": rl.limit, "window": rl.window, "penalty": rl.penalty}
                for name, rl in self.rate_limits.items()
            },
            "redirectUris": self.redirect_uris,
            "webhookTimeout": self.webhook_timeout,
            "disabledEventFilters": list(self.disabled_event_filters),
            "profile": self.profile.name,
        }

    def update(self, body: dict[str, Any]) -> None:
        """Apply a `POST /sandbox/config` body; unknown keys are refused so typos do not pass silently."""
        simple = {
            "accessTokenTtl": "access_token_ttl",
            "refreshTokenTtl": "refresh_token_ttl",
            "authCodeTtl": "auth_code_ttl",
            "syncTokenTtl": "sync_token_ttl",
            "threadTtl": "thread_ttl",
            "maxSessionsPerUser": "max_sessions_per_user",
            "webhookTimeout": "webhook_timeout",
            "redirectUris": "redirect_uris",
            "disabledEventFilters": "disabled_event_filters",
        }
        for key, value in body.items():
            if key in simple:
                setattr(self, simple[key], value)
            elif key == "rateLimits":
                if not isinstance(value, dict):
                    raise ApiError(
                        400, "SBX-400", "rateLimits must be an object {Group: {limit, window, penalty}}"
                    )
                for group, spec in value.items():
                    if spec is None or (isinstance(spec, dict) and spec.get("limit", 0) is None):
                        self.rate_limits[group] = RateLimit(None)
                        continue
                    current = self.rate_limits.get(group, RateLimit(40))
                    self.rate_limits[group] = RateLimit(
                        int(spec.get("limit", current.limit or 40)),
                        float(spec.get("window", current.window)),
                        float(spec.get("penalty", current.penalty)),
                    )
            else:
                raise ApiError(
                    400, "SBX-400", f"unknown config key {key!r}; known: {sorted([*simple, 'rateLimits'])}"
                )
