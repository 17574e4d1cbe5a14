"""Two-way threads: a person's reply in the Slack thread of a conversation becomes a note on it.

Only in channels with a `two-way` subscription to the conversation's resource, and only for replies in a
Slack thread the bot opened for a RingCentral thread (`slack_threads`). The note is written with the
replying person's own RingCentral token (`Notes.add(..., source="slack-thread")`, audited), so RingCentral's
rules apply to the real person. Then:

- done: the bot reacts to the reply with :white_check_mark:; the reply itself stands for the note in that
  channel (the sender never posts it back, see `bot/notify/sender.py`);
- refused (not connected — with a connect link —, not a handler, conversation resolved, too long, …): the
  listener raises and the one error path (`bot/slack/errors.py`) answers that person privately in the
  thread, with one sentence and their text kept.

An edit of such a reply (`message_changed`) edits the note; a deletion (`message_deleted`) deletes it — as
the person who wrote it, where RingCentral allows it (an Open conversation, the author). Ignored: the bot's
own messages (also dropped by Bolt's `IgnoringSelfEvents`), other bots, other subtypes (joins, topic
changes, files shares without text), replies outside a known Slack thread, and Slack's retries of an event
(the Slack message is claimed in the store before the note is made, so a retry, or a second replica, finds
the claim and stops; edits and deletions also dedupe by event id and by state).
"""

from __future__ import annotations

from typing import Any

from cachetools import TTLCache
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import get_logger
from bot.notify.options import Options
from bot.service.tenants import account_key_for_team
from bot.service.types import Actor
from bot.slack.deps import Deps
from bot.slack.replies import plain_text
from bot.store.protocols import TwoWayStore
from bot.store.slack_notes import SlackNote

log = get_logger(__name__)

CONFIRM_REACTION = "white_check_mark"
_NEW = (None, "thread_broadcast")


def _bot(message: dict[str, Any]) -> bool:
    return bool(message.get("bot_id")) or message.get("subtype") == "bot_message"


class TwoWay:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._seen: TTLCache[str, bool] = TTLCache(maxsize=4096, ttl=600)

    @property
    def _store(self) -> TwoWayStore:
        return self._deps.store

    def first_time(self, event_id: str | None) -> bool:
        """False for an event id seen in the last ten minutes (Slack retries with the same id)."""
        if not event_id:
            return True
        if event_id in self._seen:
            return False
        self._seen[event_id] = True
        return True

    async def _two_way_thread(
        self, store: TwoWayStore, team: str, channel: str, thread_ts: str
    ) -> str | None:
        """The RingCentral thread of this Slack thread, when a two-way subscription of its resource holds."""
        found = await store.slack_thread_by_ts(team, channel, thread_ts)
        if found is None:
            return None
        account = await account_key_for_team(store, team)  # the thread as this workspace's account has it
        cached = (await store.cached_threads([found.thread_id], account=account)).get(found.thread_id) or {}
        resource = (cached.get("owner") or {}).get("extensionId")
        for sub in await store.list_subscriptions(team_id=team, channel_id=channel, status="active"):
            if Options.from_json(sub.options).two_way and (resource is None or sub.resource_id == resource):
                return found.thread_id
        return None

    async def on_message(self, body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient) -> None:
        """The listener of every message event: a new reply, an edit or a deletion in a two-way thread."""
        subtype = event.get("subtype")
        if _bot(event) and subtype not in ("message_changed", "message_deleted"):
            return
        if subtype not in (*_NEW, "message_changed", "message_deleted"):
            return
        if not self.first_time(body.get("event_id")):
            return
        team = str(body.get("team_id") or event.get("team") or "")
        if subtype in _NEW:
            await self.reply(team, event, client)
        elif subtype == "message_changed":
            await self.edited(team, event, client)
        else:
            await self.deleted(team, event)

    async def reply(self, team: str, event: dict[str, Any], client: AsyncWebClient) -> None:
        store = self._store
        channel, ts, thread_ts, user = (
            event.get("channel"),
            event.get("ts"),
            event.get("thread_ts"),
            event.get("user"),
        )
        if not (channel and ts and thread_ts and user) or thread_ts == ts:
            return
        thread_id = await self._two_way_thread(store, team, channel, thread_ts)
        if thread_id is None:
            return
        text = await plain_text(client, str(event.get("text") or ""))
        if not text:
            return  # notes are text only (a file without words)
        if not await store.claim_slack_note(team, channel, ts, thread_id, user):
            log.info("two_way.duplicate", channel_id=channel, ts=ts)
            return
        try:
            note, _ = await self._deps.notes.add(
                Actor(team, user), text, thread_id=thread_id, source="slack-thread"
            )
        except BaseException:
            await store.set_slack_note(team, channel, ts, state="refused")
            raise
        await store.set_slack_note(team, channel, ts, state="created", note_id=note.id)
        log.info("two_way.noted", channel_id=channel, ts=ts, note_id=note.id)
        try:
            await client.reactions_add(channel=channel, timestamp=ts, name=CONFIRM_REACTION)
        except SlackApiError as exc:  # the note stands; the reaction is a courtesy
            log.info("two_way.react_failed", error=exc.response.get("error"))

    async def _mapped(self, team: str, channel: str | None, ts: str | None) -> SlackNote | None:
        store = self._store
        if not channel or not ts:
            return None
        mapped = await store.slack_note_by_ts(team, channel, ts)
        return mapped if mapped is not None and mapped.note_id and mapped.state == "created" else None

    async def edited(self, team: str, event: dict[str, Any], client: AsyncWebClient) -> None:
        message = event.get("message") or {}
        before = event.get("previous_message") or {}
        if _bot(message) or message.get("text") == before.get("text"):
            return  # another bot, or not a change of the words (an unfurl, a reaction)
        mapped = await self._mapped(team, event.get("channel"), message.get("ts"))
        if mapped is None or mapped.note_id is None or message.get("user") != mapped.user_id:
            return
        text = await plain_text(client, str(message.get("text") or ""))
        if not text:
            return
        await self._deps.notes.edit(Actor(team, mapped.user_id), mapped.note_id, text)
        log.info("two_way.edited", note_id=mapped.note_id)

    async def deleted(self, team: str, event: dict[str, Any]) -> None:
        if _bot(event.get("previous_message") or {}):
            return
        mapped = await self._mapped(team, event.get("channel"), event.get("deleted_ts"))
        store = self._store
        if mapped is None or mapped.note_id is None:
            return
        if not await store.set_slack_note(
            team, mapped.channel_id, mapped.ts, state="deleted", expect="created"
        ):
            return  # another delivery of this deletion got there first
        try:
            await self._deps.notes.delete(Actor(team, mapped.user_id), [mapped.note_id])
        except BaseException:
            await store.set_slack_note(team, mapped.channel_id, mapped.ts, state="created", expect="deleted")
            raise
        log.info("two_way.deleted", note_id=mapped.note_id)
