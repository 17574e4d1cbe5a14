"""The Web API methods of the stand-in: `POST|GET /api/<method>`.

Each method is an async function `(ctx, args) -> dict` registered in `METHODS` with the token kind it needs.
A method raises `SlackError` for `ok: false`; the pipeline in `app.py` does auth, faults, rate limits and the
record. Channel arguments are ids only (stricter than Slack, which also resolves names for some methods).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.sandbox.slack.blockkit_checks import check_blocks, check_view
from bot.sandbox.slack.workspace_data import (
    EMAIL_SCOPE,
    JSON,
    Channel,
    Message,
    SlackError,
    SlackState,
    View,
    Workspace,
    make_id,
    random_id,
)

MAX_TEXT = 40_000
MAX_STACK = 3
_REACTION = re.compile(r"^[a-z0-9_+'-]+(::skin-tone-[2-6])?$")


class Args:
    """Arguments of one call, from a form, a query string or a JSON body."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def get(self, key: str) -> Any:
        value = self.data.get(key)
        return None if value == "" else value

    def string(self, key: str) -> str | None:
        value = self.get(key)
        return None if value is None else str(value)

    def require(self, key: str, error: str) -> str:
        value = self.string(key)
        if value is None:
            raise SlackError(error)
        return value

    def flag(self, key: str) -> bool:
        value = self.get(key)
        return value is True or (isinstance(value, str | int) and str(value).lower() in ("1", "true"))

    def number(self, key: str, default: int) -> int:
        value = self.get(key)
        if value is None:
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SlackError("invalid_arguments", messages=[f"`{key}` must be an integer"]) from None

    def decoded(self, key: str, error: str) -> Any:
        """A structured argument: form encoding sends it as a JSON string, a JSON body as the object."""
        value = self.get(key)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise SlackError(error) from None
        return value


@dataclass
class Ctx:
    state: SlackState
    ws: Workspace
    token_type: str
    base_url: str
    mint_ticket: Callable[[str], str]
    # conversations.history/replies return at most this many messages a page (tier-1 profile); None: Slack's
    # usual maxima
    history_page_max: int | None = None

    def page_max(self, usual: int) -> int:
        return usual if self.history_page_max is None else min(usual, self.history_page_max)

    @property
    def now(self) -> float:
        return self.state.clock()


Handler = Callable[[Ctx, Args], Awaitable[JSON]]
METHODS: dict[str, tuple[Handler, frozenset[str]]] = {}
_H = TypeVar("_H", bound=Handler)


def method(name: str, *, tokens: Iterable[str] = ("bot",)) -> Callable[[_H], _H]:
    def register(fn: _H) -> _H:
        METHODS[name] = (fn, frozenset(tokens))
        return fn

    return register


# -- helpers -----------------------------------------------------------------------------------------------


def _visible_channel(ctx: Ctx, ref: str | None) -> Channel:
    """A channel the bot can see: public ones, and private ones it is a member of."""
    channel = ctx.ws.channels.get(ref or "")
    if channel is None or (channel.is_private and ctx.ws.bot_user_id not in channel.members):
        raise SlackError("channel_not_found")
    return channel


def _direct_message(ctx: Ctx, user_id: str) -> Channel:
    """A user id (`U…`) as channel means the app's DM with that person, opened on first use, as in Slack."""
    im_id = make_id("D", ctx.ws.team_id, "im", user_id)
    channel = ctx.ws.channels.get(im_id)
    if channel is None:
        channel = Channel(
            id=im_id,
            team_id=ctx.ws.team_id,
            name=user_id,
            is_private=True,
            is_im=True,
            members=[ctx.ws.bot_user_id, user_id],
        )
        ctx.ws.channels[im_id] = channel
    return channel


def _member_channel(ctx: Ctx, ref: str | None, *, writing: bool = True) -> Channel:
    user = ctx.ws.users.get(ref or "")
    if user is not None and not user.is_bot:
        return _direct_message(ctx, user.id)
    channel = _visible_channel(ctx, ref)
    if writing and channel.is_archived:
        raise SlackError("is_archived")
    if ctx.ws.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")
    return channel


