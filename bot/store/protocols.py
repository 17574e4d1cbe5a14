"""The store's interfaces: one `Protocol` per domain, listing the methods the rest of the bot calls, and the
combinations its consumers take. A consumer is typed against the part of the store it uses, not all of
`Store`, as APScheduler's scheduler is against `BaseJobStore` rather than any one job store.

`Store` (`store.py`) satisfies every one of them structurally: nothing subclasses these; mypy checks it where
a composition root (`bot/app.py`) hands the concrete store to each consumer. Methods only tests and tools
call (`outbox_rows`, `audit_entries`, …) are on `Store` alone. A combination is what a component calls
itself plus what it hands on to the parts it builds (the notifier builds the feed, the sender and the
schedules from its store).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.store.audit import AuditAction, AuditEntry
from bot.store.feed_state import FeedResource
from bot.store.leases import Lease
from bot.store.links import Link, Tokens
from bot.store.oauth import OAuthState, PendingLink
from bot.store.outbox import OutboxEntry, OutboxRow
from bot.store.slack_messages import NoteInChannel, NoteMessage, SlackThread
from bot.store.slack_notes import SlackNote
from bot.store.subscriptions import NewSubscription, Subscription
from bot.store.tenant_accounts import TenantAccount
from bot.store.tenants import ForgottenWorkspace

# --- one per domain -----------------------------------------------------------------------------------------


class LinkStore(Protocol):
    """Slack user ↔ RingCentral extension, with the person's tokens (`links.py`)."""

    async def save_link(
        self, team_id: str, user_id: str, *, extension_id: str, extension_name: str | None, tokens: Tokens
    ) -> Link: ...
    async def get_link(self, team_id: str, user_id: str) -> Link | None: ...
    async def update_link_tokens(
        self, team_id: str, user_id: str, tokens: Tokens, *, expected_version: int
    ) -> Link: ...
    async def delete_link(
        self, team_id: str, user_id: str, *, expected_version: int | None = None
    ) -> bool: ...
    async def users_linked_to(self, extension_id: str) -> list[tuple[str, str]]: ...
    async def delete_team_links(self, team_id: str) -> int: ...


class OAuthStore(Protocol):
    """RingCentral OAuth states and pending links while a person connects (`oauth.py`)."""

    async def create_oauth_state(
        self,
        team_id: str,
        user_id: str,
        *,
        code_verifier: str,
        pending_action: dict[str, Any] | None = ...,
        ttl: timedelta = ...,
        reusable: bool = ...,
    ) -> str: ...
    async def live_oauth_state(
        self, team_id: str, user_id: str, *, valid_for: timedelta
    ) -> tuple[str, str] | None: ...
    async def create_pending_link(self, link: PendingLink, *, ttl: timedelta = ...) -> str: ...
    async def take_pending_link(self, token: str) -> PendingLink: ...
    async def consume_oauth_state(self, state: str) -> OAuthState: ...
    async def prune_oauth_states(self) -> int: ...


class AuditStore(Protocol):
    """What people did through the bot (`audit.py`)."""

    async def record_audit(
        self,
        *,
        team_id: str,
        user_id: str,
        action: AuditAction | str,
        outcome: str | BaseException = ...,
        extension_id: str | None = ...,
        thread_id: str | None = ...,
        note_ids: Iterable[str | int] = ...,
        detail: str | None = ...,
    ) -> AuditEntry: ...


class StateStore(Protocol):
    """Small named state: cursors, health, cached service tokens (`state.py`)."""

    async def get_state(self, name: str) -> Any: ...
    async def get_states(self, names: Iterable[str]) -> dict[str, Any]: ...
    async def set_state(self, name: str, value: Any, *, secret: bool = ...) -> None: ...
    async def delete_state(self, name: str) -> bool: ...


