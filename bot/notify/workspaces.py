"""Which Slack Web API client posts for a workspace.

- `OneWorkspace(client)`: the single-workspace setup (`SLACK_BOT_TOKEN`): the same client for every team.
- `InstalledWorkspaces(store, base_url)`: many workspaces (Slack OAuth): each team's own bot token, read from
  its installation in the store (encrypted there), cached briefly. A team without an installation raises
  `NotInstalled`, which the sender treats like a revoked token (the subscription pauses, nothing is lost);
  so does a team that SLACK_ALLOWED_TEAMS no longer lets in (`allowed`), even with a stored installation.

Scheduled work is not an incoming request, so Bolt's per-request authorisation does not help here: the sender
asks for the client of the subscription's own team, and nothing posts into one workspace with another's token.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import get_logger
from bot.store import UndecryptableSecret
from bot.store.protocols import SlackInstallStore

log = get_logger(__name__)


class NotInstalled(Exception):
    """The app is not (or no longer) installed in this workspace."""

    def __init__(self, team_id: str) -> None:
        super().__init__(f"not installed in {team_id}")
        self.team_id = team_id


class SlackClients(Protocol):
    async def for_team(self, team_id: str) -> AsyncWebClient: ...

    def forget(self, team_id: str) -> None: ...


class OneWorkspace:
    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def for_team(self, team_id: str) -> AsyncWebClient:
        return self.client

    def forget(self, team_id: str) -> None:
        return None


class InstalledWorkspaces:
    def __init__(
        self,
        store: SlackInstallStore,
        base_url: str,
        *,
        ttl: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
        allowed: Callable[[str, str | None], bool] = lambda team_id, enterprise_id: True,
    ) -> None:
        self._store = store
        self._allowed = allowed
        self._base_url = base_url
        self._ttl = ttl
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, AsyncWebClient]] = {}

    async def for_team(self, team_id: str) -> AsyncWebClient:
        cached = self._cache.get(team_id)
        if cached is not None and self._monotonic() - cached[0] < self._ttl:
            return cached[1]
        try:
            bot = await self._store.find_slack_bot(None, team_id)
        except UndecryptableSecret as exc:  # a wrong THREAD_NOTE_SECRET_KEY: its channels pause, nothing lost
            log.error(
                "slack.installation_undecryptable",
                team_id=team_id,
                hint=f"{exc}; or install the app in that workspace again",
            )
            bot = None
        token = (bot or {}).get("bot_token")
        if not token or not self._allowed(team_id, (bot or {}).get("enterprise_id")):
            self._cache.pop(team_id, None)
            raise NotInstalled(team_id)
        if cached is not None and cached[1].token == token:
            client = cached[1]
        else:  # no retry handler: the sender honours Retry-After per channel itself
            client = AsyncWebClient(token=str(token), base_url=self._base_url, timeout=10)
        self._cache[team_id] = (self._monotonic(), client)
        return client

    def forget(self, team_id: str) -> None:
        """Drop the cached client (after an uninstall or a new installation)."""
        self._cache.pop(team_id, None)