def _content(a: Args, *, required: bool = True) -> tuple[str | None, list[JSON] | None]:
    """(text, blocks) after Slack's checks: no_text, msg_too_long, invalid_blocks(_format)."""
    if a.get("attachments") is not None:
        raise SlackError("invalid_arguments", messages=["the stand-in does not accept legacy `attachments`"])
    text = a.string("text")
    blocks = a.decoded("blocks", "invalid_blocks_format")
    if blocks is not None and not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    if required and not text and not blocks:
        raise SlackError("no_text")
    if text is not None and len(text) > MAX_TEXT:
        raise SlackError("msg_too_long")
    if blocks is not None:
        problems = check_blocks(blocks)
        if problems:
            raise SlackError("invalid_blocks", messages=problems)
    return text, blocks


def _metadata(a: Args) -> JSON | None:
    meta = a.decoded("metadata", "invalid_metadata_format")
    if meta is None:
        return None
    if (
        not isinstance(meta, dict)
        or not isinstance(meta.get("event_type"), str)
        or not meta["event_type"]
        or not isinstance(meta.get("event_payload"), dict)
        or set(meta) - {"event_type", "event_payload"}
    ):
        raise SlackError("invalid_metadata_format")
    if len(json.dumps(meta)) > 8000:
        raise SlackError("metadata_too_large")
    return {"event_type": meta["event_type"], "event_payload": meta["event_payload"]}


def _find(channel: Channel, ts: str | None) -> Message:
    msg = channel.index.get(ts or "")
    if msg is None or msg.deleted:
        raise SlackError("message_not_found")
    return msg


def _page(items: list[Any], a: Args, *, default: int, maximum: int) -> tuple[list[Any], str]:
    limit = min(max(a.number("limit", default), 1), maximum)
    cursor = a.string("cursor")
    start = 0
    if cursor:
        try:
            kind, _, offset = base64.b64decode(cursor, validate=True).decode().partition(":")
            start = int(offset)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise SlackError("invalid_cursor") from None
        if kind != "offset" or not 0 <= start <= len(items):
            raise SlackError("invalid_cursor")
    end = start + limit
    next_cursor = base64.b64encode(f"offset:{end}".encode()).decode() if end < len(items) else ""
    return items[start:end], next_cursor


def _paged(key: str, items: list[Any], a: Args, *, default: int, maximum: int) -> JSON:
    page, next_cursor = _page(items, a, default=default, maximum=maximum)
    return {
        "ok": True,
        key: page,
        "has_more": bool(next_cursor),
        "response_metadata": {"next_cursor": next_cursor},
    }


def _in_window(items: list[Message], a: Args) -> list[Message]:
    inclusive = a.flag("inclusive")
    try:
        oldest = float(a.string("oldest") or 0)
        latest = float(a.string("latest") or "inf")
    except ValueError:
        raise SlackError(
            "invalid_ts_oldest" if not _is_ts(a.string("oldest")) else "invalid_ts_latest"
        ) from None

    def keep(m: Message) -> bool:
        ts = float(m.ts)
        if inclusive:
            return oldest <= ts <= latest
        return oldest < ts < latest

    return [m for m in items if keep(m)]


def _is_ts(value: str | None) -> bool:
    try:
        float(value or 0)
    except ValueError:
        return False
    return True


# -- auth and apps -----------------------------------------------------------------------------------------


@method("auth.test", tokens=("bot", "app"))
async def auth_test(ctx: Ctx, a: Args) -> JSON:
    ws = ctx.ws
    out: JSON = {
        "ok": True,
        "url": f"https://{ws.domain}.slack.com/",
        "team": ws.name,
        "team_id": ws.team_id,
        "is_enterprise_install": False,
    }
    if ctx.token_type == "bot":
        out.update(user="thread-notes", user_id=ws.bot_user_id, bot_id=ws.bot_id)
    else:
        out.update(app_id=ws.app_id)
    return out


@method("apps.connections.open", tokens=("app",))
async def apps_connections_open(ctx: Ctx, a: Args) -> JSON:
    ticket = ctx.mint_ticket(ctx.ws.team_id)
    ws_base = ctx.base_url.replace("http://", "ws://", 1).rstrip("/")
    return {"ok": True, "url": f"{ws_base}/sandbox/slack/socket?ticket={ticket}"}


# -- chat --------------------------------------------------------------------------------------------------