class LeaseStore(Protocol):
    """Leases that split the work between replicas (`leases.py`)."""

    async def try_acquire_lease(self, name: str, holder: str, ttl: timedelta) -> Lease | None: ...
    async def renew_lease(self, name: str, holder: str, ttl: timedelta) -> Lease | None: ...
    async def release_lease(self, name: str, holder: str) -> bool: ...
    async def claim_leases(
        self, names: Sequence[str], holder: str, ttl: timedelta, *, limit: int
    ) -> list[Lease]: ...
    async def release_leases(self, names: Sequence[str], holder: str) -> int: ...
    async def live_leases(self, prefix: str) -> list[Lease]: ...


class SlackInstallStore(Protocol):
    """Slack installations, bots and install states, for slack-sdk's stores (`slack_installs.py`)."""

    async def save_slack_installation(
        self,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str,
        installation: dict[str, Any],
        bot: dict[str, Any] | None,
    ) -> None: ...
    async def save_slack_bot(
        self, enterprise_id: str | None, team_id: str | None, bot: dict[str, Any]
    ) -> None: ...
    async def find_slack_bot(
        self, enterprise_id: str | None, team_id: str | None
    ) -> dict[str, Any] | None: ...
    async def find_slack_installation(
        self, enterprise_id: str | None, team_id: str | None, user_id: str | None = ...
    ) -> dict[str, Any] | None: ...
    async def delete_slack_bot(self, enterprise_id: str | None, team_id: str | None) -> int: ...
    async def delete_slack_installations(
        self, enterprise_id: str | None, team_id: str | None, user_id: str | None = ...
    ) -> int: ...
    async def issue_slack_state(self, state: str, ttl: timedelta) -> None: ...
    async def consume_slack_state(self, state: str) -> bool: ...


class SubscriptionStore(Protocol):
    """Channel subscriptions (`subscriptions.py`)."""

    async def save_subscription(self, new: NewSubscription) -> tuple[Subscription, bool]: ...
    async def list_subscriptions(
        self,
        *,
        team_id: str | None = ...,
        channel_id: str | None = ...,
        resource_id: str | None = ...,
        status: str | None = ...,
    ) -> list[Subscription]: ...
    async def subscriptions_snapshot(self) -> tuple[Subscription, ...]: ...
    async def delete_subscription(self, subscription_id: int) -> bool: ...
    async def pause_subscription(self, subscription_id: int, reason: str) -> bool: ...
    async def pause_team_subscriptions(self, team_id: str, reason: str) -> list[int]: ...
    async def resume_subscription(self, subscription_id: int) -> bool: ...
    async def record_subscription_error(self, subscription_id: int, error: str) -> None: ...


class OutboxStore(Protocol):
    """The durable outbox (`outbox.py`)."""

    async def enqueue(
        self,
        entries: Iterable[OutboxEntry],
        *,
        threads: Iterable[tuple[str, str, dict[str, Any]]] = ...,
        state: Mapping[str, Any] | None = ...,
        account: str = ...,
    ) -> int: ...
    async def pending_outbox(
        self, limit: int = ..., *, channels: Iterable[tuple[str, str]] | None = ...
    ) -> list[OutboxRow]: ...
    async def channels_with_pending(self) -> list[tuple[str, str]]: ...
    async def mark_attempt(self, row_id: int, *, seen: OutboxRow | None = ...) -> bool: ...
    async def finish_outbox(self, row_id: int, status: str = ..., error: str | None = ...) -> None: ...
    async def retry_outbox(
        self, row_id: int, at: datetime, error: str, *, attempt: bool = ..., posted: bool = ...
    ) -> None: ...
    async def outbox_depths(self) -> dict[int, int]: ...
    async def oldest_pending(self) -> dict[int, datetime]: ...


