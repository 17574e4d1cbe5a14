"""Subscriptions as a use case: who may subscribe a channel to a resource, and what subscribing does.

Permission (DESIGN.md "Identity and permissions"): a connected handler of the resource — checked with the
person's *own* RingCentral token (the resource's call-queue members) — or a Slack workspace admin/owner
(`users.info`). The bot must be in the channel. A new subscription starts from now (RingCentral's time,
estimated from the last sync); `backfill` queues the last N notes of the resource.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import get_logger
from bot.notify.feed import note_json, thread_json
from bot.notify.filters import Filters, passes
from bot.notify.notifier import Notifier
from bot.notify.options import Options
from bot.notify.shared import external_person, other_organisations
from bot.ringcentral import RingCentralClient
from bot.ringcentral.errors import Forbidden, NotFound, RingCentralError
from bot.ringcentral.models import Note, Thread
from bot.service.accounts import Accounts
from bot.service.errors import NotConnected, ServiceError
from bot.service.types import Actor
from bot.store import Store
from bot.store.notify import NewSubscription, OutboxEntry, Subscription

log = get_logger(__name__)


@dataclass(frozen=True)
class Resource:
    id: str
    name: str


@dataclass(frozen=True)
class Channel:
    id: str
    name: str | None
    private: bool


class SubscriptionRefused(ServiceError):
    """A subscription change that is not allowed or not possible; `sentence` is for the person."""

    def __init__(self, kind: str, sentence: str) -> None:
        super().__init__(sentence)
        self.kind = kind
        self.sentence = sentence


Role = Literal["handler", "admin"]


class Subscriptions:
    def __init__(
        self,
        store: Store,
        accounts: Accounts,
        service_client: Callable[[], RingCentralClient],
        notifier: Notifier,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._accounts = accounts
        self._service = service_client
        self.notifier = notifier
        self._clock = clock

    @property
    def store(self) -> Store:
        return self._store

    # --- checks ---------------------------------------------------------------------------------------------

    async def resource(self, text: str) -> Resource:
        """A common resource by name, extension number or extension id (case-insensitive)."""
        wanted = text.strip().lower()
        queues = await self._service().list_call_queues()
        for q in queues:
            if wanted in (q.id.lower(), (q.extension_number or "").lower(), (q.name or "").lower()):
                return Resource(q.id, q.name or q.id)
        names = ", ".join(sorted(q.name or q.id for q in queues)[:20]) or "none"
        raise SubscriptionRefused(
            "unknown_resource", f"There is no queue or site called {text.strip()!r}. Known: {names}."
        )

    async def role(self, actor: Actor, resource: Resource, slack: AsyncWebClient) -> Role:
        """Why the person may manage subscriptions of `resource`, or a refusal."""
        linked = await self._accounts.linked(actor)
        if linked is not None and await self._handles(actor, linked[0], resource):
            return "handler"
        if await self.is_admin(actor, slack):
            return "admin"
        if linked is None:
            if await self._external(actor, slack):
                raise SubscriptionRefused(
                    "external_person",
                    "You are here from another organisation (Slack Connect), so you can't manage this "
                    "workspace's subscriptions.",
                )
            raise NotConnected()
        raise SubscriptionRefused(
            "not_handler",
            f"Only a handler of {resource.name} or a workspace admin can subscribe a channel to its notes, "
            "because they are internal and hold customer details.",
        )

    async def _handles(self, actor: Actor, extension_id: str, resource: Resource) -> bool:
        client = await self._accounts.client(actor)
        try:
            members = await client.list_call_queue_members(resource.id)
        except (Forbidden, NotFound):
            return False
        finally:
            await client.aclose()
        return any(m.id == extension_id for m in members)

    async def is_admin(self, actor: Actor, slack: AsyncWebClient) -> bool:
        """A Slack admin or owner of the actor's own workspace. A person of another organisation (in a
        shared channel) is an admin of theirs at most: `users.info` says so with their own `team_id`."""
        try:
            user = (await slack.users_info(user=actor.user_id)).get("user") or {}
        except SlackApiError:
            return False
        if external_person(user, actor.team_id):
            return False
        return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))

    async def _external(self, actor: Actor, slack: AsyncWebClient) -> bool:
        try:
            user = (await slack.users_info(user=actor.user_id)).get("user") or {}
        except SlackApiError:
            return False
        return external_person(user, actor.team_id)

    async def channel(self, slack: AsyncWebClient, channel_id: str, team_id: str = "") -> Channel:
        """The channel, if the bot can post there and only the workspace's own organisation is in it; else a
        refusal that says why (and how to invite the bot)."""
        invite = "Invite me first with `/invite @thread-notes` in that channel, then try again."
        try:
            info = (await slack.conversations_info(channel=channel_id)).get("channel") or {}
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error == "channel_not_found":
                raise SubscriptionRefused(
                    "bot_not_in_channel", f"I can't see that channel. {invite}"
                ) from None
            raise SubscriptionRefused(
                "channel_error", f"Slack refused to show that channel ({error})."
            ) from None
        if info.get("is_archived"):
            raise SubscriptionRefused("is_archived", "That channel is archived; unarchive it first.")
        if info.get("is_im") or info.get("is_mpim"):
            raise SubscriptionRefused("not_a_channel", "Subscriptions go to channels, not direct messages.")
        if info.get("is_member") is False:
            raise SubscriptionRefused("bot_not_in_channel", f"I'm not in that channel. {invite}")
        others = other_organisations(info, team_id)
        if others:
            raise SubscriptionRefused(
                "shared_channel",
                f"That channel is shared with another organisation ({', '.join(others)}) through Slack "
                "Connect, and notes are internal and hold customer details, so I don't post them there. "
                "Use a channel that only your organisation is in.",
            )
        return Channel(channel_id, info.get("name"), bool(info.get("is_private")))

    # --- changes --------------------------------------------------------------------------------------------

    async def subscribe(
        self,
        actor: Actor,
        resource: Resource,
        channel: Channel,
        filters: Filters,
        *,
        broadcast: bool = False,
        deleted_mode: str = "strike",
        backfill: int = 0,
        options: Options | None = None,
    ) -> tuple[Subscription, bool]:
        """Create (or update and resume) the subscription; it starts from now, plus `backfill` notes."""
        sub, created = await self._store.save_subscription(
            NewSubscription(
                team_id=actor.team_id,
                channel_id=channel.id,
                channel_name=channel.name,
                channel_private=channel.private,
                resource_id=resource.id,
                resource_name=resource.name,
                filters=filters.to_json(),
                broadcast=broadcast,
                deleted_mode=deleted_mode,
                created_by=actor.user_id,
                start_at=await self.notifier.feed.rc_now(),
                options=(options or Options()).to_json(),
            )
        )
        log.info("subscription.saved", subscription_id=sub.id, created=created, resource_id=resource.id)
        if backfill > 0:
            try:
                await self._backfill(sub, filters, backfill)
            except RingCentralError as exc:  # the subscription stands; the backfill is a courtesy
                log.info("subscription.backfill_failed", error=type(exc).__name__)
        return sub, created

    async def _backfill(self, sub: Subscription, filters: Filters, count: int) -> None:
        client = self._service()
        threads: dict[str, Thread] = {
            t.id: t async for t in client.iter_threads(owner_extension_ids=[sub.resource_id], per_page=1000)
        }
        notes: list[Note] = [
            n
            async for n in client.iter_notes(owner_extension_ids=[sub.resource_id], per_page=1000)
            if n.thread_id in threads and n.creation_time < sub.start_at
        ]
        chosen = [n for n in notes if passes(filters, n, threads.get(n.thread_id))][-count:]
        await self._store.enqueue(
            [OutboxEntry(sub.id, n.id, n.version, "note", n.thread_id, note_json(n)) for n in chosen],
            threads=[(t.id, t.owner.extension_id, thread_json(t)) for t in threads.values()],
        )

    async def find(self, team_id: str, channel_id: str, resource_id: str) -> Subscription | None:
        subs = await self._store.list_subscriptions(
            team_id=team_id, channel_id=channel_id, resource_id=resource_id
        )
        return subs[0] if subs else None

    async def unsubscribe(self, sub: Subscription) -> bool:
        return await self._store.delete_subscription(sub.id)

    async def listed(self, actor: Actor, channel_id: str | None, *, admin: bool) -> list[Subscription]:
        """This channel's subscriptions, or (channel None) all the person may see: public channels, private
        ones they made, everything for an admin."""
        if channel_id is not None:
            return await self._store.list_subscriptions(team_id=actor.team_id, channel_id=channel_id)
        subs = await self._store.list_subscriptions(team_id=actor.team_id)
        return [s for s in subs if admin or not s.channel_private or s.created_by == actor.user_id]

    async def resume(self, sub: Subscription, slack: AsyncWebClient) -> bool:
        await self.channel(slack, sub.channel_id, sub.team_id)
        return await self._store.resume_subscription(sub.id)