@method("chat.postMessage")
async def chat_post_message(ctx: Ctx, a: Args) -> JSON:
    channel = _member_channel(ctx, a.string("channel"))
    text, blocks = _content(a)
    metadata = _metadata(a)
    thread_ts = a.string("thread_ts")
    parent: Message | None = None
    if thread_ts is not None:
        parent = channel.index.get(thread_ts)
        if parent is None or parent.deleted or not parent.is_parent:
            raise SlackError("thread_not_found")
    ws = ctx.ws
    msg = Message(
        ts=ctx.state.next_ts(),
        channel=channel.id,
        team_id=ws.team_id,
        user=ws.bot_user_id,
        text=text or "",
        blocks=blocks or [],
        bot_id=ws.bot_id,
        app_id=ws.app_id,
        metadata=metadata,
        thread_ts=thread_ts,
        reply_broadcast=parent is not None and a.flag("reply_broadcast"),
    )
    channel.index[msg.ts] = msg
    if parent is not None:
        parent.replies.append(msg)
    else:
        channel.messages.append(msg)
    return {"ok": True, "channel": channel.id, "ts": msg.ts, "message": msg.to_api()}


@method("chat.update")
async def chat_update(ctx: Ctx, a: Args) -> JSON:
    channel = _visible_channel(ctx, a.string("channel"))
    if channel.is_archived:
        raise SlackError("is_archived")
    msg = _find(channel, a.string("ts"))
    if msg.bot_id != ctx.ws.bot_id:
        raise SlackError("cant_update_message")
    text, blocks = _content(a)
    metadata = _metadata(a)
    if text is not None:
        msg.text = text
    if blocks is not None:
        msg.blocks = blocks
    if metadata is not None:
        msg.metadata = metadata
    msg.edited = {"user": ctx.ws.bot_user_id, "ts": ctx.state.next_ts()}
    return {"ok": True, "channel": channel.id, "ts": msg.ts, "text": msg.text, "message": msg.to_api()}


@method("chat.delete")
async def chat_delete(ctx: Ctx, a: Args) -> JSON:
    channel = _visible_channel(ctx, a.string("channel"))
    if channel.is_archived:
        raise SlackError("is_archived")
    msg = _find(channel, a.string("ts"))
    if msg.bot_id != ctx.ws.bot_id:
        raise SlackError("cant_delete_message")
    msg.deleted = True
    return {"ok": True, "channel": channel.id, "ts": msg.ts}


@method("chat.postEphemeral")
async def chat_post_ephemeral(ctx: Ctx, a: Args) -> JSON:
    channel = _member_channel(ctx, a.string("channel"))
    user = ctx.ws.users.get(a.require("user", "user_not_found"))
    if user is None:
        raise SlackError("user_not_found")
    if user.id not in channel.members:
        raise SlackError("user_not_in_channel")
    text, blocks = _content(a)
    ts = ctx.state.next_ts()
    ctx.ws.ephemerals.append(
        {
            "channel": channel.id,
            "user": user.id,
            "text": text or "",
            "blocks": blocks or [],
            "thread_ts": a.string("thread_ts"),
            "message_ts": ts,
        }
    )
    return {"ok": True, "message_ts": ts}


@method("chat.getPermalink")
async def chat_get_permalink(ctx: Ctx, a: Args) -> JSON:
    channel = _visible_channel(ctx, a.string("channel"))
    msg = _find(channel, a.string("message_ts"))
    link = f"https://{ctx.ws.domain}.slack.com/archives/{channel.id}/p{msg.ts.replace('.', '')}"
    if not msg.is_parent:
        link += f"?thread_ts={msg.thread_ts}&cid={channel.id}"
    return {"ok": True, "channel": channel.id, "permalink": link}


# -- views -------------------------------------------------------------------------------------------------


def _exchange_trigger(ctx: Ctx, a: Args) -> str:
    """The user a valid trigger was minted for; the trigger is spent by this call."""
    trigger = ctx.state.triggers.get(a.string("trigger_id") or "")
    if trigger is None or trigger.team_id != ctx.ws.team_id:
        raise SlackError("invalid_trigger_id")
    if trigger.used:
        raise SlackError("exchanged_trigger_id")
    trigger.used = True
    if ctx.now > trigger.expires_at:
        raise SlackError("expired_trigger_id")
    return trigger.user