class SlackMessageStore(Protocol):
    """What was posted in Slack: Slack threads and note messages (`slack_messages.py`)."""

    async def get_slack_thread(self, team_id: str, channel_id: str, thread_id: str) -> SlackThread | None: ...
    async def slack_thread_by_ts(
        self, team_id: str, channel_id: str, parent_ts: str
    ) -> SlackThread | None: ...
    async def slack_threads_for(self, thread_id: str) -> list[SlackThread]: ...
    async def forget_slack_thread(self, team_id: str, channel_id: str, thread_id: str) -> None: ...
    async def set_thread_muted(self, team_id: str, channel_id: str, thread_id: str, muted: bool) -> bool: ...
    async def muted_threads(self, team_id: str, channel_id: str) -> set[str]: ...
    async def get_note_message(self, team_id: str, channel_id: str, note_id: str) -> NoteMessage | None: ...
    async def note_in_channel(
        self, team_id: str, channel_id: str, note_id: str, thread_id: str
    ) -> NoteInChannel: ...
    async def posted_note_ids(self, note_ids: Sequence[str]) -> set[tuple[str, str, str]]: ...
    async def shown_notes(
        self, channels: Sequence[tuple[str, str]], thread_ids: Sequence[str]
    ) -> dict[str, str]: ...
    async def record_delivery(
        self,
        row_id: int,
        subscription_id: int,
        *,
        message: NoteMessage | None = ...,
        thread: SlackThread | None = ...,
        status: str = ...,
    ) -> None: ...


class ThreadCacheStore(Protocol):
    """RingCentral threads the feed has seen (`feed_state.py`)."""

    async def cached_threads(
        self, thread_ids: Iterable[str], *, account: str
    ) -> dict[str, dict[str, Any]]: ...
    async def cache_threads(
        self, threads: Iterable[tuple[str, str, dict[str, Any]]], *, account: str
    ) -> None: ...


class FeedAccountStore(Protocol):
    """Which workspaces read which RingCentral account (`feed_state.py`, over `tenant_accounts`)."""

    async def linked_accounts(self) -> dict[str, tuple[str, str]]: ...


class FeedHealthStore(Protocol):
    """Each resource's poll health (`feed_state.py`)."""

    async def feed_resource_states(
        self, resource_ids: Iterable[str] = ..., *, account: str
    ) -> dict[str, FeedResource]: ...
    async def feed_resources_ok(
        self, resource_ids: Iterable[str], *, account: str, reconciled: bool = ...
    ) -> None: ...
    async def feed_resources_failed(
        self, resource_ids: Iterable[str], error: str, retry_at: Callable[[int], datetime], *, account: str
    ) -> dict[str, int]: ...


class SlackNoteStore(Protocol):
    """Two-way threads: a Slack reply ↔ the note it became (`slack_notes.py`)."""

    async def claim_slack_note(
        self, team_id: str, channel_id: str, ts: str, thread_id: str, user_id: str
    ) -> bool: ...
    async def set_slack_note(
        self,
        team_id: str,
        channel_id: str,
        ts: str,
        *,
        state: str,
        note_id: str | None = ...,
        expect: str | None = ...,
    ) -> bool: ...
    async def slack_note_by_ts(self, team_id: str, channel_id: str, ts: str) -> SlackNote | None: ...
    async def slack_note_by_note(self, team_id: str, channel_id: str, note_id: str) -> SlackNote | None: ...
    async def slack_notes_creating(
        self, team_id: str, channel_id: str, thread_id: str, since: datetime
    ) -> bool: ...


class QuietHoursStore(Protocol):
    """Rows held during quiet hours and the summary that replaces them (`quiet_hours.py`)."""

    async def hold_outbox(self, row_id: int) -> None: ...
    async def held_subscriptions(self) -> list[int]: ...
    async def release_held(self, subscription_id: int, thread_id: str = ...) -> int: ...
    async def outbox_by_ids(self, ids: Sequence[int]) -> list[OutboxRow]: ...
    async def record_summary(
        self, row_id: int, subscription_id: int, shown: Iterable[NoteMessage]
    ) -> None: ...
    async def summary_lines(self, team_id: str, channel_id: str, ts: str) -> list[NoteMessage]: ...


class DigestStore(Protocol):
    """Handoff digest runs, one per subscription and day (`digests.py`)."""

    async def claim_digest(self, subscription_id: int, day: str) -> bool: ...
    async def finish_digest(self, subscription_id: int, day: str, ts: str | None, threads: int) -> None: ...
    async def drop_digest(self, subscription_id: int, day: str) -> None: ...


