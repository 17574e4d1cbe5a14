"""Answering a person: privately through a response_url, or as an ephemeral/DM message when there is none;
in the modal they have open (`update_view`). `Asker`: who asked, where, and how to answer them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import get_logger
from bot.notify.shared import external_person
from bot.service.types import Actor
from bot.slack import text

log = get_logger(__name__)

_TZ: TTLCache[str, str] = TTLCache(maxsize=4096, ttl=3600)


class Reply:
    """`await reply(blocks, text)` — answers through Bolt's `respond` (ephemeral unless told otherwise)."""

    def __init__(self, respond: Any, *, replace_original: bool = False) -> None:
        self._respond = respond
        self._replace = replace_original

    async def __call__(self, blocks: Sequence[Block | dict[str, Any]], text: str) -> None:
        kwargs: dict[str, Any] = {"blocks": list(blocks), "text": text, "response_type": "ephemeral"}
        if self._replace:
            kwargs["replace_original"] = True
        await self._respond(**kwargs)


@dataclass(frozen=True)
class Asker:
    """The person behind a command (typed, or finished from a button): who they are, the channel they asked
    in (None outside one), how to answer them, and the workspace's Web API client."""

    actor: Actor
    reply: Reply
    client: AsyncWebClient
    channel_id: str | None


async def user_tz(client: AsyncWebClient, user_id: str) -> str:
    """The person's time zone name from their Slack profile (cached for an hour; UTC when unknown)."""
    cached: str | None = _TZ.get(user_id)
    if cached:
        return cached
    try:
        info = await client.users_info(user=user_id)
        tz = str((info.get("user") or {}).get("tz") or "UTC")
    except SlackApiError:
        tz = "UTC"
    _TZ[user_id] = tz
    return tz


async def tell_user(
    client: AsyncWebClient,
    user_id: str,
    blocks: Sequence[Block | dict[str, Any]],
    text: str,
    *,
    channel_id: str | None = None,
    thread_ts: str | None = None,
) -> None:
    """An ephemeral message in `channel_id` when given (falling back to a DM), else a DM from the app."""
    if channel_id:
        try:
            await client.chat_postEphemeral(
                channel=channel_id, user=user_id, blocks=list(blocks), text=text, thread_ts=thread_ts
            )
            return
        except SlackApiError:
            pass  # e.g. the bot is not in that channel: the DM below still reaches the person
    await client.chat_postMessage(channel=user_id, blocks=list(blocks), text=text)


async def user_names(client: AsyncWebClient, user_ids: Iterable[str]) -> dict[str, str]:
    """Display names for Slack user ids (missing ones are left out)."""
    names: dict[str, str] = {}
    for uid in set(user_ids):
        try:
            info = (await client.users_info(user=uid)).get("user") or {}
        except SlackApiError:
            continue
        profile = info.get("profile") or {}
        names[uid] = profile.get("display_name") or info.get("real_name") or info.get("name") or uid
    return names


async def plain_text(client: AsyncWebClient, slack_text: str) -> str:
    """Slack markup typed in a command, as the plain words a RingCentral note should hold."""
    names = await user_names(client, text.mentioned_user_ids(slack_text))
    return text.message_to_plain(slack_text, names).strip()


GUEST_SENTENCE = (
    "You are here from another organisation (Slack Connect), so you can't connect a RingCentral account to "
    "this workspace's app or act on its notes."
)


async def from_elsewhere(client: AsyncWebClient, actor: Actor) -> bool:
    """A person of another organisation (in a Slack Connect channel): `users.info` gives their own
    organisation's `team_id`. They get no connect link and count as no admin here."""
    try:
        user = (await client.users_info(user=actor.user_id)).get("user") or {}
    except SlackApiError:
        return False
    return external_person(user, actor.team_id)


async def update_view(client: AsyncWebClient, view_id: str, view: Any, *, hash_: str | None = None) -> bool:
    """Replace the person's open modal (`views.update`); False when Slack refused, e.g. `hash_conflict`."""
    try:
        await client.views_update(view_id=view_id, view=view, hash=hash_)
        return True
    except SlackApiError as exc:  # hash_conflict: the person already changed the modal; leave it be
        log.info("modal.update_skipped", error=exc.response.get("error"))
        return False