def _view_payload(ctx: Ctx, a: Args, *, kind: str, keep_external_id: str = "") -> JSON:
    view = a.decoded("view", "invalid_arguments")
    if view is None:
        raise SlackError("invalid_arguments", messages=["missing required field: view [json-pointer:/view]"])
    problems = check_view(view)
    if not problems and view.get("type") != kind:
        problems = [f"must be {kind} for this method [json-pointer:/view/type]"]
    if problems:
        raise SlackError("invalid_arguments", messages=problems)
    external_id = view.get("external_id") or keep_external_id
    if (
        external_id
        and external_id != keep_external_id
        and any(v.external_id == external_id for v in ctx.ws.views.values())
    ):
        raise SlackError("duplicate_external_id")
    return {**view, "external_id": external_id} if external_id else dict(view)


def _new_view(
    ctx: Ctx, user: str, payload: JSON, root: str | None = None, previous: str | None = None
) -> View:
    view_id = random_id("V")
    view = View(
        id=view_id,
        team_id=ctx.ws.team_id,
        user=user,
        app_id=ctx.ws.app_id,
        bot_id=ctx.ws.bot_id,
        payload=payload,
        hash=_new_hash(ctx),
        root_view_id=root or view_id,
        previous_view_id=previous,
    )
    ctx.ws.views[view_id] = view
    return view


def _new_hash(ctx: Ctx) -> str:
    return f"{int(ctx.now)}.{secrets.token_urlsafe(6)}"


@method("views.open")
async def views_open(ctx: Ctx, a: Args) -> JSON:
    user = _exchange_trigger(ctx, a)
    view = _new_view(ctx, user, _view_payload(ctx, a, kind="modal"))
    ctx.ws.modal_stacks[user] = [view.id]
    return {"ok": True, "view": view.to_api()}


@method("views.push")
async def views_push(ctx: Ctx, a: Args) -> JSON:
    user = _exchange_trigger(ctx, a)
    stack = ctx.ws.modal_stacks.setdefault(user, [])
    if len(stack) >= MAX_STACK:
        raise SlackError("push_limit_reached")
    payload = _view_payload(ctx, a, kind="modal")
    root = stack[0] if stack else None
    view = _new_view(ctx, user, payload, root=root, previous=stack[-1] if stack else None)
    stack.append(view.id)
    return {"ok": True, "view": view.to_api()}


@method("views.update")
async def views_update(ctx: Ctx, a: Args) -> JSON:
    view_id, external_id = a.string("view_id"), a.string("external_id")
    if view_id is None and external_id is None:
        raise SlackError("invalid_arguments", messages=["one of view_id, external_id is required"])
    if view_id is not None:
        view = ctx.ws.views.get(view_id)
    else:
        view = next((v for v in ctx.ws.views.values() if v.external_id == external_id), None)
    if view is None:
        raise SlackError("not_found")
    expected = a.string("hash")
    if expected is not None and expected != view.hash:
        raise SlackError("hash_conflict")
    view.payload = _view_payload(ctx, a, kind=str(view.payload["type"]), keep_external_id=view.external_id)
    view.hash = _new_hash(ctx)
    return {"ok": True, "view": view.to_api()}


@method("views.publish")
async def views_publish(ctx: Ctx, a: Args) -> JSON:
    user = ctx.ws.users.get(a.string("user_id") or "")
    if user is None or user.is_bot:
        raise SlackError("user_not_found")
    current = ctx.ws.views.get(ctx.ws.home_views.get(user.id, ""))
    expected = a.string("hash")
    if expected is not None and (current is None or expected != current.hash):
        raise SlackError("hash_conflict")
    payload = _view_payload(ctx, a, kind="home", keep_external_id=current.external_id if current else "")
    if current is None:
        current = _new_view(ctx, user.id, payload)
        ctx.ws.home_views[user.id] = current.id
    else:
        current.payload, current.hash = payload, _new_hash(ctx)
    return {"ok": True, "view": current.to_api()}


# -- users -------------------------------------------------------------------------------------------------