class RetentionStore(Protocol):
    """What delivery leaves behind, pruned after THREAD_NOTE_RETENTION_DAYS (`retention.py`)."""

    async def prune(self, before: datetime, *, batch: int = ...) -> dict[str, int]: ...


class ReplayStore(Protocol):
    """Signatures of Slack requests already handled, shared by the replicas (`replays.py`)."""

    async def claim_signature(self, signature: str, ttl: timedelta) -> bool: ...
    async def forget_signature(self, signature: str) -> bool: ...


class TenantStore(Protocol):
    """A workspace's rows, counted and forgotten (`tenants.py`)."""

    async def workspace_rows(self, team_id: str) -> dict[str, int]: ...
    async def forget_workspace(self, team_id: str, *, by: str) -> ForgottenWorkspace: ...


class TenantAccountStore(Protocol):
    """A workspace's own RingCentral account and its service credential (`tenant_accounts.py`)."""

    async def tenant_account(self, team_id: str) -> TenantAccount | None: ...
    async def tenant_accounts(self) -> list[TenantAccount]: ...
    async def save_tenant_account(self, account: TenantAccount, *, by: str) -> None: ...
    async def remove_tenant_account(self, team_id: str, *, by: str) -> bool: ...
    async def set_tenant_status(self, team_id: str, status: str, reason: str | None) -> None: ...
    async def update_tenant_credential(self, team_id: str, credential: str, *, version: int) -> bool: ...


# --- per consumer -------------------------------------------------------------------------------------------


class AccountStore(LinkStore, OAuthStore, AuditStore, TenantAccountStore, Protocol):
    """`bot.service.accounts.Accounts`: connecting people (to their own workspace's RingCentral account),
    their tokens, the audit of what they do."""


class WebhookStore(StateStore, LeaseStore, Protocol):
    """`bot.notify.webhook.WebhookSubscription`: its RingCentral subscription, one replica renewing it."""


class UninstallStore(SubscriptionStore, SlackInstallStore, Protocol):
    """`bot.slack.install.Workspaces`: an uninstalled workspace's subscriptions paused, its installs gone."""


class DeliveryStore(SlackMessageStore, SlackNoteStore, ThreadCacheStore, Protocol):
    """`bot.notify.deliveries.Deliveries`: notes, edits, deletions and thread states posted."""


class SummaryStore(SlackMessageStore, SlackNoteStore, QuietHoursStore, Protocol):
    """`bot.notify.summaries.Summaries`: quiet-hours summaries posted and kept up to date."""


class SenderStore(SubscriptionStore, OutboxStore, DeliveryStore, SummaryStore, Protocol):
    """`bot.notify.sender.Sender`, with the poster, deliveries and summaries it builds."""


class FeedStore(
    SubscriptionStore, OutboxStore, SlackMessageStore, ThreadCacheStore, FeedHealthStore, StateStore, Protocol
):
    """`bot.notify.feed.Feed`: changes queued with the cursor, the feed's health."""


class ScheduleStore(SubscriptionStore, SlackMessageStore, QuietHoursStore, DigestStore, Protocol):
    """`bot.notify.schedules.Schedules`: quiet hours released, digests claimed."""


class TenancyStore(FeedAccountStore, TenantAccountStore, Protocol):
    """`bot.notify.tenancy.Tenancy`: which account each workspace reads, the links paused when refused."""


class NotifierStore(
    FeedStore, SenderStore, ScheduleStore, LeaseStore, OAuthStore, RetentionStore, TenancyStore, Protocol
):
    """`bot.notify.notifier.Notifier`: the jobs and leases, with the feed, sender and schedules it builds."""


class TwoWayStore(
    SubscriptionStore, SlackMessageStore, SlackNoteStore, ThreadCacheStore, TenantAccountStore, Protocol
):
    """`bot.slack.two_way`: a Slack reply in a two-way thread claimed and mapped to its note."""


class SubscribeStore(OutboxStore, TwoWayStore, Protocol):
    """`bot.notify.service.Subscriptions`: subscribing, and its `store` as two-way reads it."""
