"""Subscriptions as a use case: who may subscribe a channel to a resource, and what subscribing does.

Permission (DESIGN.md "Identity and permissions"): the person is checked before anything reaches RingCentral
as the service identity (`admit`): a connected person, or (only where THREAD_NOTE_ADMIN_SUBSCRIBE allows it)
a Slack workspace admin/owner; anyone else gets a connect prompt. Then `role` asks RingCentral, with the
person's *own* token, whether they handle the resource: its SMS recipients (getSmsRecipients), or, where
RingCentral refuses that Limited API to the app, whether the person can list the resource's threads (a rule
RingCentral enforces itself). Asking as the person also keeps them to the service identity's account: the
resource ids come from the service identity's list. The rule used is recorded with the subscription.

The service identity is the one of the workspace's RingCentral account (issue 16): the deployment's
(RINGCENTRAL_JWT), or the account the workspace linked (`Notifier.client_for`). So a workspace lists,
subscribes to and backfills only its own account's resources.

The resource list (call queues and sites, read as the service identity) is cached for a minute per account,
and each
Slack user gets a small budget of subscription commands, so nobody can spend the service identity's
RingCentral budget, which is the feed's. Both live in the process: with several replicas, each keeps its own
(a person's budget is at most COMMANDS_PER_WINDOW per replica).

A new subscription starts from now (RingCentral's time, estimated from the last sync); `backfill` queues the
last N notes of the resource.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from cachetools import TTLCache
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import get_logger
from bot.notify.feed import note_json, thread_json
from bot.notify.filters import Filters, passes
from bot.notify.notifier import Notifier
from bot.notify.options import Options
from bot.notify.shared import external_person, is_workspace_admin, other_organisations
from bot.ringcentral.errors import Forbidden, NotFound, RingCentralError
from bot.ringcentral.models import Note, Thread
from bot.service.accounts import Accounts
from bot.service.errors import NotConnected, ServiceError
from bot.service.types import Actor
from bot.store.outbox import OutboxEntry
from bot.store.protocols import SubscribeStore
from bot.store.subscriptions import NewSubscription, Subscription

log = get_logger(__name__)


@dataclass(frozen=True)
class Resource:
    """A common resource: a call queue (`CallQueue`) or a site (`Site`)."""

    id: str
    name: str
    kind: str = "CallQueue"
    number: str = ""  # its extension number


# The rules that may allow a subscription (recorded in `Subscription.granted_by`).
BY_RECIPIENTS = "SMS recipient"
BY_THREADS = "can list its conversations in RingCentral"
BY_ADMIN = "Slack workspace admin"


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


@dataclass(frozen=True)
class Grant:
    """Why the person may manage subscriptions of a resource: `role`, and the rule that decided it."""

    role: Role
    rule: str


@dataclass(frozen=True)
class Person:
    """Who asks, as far as the bot knows without RingCentral: their link, and whether an admin may act."""

    extension_id: str | None
    admin: bool


RESOURCE_TTL = 60.0  # seconds a resource list read as the service identity is reused
COMMANDS_PER_WINDOW = 10  # subscription commands a Slack user may send per window
COMMAND_WINDOW = timedelta(seconds=60)


class Subscriptions:
    def __init__(
        self,
        store: SubscribeStore,
        accounts: Accounts,
        notifier: Notifier,
        *,
        admin_subscribe: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._accounts = accounts
        self.notifier = notifier
        self._admin_subscribe = admin_subscribe
        self._clock = clock
        self._resources: TTLCache[str, list[Resource]] = TTLCache(maxsize=10_000, ttl=RESOURCE_TTL)
        self._resources_lock = asyncio.Lock()
        self._recent: TTLCache[tuple[str, str], deque[datetime]] = TTLCache(
            maxsize=100_000, ttl=COMMAND_WINDOW.total_seconds()
        )

    # --- checks ---------------------------------------------------------------------------------------------

    def throttle(self, actor: Actor) -> None:
        """A refusal once the person has sent COMMANDS_PER_WINDOW subscription commands in COMMAND_WINDOW."""
        now = self._clock()
        key = (actor.team_id, actor.user_id)
        recent = self._recent.get(key) or deque()
        while recent and now - recent[0] >= COMMAND_WINDOW:
            recent.popleft()
        if len(recent) >= COMMANDS_PER_WINDOW:
            wait = max(1, int((recent[0] + COMMAND_WINDOW - now).total_seconds() + 0.999))
            log.info("subscription.throttled", team_id=actor.team_id, user_id=actor.user_id)
            raise SubscriptionRefused("rate_limited", f"You're going fast: try again in {wait} s.")
        recent.append(now)
        self._recent[key] = recent

    async def admit(self, actor: Actor, slack: AsyncWebClient) -> Person:
        """The person, before anything reaches RingCentral: connected, or an admin where admins may act.
        Anyone else is `NotConnected` (a connect prompt)."""
        linked = await self._accounts.linked(actor)
        admin = self._admin_subscribe and await self.is_admin(actor, slack)
        if linked is None and not admin:
            await self._refuse_external(actor, slack)
            raise NotConnected()
        return Person(linked[0] if linked else None, admin)

    async def resource(self, text: str, actor: Actor, person: Person) -> Resource:
        """A common resource (call queue or site) by name, extension number or extension id, case-insensitive.
        Call only after `admit`. The unknown-resource answer names only what the person may subscribe: every
        resource for an admin who may, else those whose conversations the person sees in RingCentral."""
        wanted = text.strip().lower()
        resources = await self.resources(actor.team_id)
        for r in resources:
            if wanted in (r.id.lower(), r.name.lower(), r.number.lower()) and wanted:
                return r
        names = sorted(r.name for r in resources) if person.admin else await self._seen(actor, resources)
        listed = f" Yours: {', '.join(names[:20])}." if names else ""
        raise SubscriptionRefused(
            "unknown_resource", f"There is no queue or site called {text.strip()!r} that you handle.{listed}"
        )

    async def known(self, resource_id: str, team_id: str) -> Resource:
        """A resource of `team_id`'s account by its id (as a button carries it), read again from RingCentral's
        list, never from the payload; call only after `admit`."""
        for r in await self.resources(team_id):
            if r.id == resource_id:
                return r
        raise SubscriptionRefused("unknown_resource", "That queue or site no longer exists in RingCentral.")

    async def _seen(self, actor: Actor, resources: list[Resource]) -> list[str]:
        """Names of the resources whose open threads the person can list (one request, as the person)."""
        client = await self._accounts.client(actor)
        try:
            page = await client.list_threads(status="Open", per_page=1000)
        except (Forbidden, NotFound):
            return []
        finally:
            await client.aclose()
        owners = {t.owner.extension_id for t in page.records}
        return sorted(r.name for r in resources if r.id in owners)

    async def resources(self, team_id: str) -> list[Resource]:
        """Call queues and sites, as the service identity of `team_id`'s account sees them; read at most once
        a RESOURCE_TTL per account."""
        async with self._resources_lock:
            account = await self.notifier.tenancy.account_of(team_id)
            cached: list[Resource] | None = self._resources.get(account)
            if cached is not None:
                return cached
            client = await self.notifier.client_for(team_id)
            queues = await client.list_call_queues()
            sites = await client.list_sites()
            found = [Resource(q.id, q.name or q.id, "CallQueue", q.extension_number or "") for q in queues]
            found += [Resource(s.id, s.name or s.id, "Site", s.extension_number or "") for s in sites]
            self._resources[account] = found
            return found

    async def role(self, actor: Actor, resource: Resource, slack: AsyncWebClient) -> Grant:
        """Why the person may manage subscriptions of `resource`, or a refusal."""
        linked = await self._accounts.linked(actor)
        rule = BY_RECIPIENTS
        if linked is not None:
            handles, rule = await self._handles(actor, linked[0], resource)
            if handles:
                return Grant("handler", rule)
        if self._admin_subscribe and await self.is_admin(actor, slack):
            return Grant("admin", BY_ADMIN)
        if linked is None:
            await self._refuse_external(actor, slack)
            raise NotConnected()
        how = (
            f"you are not an SMS recipient of {resource.name} in RingCentral"
            if rule == BY_RECIPIENTS
            else f"RingCentral does not let this app read SMS recipients, and you can't see any conversation "
            f"of {resource.name} in RingCentral"
        )
        raise SubscriptionRefused(
            "not_handler",
            f"Only a handler of {resource.name} can subscribe a channel to its notes, because they are "
            f"internal and hold customer details; {how}. An admin can add you to its SMS recipients.",
        )

    async def _handles(self, actor: Actor, extension_id: str, resource: Resource) -> tuple[bool, str]:
        """Whether the person handles `resource`, asked as the person, and the rule used: its SMS recipients,
        or (where RingCentral refuses that Limited API to the app) whether they can list its threads."""
        client = await self._accounts.client(actor)
        try:
            try:
                recipients = await client.list_sms_recipients(resource.id)
                return any(r.id == extension_id for r in recipients), BY_RECIPIENTS
            except NotFound:
                return False, BY_RECIPIENTS
            except Forbidden:
                log.info("subscription.sms_recipients_refused", resource_id=resource.id)
            try:
                page = await client.list_threads(owner_extension_ids=[resource.id], per_page=1)
            except (Forbidden, NotFound):
                return False, BY_THREADS
            return any(t.owner.extension_id == resource.id for t in page.records), BY_THREADS
        finally:
            await client.aclose()

    async def is_admin(self, actor: Actor, slack: AsyncWebClient) -> bool:
        """A Slack admin or owner of the actor's own workspace (`shared.is_workspace_admin`)."""
        return await is_workspace_admin(slack, actor)

    async def _refuse_external(self, actor: Actor, slack: AsyncWebClient) -> None:
        """A person of another organisation (Slack Connect) is refused in a sentence, not sent to connect."""
        if await self._external(actor, slack):
            raise SubscriptionRefused(
                "external_person",
                "You are here from another organisation (Slack Connect), so you can't manage this "
                "workspace's subscriptions.",
            )

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
        granted_by: str | None = None,
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
                start_at=await self.notifier.rc_now(actor.team_id),
                options=(options or Options()).to_json(),
                granted_by=granted_by,
            )
        )
        log.info(
            "subscription.saved", subscription_id=sub.id, created=created, resource_id=resource.id,
            granted_by=granted_by,
        )  # fmt: skip
        if backfill > 0:
            try:
                await self._backfill(sub, filters, backfill)
            except RingCentralError as exc:  # the subscription stands; the backfill is a courtesy
                log.info("subscription.backfill_failed", error=type(exc).__name__)
        return sub, created

    async def _backfill(self, sub: Subscription, filters: Filters, count: int) -> None:
        client = await self.notifier.client_for(sub.team_id)
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
            account=await self.notifier.tenancy.account_of(sub.team_id),
        )

    async def find(self, team_id: str, channel_id: str, resource_id: str) -> Subscription | None:
        subs = await self._store.list_subscriptions(
            team_id=team_id, channel_id=channel_id, resource_id=resource_id
        )
        return subs[0] if subs else None

    async def find_named(self, team_id: str, channel_id: str, text: str) -> Subscription | None:
        """This channel's subscription to the resource named (or id'd) `text`, from our own records: no
        RingCentral call."""
        wanted = text.strip().lower()
        subs = await self._store.list_subscriptions(team_id=team_id, channel_id=channel_id)
        return next((s for s in subs if wanted in (s.resource_id.lower(), s.resource_name.lower())), None)

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
