"""Control routes under `/sandbox/slack/` (tests and `demo` only; the bot never calls them).

Bad requests answer HTTP 400 `{"ok": false, "error": "bad_request", "detail": "..."}`; an unknown
workspace, channel or user answers 404 the same way. Channels and users may be named (`general`, `alice`)
or given by id; `team_id` is optional everywhere and defaults to the first workspace.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from bot.sandbox.slack.blockkit_checks import check_blocks
from bot.sandbox.slack.events import EventEmitter
from bot.sandbox.slack.limits import ControlError, Faults, RateLimits
from bot.sandbox.slack.seed import build_workspace
from bot.sandbox.slack.workspace_data import (
    JSON,
    Channel,
    Message,
    ShiftableClock,
    SlackState,
    User,
    Workspace,
    make_id,
    random_id,
)

_CHANNEL_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")


class NotFound(LookupError):
    """An unknown workspace, channel, user or response URL (answered with 404)."""


def _bad(status: int, detail: str) -> JSONResponse:
    return JSONResponse(
        {"ok": False, "error": "bad_request" if status == 400 else "not_found", "detail": detail},
        status_code=status,
    )


def guarded(fn: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """Turns ControlError/NotFound into 400/404 answers."""

    async def endpoint(request: Request) -> Response:
        try:
            return await fn(request)
        except ControlError as exc:
            return _bad(400, str(exc))
        except NotFound as exc:
            return _bad(404, str(exc))
        except ValueError as exc:  # malformed JSON body
            return _bad(400, f"malformed request: {exc}")

    endpoint.__name__ = fn.__name__
    endpoint.__doc__ = fn.__doc__
    return endpoint


async def _body(request: Request) -> JSON:
    raw = await request.body()
    if not raw:
        return {}
    body = await request.json()
    if not isinstance(body, dict):
        raise ControlError("the body must be a JSON object")
    return body


class Control:
    """The handlers; routes are wired in `app.py`."""

    def __init__(
        self,
        state: SlackState,
        faults: Faults,
        limits: RateLimits,
        clock: ShiftableClock,
        events: EventEmitter | None = None,
    ) -> None:
        self.state = state
        self.faults = faults
        self.limits = limits
        self.clock = clock
        self.events = events

    # -- lookups --------------------------------------------------------------------------------------------

    def ws(self, team_id: Any) -> Workspace:
        try:
            return self.state.workspace(team_id or None)
        except KeyError:
            raise NotFound(f"no workspace {team_id}") from None

    def channel(self, ws: Workspace, ref: Any) -> Channel:
        if not isinstance(ref, str) or not ref:
            raise ControlError("`channel` is required (an id or a name)")
        channel = ws.channel(ref)
        if channel is None:
            raise NotFound(f"no channel {ref} in {ws.team_id}")
        return channel

    def user(self, ws: Workspace, ref: Any) -> User:
        if ref in ("bot", "@bot"):
            return ws.users[ws.bot_user_id]
        if not isinstance(ref, str) or not ref:
            raise ControlError("`user` is required (an id or a name)")
        user = ws.user(ref)
        if user is None:
            raise NotFound(f"no user {ref} in {ws.team_id}")
        return user

    # -- workspaces, users, channels ------------------------------------------------------------------------

    async def list_workspaces(self, request: Request) -> Response:
        return JSONResponse({"workspaces": [ws.credentials() for ws in self.state.workspaces.values()]})

    async def add_workspace(self, request: Request) -> Response:
        """`{name?, team_id?, domain?}` → the new workspace's credentials (tokens, signing secret, ids)."""
        body = await _body(request)
        n = len(self.state.workspaces) + 1
        name = str(body.get("name") or f"Sandbox {n}")
        team_id = str(body.get("team_id") or make_id("T", name, str(n)))
        if team_id in self.state.workspaces:
            raise ControlError(f"workspace {team_id} exists")
        domain = str(body.get("domain") or re.sub(r"[^a-z0-9-]", "-", name.lower()))
        ws = self.state.add_workspace(build_workspace(team_id, name, domain))
        return JSONResponse(ws.credentials(), status_code=201)

    async def add_user(self, request: Request) -> Response:
        """`{name, real_name?, tz?, is_admin?, is_owner?, email?, channels?: [...], team_id?}` → the user."""
        body = await _body(request)
        ws = self.ws(body.get("team_id"))
        name = body.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9._-]{1,80}", name):
            raise ControlError("`name` is required: lowercase letters, digits, `.`, `_`, `-`")
        if ws.user(name) is not None:
            raise ControlError(f"user {name} exists")
        user = User(
            id=make_id("U", ws.team_id, name),
            team_id=ws.team_id,
            name=name,
            real_name=str(body.get("real_name") or name.title()),
            tz=str(body.get("tz") or "UTC"),
            is_admin=bool(body.get("is_admin") or body.get("is_owner")),
            is_owner=bool(body.get("is_owner")),
            email=str(body.get("email") or f"{name}@{ws.domain}.example.com"),
        )
        ws.users[user.id] = user
        for ref in body.get("channels", []):
            self.channel(ws, ref).members.append(user.id)
        return JSONResponse(user.to_api(self.clock()), status_code=201)

    async def set_scopes(self, request: Request) -> Response:
        """`{scopes: [...], team_id?}`: the scopes the workspace's bot token was granted (as after a
        reinstall); only `users:read.email` changes answers (emails in users.info / users.list)."""
        body = await _body(request)
        ws = self.ws(body.get("team_id"))
        scopes = body.get("scopes")
        if not isinstance(scopes, list) or not all(isinstance(x, str) for x in scopes):
            raise ControlError("`scopes` is a list of scope names")
        ws.scopes = frozenset(scopes)
        return JSONResponse({"ok": True, "scopes": sorted(ws.scopes)})

    async def list_channels(self, request: Request) -> Response:
        ws = self.ws(request.query_params.get("team_id"))
        return JSONResponse({"channels": [self._channel_json(ws, c) for c in ws.channels.values()]})

    def _channel_json(self, ws: Workspace, channel: Channel) -> JSON:
        out = channel.to_api(ws.bot_user_id, include_num_members=True)
        out["members"] = list(channel.members)
        return out

    async def change_channel(self, request: Request) -> Response:
        """`{action: create|archive|unarchive|rename|convert|add_members|remove_members, ...}`."""
        body = await _body(request)
        ws = self.ws(body.get("team_id"))
        action = body.get("action", "create")
        if action == "create":
            channel = self._create_channel(ws, body)
            return JSONResponse(self._channel_json(ws, channel), status_code=201)
        channel = self.channel(ws, body.get("channel"))
        if action in ("archive", "unarchive"):
            channel.is_archived = action == "archive"
        elif action == "rename":
            channel.name = self._new_name(ws, body.get("name"))
        elif action == "convert":
            channel.is_private = bool(body.get("private", not channel.is_private))
        elif action in ("share", "invite_org", "unshare"):
            self._share(ws, channel, action, body)
        elif action in ("add_members", "remove_members"):
            refs = body.get("members")
            if not isinstance(refs, list) or not refs:
                raise ControlError("`members` is a non-empty list of users (`bot` for the bot)")
            for ref in refs:
                uid = self.user(ws, ref).id
                if action == "add_members" and uid not in channel.members:
                    channel.members.append(uid)
                elif action == "remove_members" and uid in channel.members:
                    channel.members.remove(uid)
        else:
            raise ControlError(f"unknown action {action!r}")
        return JSONResponse(self._channel_json(ws, channel))

    def _share(self, ws: Workspace, channel: Channel, action: str, body: JSON) -> None:
        """Slack Connect: `invite_org` (pending: the other organisation has not accepted yet), `share` (it
        is in, with one external person, `ext-<org>`, an admin of their own organisation, in the channel), or
        `unshare`; `{org: name}` names the other organisation."""
        org = body.get("org")
        if not isinstance(org, str) or not org:
            raise ControlError("`org` (the other organisation's name) is required")
        other = make_id("T", "external", org)
        for group in (channel.shared_with, channel.pending_with):
            if other in group:
                group.remove(other)
        if action == "invite_org":
            channel.pending_with.append(other)
        elif action == "share":
            channel.shared_with.append(other)
            slug = re.sub(r"[^a-z0-9]", "", org.lower()) or "org"
            person = User(
                id=make_id("U", other, "ext"), team_id=other, name=f"ext-{slug}", real_name=f"{org} Admin",
                is_admin=True, is_owner=True, email=f"admin@{slug}.example.org",
            )  # fmt: skip
            ws.users.setdefault(person.id, person)
            if person.id not in channel.members:
                channel.members.append(person.id)

    def _new_name(self, ws: Workspace, name: Any) -> str:
        if not isinstance(name, str) or not _CHANNEL_NAME.match(name):
            raise ControlError("channel names are 1-80 of lowercase letters, digits, `-`, `_`")
        if ws.channel(name) is not None:
            raise ControlError(f"name_taken: #{name} exists")
        return name

    def _create_channel(self, ws: Workspace, body: JSON) -> Channel:
        name = self._new_name(ws, body.get("name"))
        members = [self.user(ws, ref).id for ref in body.get("members", [])]
        if body.get("bot", True) and ws.bot_user_id not in members:
            members.append(ws.bot_user_id)
        channel = Channel(
            id=random_id("C"),
            team_id=ws.team_id,
            name=name,
            is_private=bool(body.get("private")),
            created=int(self.clock()),
            creator=members[0] if members else "",
            members=members,
        )
        ws.channels[channel.id] = channel
        return channel

    # -- messages -------------------------------------------------------------------------------------------

    async def messages(self, request: Request) -> Response:
        """`?channel=` → the channel's messages as they stand now, oldest first, replies nested."""
        q = request.query_params
        ws = self.ws(q.get("team_id"))
        channel = self.channel(ws, q.get("channel"))
        return JSONResponse(
            {
                "channel": channel.id,
                "name": channel.name,
                "messages": [m.to_sandbox() for m in channel.top_level()],
            }
        )

    async def post_as_user(self, request: Request) -> Response:
        """`{channel, user, text, thread_ts?, blocks?}`: a person writes in a channel (members only)."""
        body = await _body(request)
        ws = self.ws(body.get("team_id"))
        channel = self.channel(ws, body.get("channel"))
        user = self.user(ws, body.get("user"))
        if user.id not in channel.members:
            raise ControlError(f"{user.name} is not a member of #{channel.name}")
        text, blocks = body.get("text"), body.get("blocks") or []
        if not isinstance(text, str) or not text:
            raise ControlError("`text` is required")
        problems = check_blocks(blocks)
        if problems:
            raise ControlError("; ".join(problems))
        thread_ts = body.get("thread_ts")
        parent = channel.index.get(thread_ts) if thread_ts else None
        if thread_ts and (parent is None or not parent.is_parent):
            raise ControlError(f"no thread {thread_ts} in #{channel.name}")
        msg = Message(
            ts=self.state.next_ts(),
            channel=channel.id,
            team_id=ws.team_id,
            user=user.id,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
        )
        channel.index[msg.ts] = msg
        (parent.replies if parent is not None else channel.messages).append(msg)
        if self.events is not None:
            self.events.posted(ws, channel, msg)
        return JSONResponse(msg.to_api(), status_code=201)

    def _own_message(self, body: JSON) -> tuple[Workspace, Channel, Message]:
        ws = self.ws(body.get("team_id"))
        channel = self.channel(ws, body.get("channel"))
        user = self.user(ws, body.get("user"))
        msg = channel.index.get(str(body.get("ts") or ""))
        if msg is None or msg.deleted:
            raise NotFound(f"no message {body.get('ts')} in #{channel.name}")
        if msg.user != user.id or msg.bot_id:
            raise ControlError(f"{user.name} can only change their own messages (Slack: cant_update_message)")
        return ws, channel, msg

    async def edit_as_user(self, request: Request) -> Response:
        """`{channel, ts, user, text}`: a person edits their message (Slack sends `message_changed`)."""
        body = await _body(request)
        ws, channel, msg = self._own_message(body)
        text = body.get("text")
        if not isinstance(text, str) or not text:
            raise ControlError("`text` is required")
        before, now = {"text": msg.text}, self.state.next_ts()
        msg.text, msg.edited = text, {"user": msg.user, "ts": now}
        if self.events is not None:
            self.events.changed(ws, channel, before, msg, now)
        return JSONResponse(msg.to_api())

    async def delete_as_user(self, request: Request) -> Response:
        """`{channel, ts, user}`: a person deletes their message (Slack sends `message_deleted`)."""
        ws, channel, msg = self._own_message(await _body(request))
        msg.deleted = True
        if self.events is not None:
            self.events.deleted(ws, channel, msg, self.state.next_ts())
        return JSONResponse({"ok": True, "channel": channel.id, "ts": msg.ts})

    async def event_subscriptions(self, request: Request) -> Response:
        """GET: where events go and every delivery attempt; POST `{url | socket_mode, retry_delays?,
        timeout?, lose_answers?, team_id?}`: the app's Request URL (see events.py)."""
        if self.events is None:
            raise ControlError("this stand-in sends no events")
        body = await _body(request) if request.method == "POST" else {}
        ws = self.ws(body.get("team_id") or request.query_params.get("team_id"))
        if request.method == "POST":
            return JSONResponse(self.events.configure(ws, body))
        return JSONResponse(self.events.describe(ws))

    async def ephemerals(self, request: Request) -> Response:
        """`?channel=&user=` (both optional) → ephemeral messages, per user; never in channel history."""
        q = request.query_params
        ws = self.ws(q.get("team_id"))
        channel = self.channel(ws, q["channel"]).id if q.get("channel") else None
        user = self.user(ws, q["user"]).id if q.get("user") else None
        items = [
            e
            for e in ws.ephemerals
            if (channel is None or e["channel"] == channel) and (user is None or e["user"] == user)
        ]
        return JSONResponse({"ephemerals": items})

    async def views(self, request: Request) -> Response:
        """`?user=` (optional) → views, each user's modal stack (root first) and home tab."""
        q = request.query_params
        ws = self.ws(q.get("team_id"))
        user = self.user(ws, q["user"]).id if q.get("user") else None
        views = [v.to_api() | {"user": v.user} for v in ws.views.values() if user is None or v.user == user]
        return JSONResponse(
            {
                "views": views,
                "modal_stacks": {u: s for u, s in ws.modal_stacks.items() if user is None or u == user},
                "home": {u: v for u, v in ws.home_views.items() if user is None or u == user},
            }
        )

    # -- record, faults, limits, clock, triggers ------------------------------------------------------------

    async def calls(self, request: Request) -> Response:
        """`?method=&team_id=` → the recorded calls, oldest first."""
        q = request.query_params
        calls = [
            c.to_json()
            for c in self.state.calls
            if (not q.get("method") or c.method == q["method"])
            and (not q.get("team_id") or c.team_id == q["team_id"])
        ]
        return JSONResponse({"calls": calls})

    async def clear_calls(self, request: Request) -> Response:
        self.state.calls.clear()
        return JSONResponse({"ok": True})

    async def add_fault(self, request: Request) -> Response:
        """`{method, channel?, team_id?, error?, status?, retry_after?, delay?, count?}` → the fault."""
        fault = self.faults.add(await _body(request))
        return JSONResponse(fault.to_json(), status_code=201)

    async def list_faults(self, request: Request) -> Response:
        return JSONResponse({"faults": [f.to_json() for f in self.faults.items]})

    async def clear_faults(self, request: Request) -> Response:
        self.faults.clear()
        return JSONResponse({"ok": True})

    async def set_rate_limits(self, request: Request) -> Response:
        """`{preset: "slack", scale?}` | `{method, limit, window?, per?}` | `{rules: [...]}`."""
        rules = self.limits.configure(await _body(request))
        return JSONResponse({"rules": [r.to_json() for r in rules]})

    async def clear_rate_limits(self, request: Request) -> Response:
        self.limits.clear()
        return JSONResponse({"ok": True})

    async def advance_clock(self, request: Request) -> Response:
        """`{advance: seconds}` → `{now}`."""
        body = await _body(request)
        seconds = float(body.get("advance", 0))
        if seconds < 0:
            raise ControlError("the clock only moves forward")
        self.clock.advance(seconds)
        return JSONResponse({"now": self.clock()})

    async def mint_trigger(self, request: Request) -> Response:
        """`{user, team_id?}` → `{trigger_id, expires_at}` (valid 3 s on the stand-in's clock, single use)."""
        body = await _body(request)
        ws = self.ws(body.get("team_id"))
        trigger = self.state.mint_trigger(ws.team_id, self.user(ws, body.get("user")).id)
        return JSONResponse({"trigger_id": trigger.id, "expires_at": trigger.expires_at}, status_code=201)

    # -- response_url ---------------------------------------------------------------------------------------

    async def mint_response_url(self, request: Request) -> Response:
        """`{channel?, user?, message_ts?, team_id?}` → `{response_url}` (5 uses within 30 minutes)."""
        body = await _body(request)
        ws = self.ws(body.get("team_id"))
        channel = self.channel(ws, body["channel"]).id if body.get("channel") else None
        user = self.user(ws, body["user"]).id if body.get("user") else None
        ru = self.state.mint_response_url(ws.team_id, channel, user, body.get("message_ts"))
        url = f"{str(request.base_url).rstrip('/')}/sandbox/slack/responses/{ru.id}"
        return JSONResponse({"response_url": url, "expires_at": ru.expires_at}, status_code=201)

    async def respond(self, request: Request) -> Response:
        """What an app POSTs to a response_url: recorded; `in_channel`/`replace_original`/`delete_original`
        change the channel like Slack would. Answers `ok` (text) like Slack's webhook endpoints."""
        ru = self.state.response_urls.get(request.path_params["id"])
        if ru is None:
            return PlainTextResponse("invalid_url", status_code=404)
        if self.clock() > ru.expires_at:
            return PlainTextResponse("expired_url", status_code=404)
        if ru.uses >= self.state.RESPONSE_URL_USES:
            return PlainTextResponse("used_url", status_code=404)
        try:
            body = await request.json()
        except ValueError:
            return PlainTextResponse("invalid_payload", status_code=400)
        if not isinstance(body, dict):
            return PlainTextResponse("invalid_payload", status_code=400)
        deleting = _truthy(body.get("delete_original"))
        if not deleting and not body.get("text") and not body.get("blocks"):
            return PlainTextResponse("no_text", status_code=400)
        if body.get("blocks") is not None and check_blocks(body["blocks"]):
            return PlainTextResponse("invalid_blocks", status_code=400)
        ru.uses += 1
        ws = self.state.workspace(ru.team_id)
        action = self._apply_response(ws, ru.channel, ru.user, ru.message_ts, body, deleting)
        self.state.responses.append(
            {
                "id": ru.id,
                "team_id": ru.team_id,
                "channel": ru.channel,
                "user": ru.user,
                "message_ts": ru.message_ts,
                "action": action,
                "body": body,
                "time": self.clock(),
            }
        )
        return PlainTextResponse("ok")

    def _apply_response(
        self,
        ws: Workspace,
        channel_id: str | None,
        user: str | None,
        message_ts: str | None,
        body: JSON,
        deleting: bool,
    ) -> str:
        channel = ws.channels.get(channel_id or "")
        original = channel.index.get(message_ts or "") if channel else None
        if deleting:
            if original is not None:
                original.deleted = True
            return "delete_original"
        if _truthy(body.get("replace_original")):
            if original is not None:
                original.text, original.blocks = body.get("text", ""), body.get("blocks") or []
                original.edited = {"user": ws.bot_user_id, "ts": self.state.next_ts()}
            return "replace_original"
        if body.get("response_type") == "in_channel" and channel is not None:
            msg = Message(
                ts=self.state.next_ts(),
                channel=channel.id,
                team_id=ws.team_id,
                user=ws.bot_user_id,
                text=body.get("text", ""),
                blocks=body.get("blocks") or [],
                bot_id=ws.bot_id,
                app_id=ws.app_id,
            )
            channel.index[msg.ts] = msg
            channel.messages.append(msg)
            return "in_channel"
        if channel is not None and user is not None:
            ws.ephemerals.append(
                {
                    "channel": channel.id,
                    "user": user,
                    "text": body.get("text", ""),
                    "blocks": body.get("blocks") or [],
                    "thread_ts": body.get("thread_ts"),
                    "message_ts": self.state.next_ts(),
                    "via": "response_url",
                }
            )
        return "ephemeral"

    async def responses(self, request: Request) -> Response:
        """Everything posted to response URLs, oldest first."""
        return JSONResponse({"responses": self.state.responses})


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"