@method("users.info")
async def users_info(ctx: Ctx, a: Args) -> JSON:
    user = ctx.ws.users.get(a.string("user") or "")
    if user is None:
        raise SlackError("user_not_found")
    email = EMAIL_SCOPE in ctx.ws.scopes
    return {
        "ok": True,
        "user": user.to_api(ctx.now, include_locale=a.flag("include_locale"), include_email=email),
    }


@method("users.list")
async def users_list(ctx: Ctx, a: Args) -> JSON:
    email = EMAIL_SCOPE in ctx.ws.scopes
    members = [
        u.to_api(ctx.now, include_locale=a.flag("include_locale"), include_email=email)
        for u in ctx.ws.users.values()
    ]
    out = _paged("members", members, a, default=200, maximum=1000)
    out["cache_ts"] = int(ctx.now)
    return out


# -- conversations -----------------------------------------------------------------------------------------


@method("conversations.info")
async def conversations_info(ctx: Ctx, a: Args) -> JSON:
    channel = _visible_channel(ctx, a.string("channel"))
    return {
        "ok": True,
        "channel": channel.to_api(ctx.ws.bot_user_id, include_num_members=a.flag("include_num_members")),
    }


@method("conversations.members")
async def conversations_members(ctx: Ctx, a: Args) -> JSON:
    channel = _visible_channel(ctx, a.string("channel"))
    return _paged("members", list(channel.members), a, default=100, maximum=1000)


@method("conversations.join")
async def conversations_join(ctx: Ctx, a: Args) -> JSON:
    channel = _visible_channel(ctx, a.string("channel"))
    if channel.is_private:
        raise SlackError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise SlackError("is_archived")
    out: JSON = {"ok": True}
    if ctx.ws.bot_user_id in channel.members:
        out["warning"] = "already_in_channel"
        out["response_metadata"] = {"warnings": ["already_in_channel"]}
    else:
        channel.members.append(ctx.ws.bot_user_id)
    out["channel"] = channel.to_api(ctx.ws.bot_user_id)
    return out


@method("conversations.history")
async def conversations_history(ctx: Ctx, a: Args) -> JSON:
    channel = _member_channel(ctx, a.string("channel"), writing=False)
    items: list[Message] = []
    for msg in channel.top_level():
        items.append(msg)
        items += [r for r in msg.live_replies() if r.reply_broadcast]
    items = sorted(_in_window(items, a), key=lambda m: float(m.ts), reverse=True)
    meta = a.flag("include_all_metadata")
    out = _paged("messages", items, a, default=ctx.page_max(100), maximum=ctx.page_max(999))
    out["messages"] = [_with_parent(channel, m, meta) for m in out["messages"]]
    out["pin_count"] = 0
    return out


@method("conversations.replies")
async def conversations_replies(ctx: Ctx, a: Args) -> JSON:
    channel = _member_channel(ctx, a.string("channel"), writing=False)
    msg = channel.index.get(a.require("ts", "thread_not_found"))
    if msg is None or (msg.deleted and not msg.live_replies()):
        raise SlackError("thread_not_found")
    parent = msg if msg.is_parent else channel.index[msg.thread_ts or ""]
    items = [parent, *_in_window(parent.live_replies(), a)]
    meta = a.flag("include_all_metadata")
    out = _paged("messages", items, a, default=ctx.page_max(1000), maximum=ctx.page_max(1000))
    out["messages"] = [_with_parent(channel, m, meta) for m in out["messages"]]
    return out


def _with_parent(channel: Channel, msg: Message, include_metadata: bool) -> JSON:
    out = msg.to_api(include_metadata=include_metadata)
    if not msg.is_parent:
        parent = channel.index.get(msg.thread_ts or "")
        if parent is not None:
            out["parent_user_id"] = parent.user
    return out


# -- reactions ---------------------------------------------------------------------------------------------


@method("reactions.add")
async def reactions_add(ctx: Ctx, a: Args) -> JSON:
    channel = _member_channel(ctx, a.string("channel"))
    msg = _find(channel, a.string("timestamp"))
    name = (a.string("name") or "").strip(":")
    if not _REACTION.match(name):
        raise SlackError("invalid_name")
    users = msg.reactions.setdefault(name, [])
    if ctx.ws.bot_user_id in users:
        raise SlackError("already_reacted")
    users.append(ctx.ws.bot_user_id)
    return {"ok": True}
