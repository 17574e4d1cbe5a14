"""`/thread-note subscribe | unsubscribe | subscriptions | mute | unmute`, and the public-channel
confirmation.

`SlackSubscriptions` is what `Deps.subscriptions` holds (the `SubscriptionCommands` Protocol of deps.py):
`handle(cmd, asker)` for the commands, `confirmed(actor, request, client)` for the confirmation button,
`thread_for_slack_thread(team, channel, thread_ts)` for the "Save as thread note" modal and `for_home(actor)`
for App Home. The listeners `confirm` and `cancel` answer the confirmation buttons (`subscription_confirm`
with the request as JSON in its value, `subscription_cancel`).

Refusals specific to subscribing (going too fast, unknown resource, not a handler, bot not in the channel,
archived) are answered privately with one sentence; a person who is not connected (and not an admin where
admins may subscribe) is raised to the one error handler, which offers a connect link — before anything
reaches RingCentral as the service identity.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.blockkit.ids import SUBSCRIPTION_CANCEL as CANCEL
from bot.blockkit.ids import SUBSCRIPTION_CONFIRM as CONFIRM
from bot.blockkit.text import clip, escape
from bot.notify.filters import Filters
from bot.notify.messages import pause_reason
from bot.notify.notifier import Notifier, SubscriptionStatus
from bot.notify.options import Options
from bot.notify.service import (
    BY_ADMIN,
    BY_RECIPIENTS,
    Channel,
    Grant,
    Resource,
    SubscriptionRefused,
    Subscriptions,
)
from bot.service.notes import Notes
from bot.service.types import Actor
from bot.slack import grammar
from bot.slack.deps import Deps
from bot.slack.replies import Asker, Reply, user_tz
from bot.store.protocols import SlackMessageStore

MAX_LISTED = 40


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text, verbatim=True)


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=_md(clip(text, 3000)))


def _channel(channel_id: str) -> str:
    return f"<#{channel_id}>"


class SlackSubscriptions:
    def __init__(
        self, subscriptions: Subscriptions, notes: Notes, *, store: SlackMessageStore, notifier: Notifier
    ) -> None:
        self.service = subscriptions
        self._notes = notes
        self._store = store
        self._notifier = notifier

    # --- what Deps.subscriptions offers ---------------------------------------------------------------------

    async def handle(self, cmd: grammar.Command, asker: Asker) -> None:
        actor, reply, client, channel_id = asker.actor, asker.reply, asker.client, asker.channel_id
        try:
            if isinstance(cmd, grammar.Subscribe):
                await self._subscribe(actor, cmd, reply, client, channel_id)
            elif isinstance(cmd, grammar.Unsubscribe):
                await self._unsubscribe(actor, cmd, reply, client, channel_id)
            elif isinstance(cmd, grammar.Subscriptions):
                await self._list(actor, cmd, reply, client, channel_id)
            elif isinstance(cmd, grammar.Mute | grammar.Unmute):
                await self._mute(actor, cmd, reply, channel_id)
        except SubscriptionRefused as refused:
            await reply([_section(f":warning: {escape(refused.sentence)}")], refused.sentence)

    async def thread_for_slack_thread(self, team_id: str, channel_id: str, thread_ts: str) -> str | None:
        found = await self._store.slack_thread_by_ts(team_id, channel_id, thread_ts)
        return found.thread_id if found else None

    async def for_home(self, actor: Actor) -> list[tuple[str, str]]:
        subs = await self.service.listed(actor, None, admin=False)
        return [(s.channel_id, s.resource_name) for s in subs][:MAX_LISTED]

    async def confirmed(
        self, actor: Actor, request: dict[str, Any], client: AsyncWebClient
    ) -> tuple[list[Block], str]:
        self.service.throttle(actor)
        await self.service.admit(actor, client)
        # A button's value comes back from the client: the resource is resolved again by its id (its
        # name is RingCentral's, not the payload's) and the backfill is capped again.
        resource = await self.service.known(str(request["r"]), actor.team_id)
        request = {**request, "n": resource.name, "k": _backfill(request.get("k"))}
        grant = await self.service.role(actor, resource, client)
        channel = await self.service.channel(client, str(request["c"]), actor.team_id)
        return await self._create(actor, request, channel, grant)

    # --- commands -------------------------------------------------------------------------------------------

    async def _target(self, cmd_channel: str | None, name: str | None, here: str | None) -> str:
        if cmd_channel:
            return cmd_channel
        if name:
            raise SubscriptionRefused(
                "channel_name",
                f"Pick #{name} with Slack's channel autocomplete (so it becomes a link), or run the command "
                "in that channel.",
            )
        if not here:
            raise SubscriptionRefused("no_channel", "Name a channel, or run the command in one.")
        return here

    async def _subscribe(
        self, actor: Actor, cmd: grammar.Subscribe, reply: Reply, client: AsyncWebClient, here: str | None
    ) -> None:
        self.service.throttle(actor)
        person = await self.service.admit(actor, client)
        target = await self._target(cmd.channel_id, cmd.channel_name, here)
        resource = await self.service.resource(cmd.resource, actor, person)
        grant = await self.service.role(actor, resource, client)
        channel = await self.service.channel(client, target, actor.team_id)
        request = {
            "r": resource.id,
            "n": resource.name,
            "c": channel.id,
            "cn": channel.name,
            "f": Filters(
                cmd.filters.tags, cmd.filters.exclude_authors, cmd.filters.unassigned_only
            ).to_json(),
            "b": cmd.filters.broadcast,
            "d": cmd.filters.deleted,
            "k": cmd.filters.backfill,
        }
        options = await _options(cmd.filters, client, actor.user_id)
        if options is not None:
            request["o"] = options
        if not channel.private:
            await reply(confirm_blocks(resource.name, channel.id, request), "Subscribe a public channel?")
            return
        await reply(*await self._create(actor, request, channel, grant))

    async def _create(
        self, actor: Actor, request: dict[str, Any], channel: Channel, grant: Grant
    ) -> tuple[list[Block], str]:
        resource = Resource(str(request["r"]), str(request["n"]))
        filters = Filters.from_json(request.get("f"))
        _, created = await self.service.subscribe(
            actor,
            resource,
            channel,
            filters,
            broadcast=bool(request.get("b")),
            deleted_mode="remove" if request.get("d") == "remove" else "strike",
            backfill=int(request.get("k") or 0),
            options=Options.from_json(request.get("o")),
            granted_by=grant.rule,
        )
        verb = "now receives" if created else "keeps receiving (settings updated)"
        text = (
            f":white_check_mark: {_channel(channel.id)} {verb} new notes of *{escape(resource.name)}* "
            f"({escape(filters.describe())}), starting now"
            + (f", plus the last {int(request['k'])}" if request.get("k") else "")
            + "."
        )
        extras = Options.from_json(request.get("o")).describe()
        if extras:
            text += "\n" + escape("; ".join(extras)) + "."
        text += "\n" + escape(allowed_because(grant.rule, resource.name))
        self._notifier.poke()
        return [_section(text)], f"Subscribed to {resource.name}"

    async def _unsubscribe(
        self, actor: Actor, cmd: grammar.Unsubscribe, reply: Reply, client: AsyncWebClient, here: str | None
    ) -> None:
        self.service.throttle(actor)
        target = await self._target(cmd.channel_id, cmd.channel_name, here)
        sub = await self.service.find_named(actor.team_id, target, cmd.resource)
        if sub is None:
            person = await self.service.admit(actor, client)
            resource = await self.service.resource(cmd.resource, actor, person)
            sub = await self.service.find(actor.team_id, target, resource.id)
        if sub is None:
            sentence = f"{_channel(target)} is not subscribed to {escape(cmd.resource.strip())}."
            await reply([_section(sentence)], "Not subscribed")
            return
        resource = Resource(sub.resource_id, sub.resource_name)
        if sub.created_by != actor.user_id:
            await self.service.role(actor, resource, client)
        await self.service.unsubscribe(sub)
        text = f"{_channel(target)} no longer receives notes of *{escape(resource.name)}*."
        await reply([_section(text)], "Unsubscribed")

    async def _list(
        self, actor: Actor, cmd: grammar.Subscriptions, reply: Reply, client: AsyncWebClient, here: str | None
    ) -> None:
        admin = await self.service.is_admin(actor, client)
        subs = await self.service.listed(actor, None if cmd.all or not here else here, admin=admin)
        statuses = await self._notifier.status(subs)
        await reply(subscription_list(statuses, everywhere=cmd.all or not here), f"{len(subs)} subscriptions")

    async def _mute(
        self, actor: Actor, cmd: grammar.Mute | grammar.Unmute, reply: Reply, here: str | None
    ) -> None:
        if not here:
            raise SubscriptionRefused("no_channel", "Run mute in the channel that gets the notifications.")
        thread = await self._notes.find_thread(actor, **cmd.thread.as_kwargs())
        muted = isinstance(cmd, grammar.Mute)
        changed = await self._store.set_thread_muted(actor.team_id, here, thread.id, muted)
        word = "muted" if muted else "unmuted"
        text = (
            f"Notes of that conversation are {word} in {_channel(here)}."
            if changed
            else f"{_channel(here)} has not shown that conversation yet, so there is nothing to {word[:-1]}."
        )
        await reply([_section(text)], text)


def _backfill(value: Any) -> int:
    """A backfill count from a button's value, held to what the command accepts (0-MAX_BACKFILL)."""
    try:
        count = int(value or 0)
    except (TypeError, ValueError):
        return 0
    return max(0, min(count, grammar.MAX_BACKFILL))


