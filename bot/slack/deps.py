"""What the listeners need, built once by the composition root (bot/app.py `Container.start`) and frozen.

Each capability the listeners use from the notifications side is a narrow Protocol naming only the calls
they make, so a listener holds what it asks for and never reaches through it (`deps.notifier.thread_changed`,
not the notifier's sender or store). The concrete classes live in bot/slack/subscriptions.py,
bot/notify/notifier.py and bot/slack/install.py; the root hands them in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from cachetools import TTLCache
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import Metrics
from bot.ringcentral.models import Thread
from bot.service.accounts import Accounts
from bot.service.notes import Notes
from bot.service.tenant_link import TenantLinks
from bot.service.types import Actor
from bot.slack import grammar
from bot.slack.replies import Asker
from bot.store.protocols import TenantStore, TwoWayStore


class SubscriptionCommands(Protocol):
    """Channel subscriptions as the listeners use them (bot/slack/subscriptions.py `SlackSubscriptions`)."""

    async def handle(self, cmd: grammar.Command, asker: Asker) -> None:
        """`/thread-note subscribe | unsubscribe | subscriptions | mute | unmute`."""

    async def confirmed(
        self, actor: Actor, request: dict[str, Any], client: AsyncWebClient
    ) -> tuple[list[Block], str]:
        """The public-channel confirmation's "Subscribe" button: subscribe as `request` (the button's value)
        says, every check made again; raises `SubscriptionRefused`."""

    async def thread_for_slack_thread(self, team_id: str, channel_id: str, thread_ts: str) -> str | None:
        """The RingCentral thread whose notifications live in this Slack thread, if any."""

    async def for_home(self, actor: Actor) -> list[tuple[str, str]]:
        """(channel id, resource name) of the subscriptions App Home lists for the person."""


class ThreadChanges(Protocol):
    """The notifier, as far as the notification buttons need it (bot/notify/notifier.py `Notifier`)."""

    async def thread_changed(self, thread: Thread, team_id: str) -> None:
        """A thread was assigned or resolved from Slack (by someone of `team_id`'s workspace): its parent
        messages show the new state now."""


class WorkspaceEvents(Protocol):
    """Many workspaces: what the uninstall listeners do (bot/slack/install.py `Workspaces`)."""

    async def uninstalled(self, enterprise_id: str | None, team_id: str) -> list[int]: ...

    async def user_tokens_revoked(
        self, enterprise_id: str | None, team_id: str, user_ids: list[str]
    ) -> None: ...


@dataclass(frozen=True)
class Deps:
    accounts: Accounts
    notes: Notes
    metrics: Metrics
    health: Callable[[], Awaitable[dict[str, Any]]]
    # `/thread-note status` for a person; the Web API client tells whether they are a workspace admin
    status: Callable[[Actor, AsyncWebClient], Awaitable[dict[str, Any]]]
    subscriptions: SubscriptionCommands
    notifier: ThreadChanges
    # Two-way threads read and claim Slack messages in the store (bot/slack/two_way.py).
    store: TwoWayStore
    # A workspace's rows counted and forgotten ("Forget this workspace", bot/slack/forget.py).
    tenants: TenantStore
    # Many workspaces (Slack OAuth); None with a single SLACK_BOT_TOKEN, where nothing is installed.
    workspaces: WorkspaceEvents | None = None
    # The workspace's own RingCentral account, linked by an admin (`/thread-note setup`, App Home).
    tenant_links: TenantLinks | None = None
    # How a workspace's own account's feed fares ("ok", or since when it fails), for its card.
    account_feed: Callable[[str], Awaitable[str]] | None = None
    # Per-person thread suggestions for the picker: options requests must be answered within 3 s.
    thread_cache: TTLCache[Any, Any] = field(default_factory=lambda: TTLCache(maxsize=1024, ttl=60.0))