async def _options(
    filters: grammar.SubscriptionFilters, client: AsyncWebClient, user_id: str
) -> dict[str, Any] | None:
    """Two-way, digest and quiet hours as stored; their zone is `tz:` or else the subscriber's Slack one."""
    tz = filters.tz
    if tz is None and (filters.digest or filters.quiet):
        tz = await user_tz(client, user_id)
    return Options(filters.two_way, filters.digest, filters.quiet, tz).to_json()


# --- pure builders ------------------------------------------------------------------------------------------


def allowed_because(rule: str, resource_name: str) -> str:
    """The rule that allowed a subscription, as a sentence."""
    if rule == BY_RECIPIENTS:
        return f"Allowed because you are an SMS recipient of {resource_name} in RingCentral."
    if rule == BY_ADMIN:
        return "Allowed because you are a Slack workspace admin (THREAD_NOTE_ADMIN_SUBSCRIBE)."
    return (
        f"Allowed because you can list the conversations of {resource_name} in RingCentral (it does not let "
        "this app read SMS recipients)."
    )


def confirm_blocks(resource_name: str, channel_id: str, request: dict[str, Any]) -> list[Block]:
    value = json.dumps(request, separators=(",", ":"), ensure_ascii=False)
    if len(value) > 2000:
        value = json.dumps({**request, "f": {}}, separators=(",", ":"), ensure_ascii=False)[:2000]
    return [
        _section(
            f":warning: {_channel(channel_id)} is a *public* channel: anyone in the workspace can read it. "
            f"Notes of *{escape(resource_name)}* are internal and hold customer details. Subscribe it anyway?"
        ),
        ActionsBlock(
            elements=[
                ButtonElement(
                    text=PlainTextObject(text="Subscribe"), action_id=CONFIRM, value=value, style="danger"
                ),
                ButtonElement(text=PlainTextObject(text="Cancel"), action_id=CANCEL, value="cancel"),
            ]
        ),
    ]


def subscription_list(statuses: Sequence[SubscriptionStatus], *, everywhere: bool) -> list[Block]:
    if not statuses:
        where = "in this workspace" if everywhere else "in this channel"
        return [_section(f"No subscriptions {where} yet: `/thread-note subscribe <queue>`.")]
    blocks: list[Block] = []
    for st in statuses[:MAX_LISTED]:
        sub = st.subscription
        state = (
            ":large_green_circle: active"
            if sub.active
            else f":double_vertical_bar: *paused*: {escape(pause_reason(sub.paused_reason))}"
        )
        filters = Filters.from_json(sub.filters).describe()
        extras = [filters]
        if sub.broadcast:
            extras.append("replies also sent to the channel")
        if sub.deleted_mode == "remove":
            extras.append("deleted notes removed")
        extras += Options.from_json(sub.options).describe()
        blocks.append(
            _section(
                f"{_channel(sub.channel_id)} · *{escape(sub.resource_name)}* · {state}\n"
                f"{escape(' · '.join(extras))}"
            )
        )
        last_poll = st.last_poll.strftime("%Y-%m-%d %H:%M UTC") if st.last_poll else "never"
        blocks.append(
            ContextBlock(
                elements=[
                    _md(
                        clip(
                            f"by <@{sub.created_by}>"
                            + (f" ({escape(sub.granted_by)})" if sub.granted_by else "")
                            + f" on {sub.created_at:%Y-%m-%d %H:%M} UTC · last poll "
                            f"{last_poll} · waiting {st.outbox_depth} · lag {int(st.lag_seconds or 0)} s"
                            + (f" · last error: {escape(st.last_error)}" if st.last_error else ""),
                            2000,
                        )
                    )
                ]
            )
        )
    if len(statuses) > MAX_LISTED:
        blocks.append(_section(f"… and {len(statuses) - MAX_LISTED} more."))
    return blocks


# --- listeners ----------------------------------------------------------------------------------------------


async def confirm(
    deps: Deps, actor: Actor, ack: Any, body: dict[str, Any], respond: Any, client: AsyncWebClient
) -> None:
    """The public-channel confirmation's "Subscribe": every check is made again (`confirmed`)."""
    await ack()
    request = json.loads(body["actions"][0]["value"])
    reply = Reply(respond, replace_original=True)
    try:
        await reply(*await deps.subscriptions.confirmed(actor, request, client))
    except SubscriptionRefused as refused:
        await reply([_section(f":warning: {escape(refused.sentence)}")], refused.sentence)


async def cancel(ack: Any, respond: Any) -> None:
    await ack()
    await respond(text="Not subscribed.", replace_original=True, response_type="ephemeral")
