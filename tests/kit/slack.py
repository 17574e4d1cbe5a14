"""Slack test kit (pytest plugin): the Slack stand-in on a loopback port, and requests signed like Slack's.

Fixtures:

- `slack_standin` → `SlackStandin`: `bot.sandbox.slack` running in a `BackgroundServer` on a free port.
  `.url`, `.api_url` (`<url>/api/`, what `SLACK_API_URL` and `AsyncWebClient(base_url=...)` take),
  `.bot_token`, `.app_token`, `.signing_secret`, `.team_id`, `.bot_user_id`, `.users` / `.channels`
  (name → id); `client()` / `sync_client()` (slack-sdk clients aimed at it); `messages(channel)`,
  `post_as(user, channel, text)`, `calls(method)`, `fault(...)`, `rate_limit(...)`, `advance(seconds)`,
  `trigger(user)`, `response_url(...)`, `responses()`, `ephemerals(...)`, `views(user)`, `channel(...)`,
  `add_user(...)`, `add_workspace(...)`, and `await dispatch_socket(type, payload)`.
- `slack_request` → `SlackRequests`: builds the payloads Slack sends (adapted from the real fixtures in
  `tests/fixtures/slack/`, with ids, a fresh `trigger_id` and a `response_url` from the stand-in) and sends
  them to `<app_url>/slack/events` signed with `SignatureVerifier(secret).generate_signature` over the exact
  bytes: `command`, `shortcut`, `message_shortcut`, `block_action`, `view_submission`, `block_suggestion`,
  `event`, `app_home_opened`. Every sender takes `signature="valid"|"wrong"|"missing"` and `age=seconds`
  (`age=360` is a stale timestamp); `replay()` sends the last request again, byte for byte. `build_*` returns
  the `SignedRequest` without sending; `payloads.*` returns the bare payload (for Socket Mode dispatch).

Three lines per test:

    async def test_something(slack_standin, slack_request, serve_app):
        slack_request.app_url = serve_app(my_asgi_app).url
        assert slack_request.command("list").status_code == 200
"""

from __future__ import annotations

import copy
import json
import secrets
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette

from bot.sandbox.slack import create_slack_app
from bot.servers import BackgroundServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "slack"
Signature = Literal["valid", "wrong", "missing"]
JSON = dict[str, Any]


def load_fixture(name: str) -> JSON:
    """A real Slack payload from `tests/fixtures/slack/` (a fresh copy)."""
    data: JSON = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def _without_enterprise(team: JSON) -> JSON:
    return {k: v for k, v in team.items() if k not in ("enterprise_id", "enterprise_name")}


@dataclass
class WorkspaceInfo:
    """One workspace's credentials and ids, as `GET /sandbox/slack/workspaces` lists them."""

    team_id: str
    team: str
    domain: str
    bot_token: str
    app_token: str
    signing_secret: str
    bot_user_id: str
    bot_id: str
    app_id: str
    users: dict[str, str] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: JSON) -> WorkspaceInfo:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


class SlackStandin:
    """Handle on a running stand-in. Helpers are synchronous (the server runs in its own thread) except
    `dispatch_socket`, which must not block the event loop the Socket Mode app runs on."""

    def __init__(self, url: str, app: Starlette | None = None) -> None:
        self.url = url
        self.api_url = f"{url}/api/"
        self.app = app
        self._http = httpx.Client(base_url=f"{url}/sandbox/slack", timeout=10.0)
        self.workspaces = [WorkspaceInfo.from_json(w) for w in self._get("/workspaces")["workspaces"]]
        self.default = self.workspaces[0]

    # -- the default workspace -------------------------------------------------------------------------------

    @property
    def team_id(self) -> str:
        return self.default.team_id

    @property
    def bot_token(self) -> str:
        return self.default.bot_token

    @property
    def app_token(self) -> str:
        return self.default.app_token

    @property
    def signing_secret(self) -> str:
        return self.default.signing_secret

    @property
    def bot_user_id(self) -> str:
        return self.default.bot_user_id

    @property
    def users(self) -> dict[str, str]:
        return self.default.users

    @property
    def channels(self) -> dict[str, str]:
        return self.default.channels

    def client(self, token: str | None = None, **kwargs: Any) -> AsyncWebClient:
        """A real async Slack client aimed at the stand-in (bot token by default)."""
        return AsyncWebClient(token=token or self.bot_token, base_url=self.api_url, **kwargs)

    def sync_client(self, token: str | None = None, **kwargs: Any) -> WebClient:
        return WebClient(token=token or self.bot_token, base_url=self.api_url, **kwargs)

    def channel_id(self, ref: str, team_id: str | None = None) -> str:
        ws = self._ws(team_id)
        return ws.channels.get(ref.lstrip("#"), ref)

    def user_id(self, ref: str, team_id: str | None = None) -> str:
        ws = self._ws(team_id)
        return ws.users.get(ref.lstrip("@"), ref)

    # -- inspection ------------------------------------------------------------------------------------------

    def messages(self, channel: str, team_id: str | None = None) -> list[JSON]:
        """The channel's messages as they stand now (oldest first, replies nested under `replies`)."""
        messages: list[JSON] = self._get("/messages", channel=channel, team_id=team_id)["messages"]
        return messages

    def calls(self, method: str | None = None, team_id: str | None = None) -> list[JSON]:
        calls: list[JSON] = self._get("/calls", method=method, team_id=team_id)["calls"]
        return calls

    def clear_calls(self) -> None:
        self._http.delete("/calls").raise_for_status()

    def ephemerals(self, channel: str | None = None, user: str | None = None) -> list[JSON]:
        items: list[JSON] = self._get("/ephemeral", channel=channel, user=user)["ephemerals"]
        return items

    def views(self, user: str | None = None, team_id: str | None = None) -> JSON:
        return self._get("/views", user=user, team_id=team_id)

    def responses(self) -> list[JSON]:
        items: list[JSON] = self._get("/responses")["responses"]
        return items

    # -- arranging -------------------------------------------------------------------------------------------

    def post_as(
        self,
        user: str,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        blocks: list[JSON] | None = None,
        team_id: str | None = None,
    ) -> JSON:
        """A person writes a message (the Web API only posts as the bot)."""
        return self._post(
            "/messages",
            channel=channel,
            user=user,
            text=text,
            thread_ts=thread_ts,
            blocks=blocks,
            team_id=team_id,
        )

    def channel(self, action: str = "create", **fields: Any) -> JSON:
        """`channel(name="ops", private=True, members=["alice"])`, `channel("archive", channel="support")`,
        `channel("remove_members", channel="general", members=["bot"])` …; refreshes `.channels`."""
        out = self._post("/channels", action=action, **fields)
        self._refresh(fields.get("team_id"))
        return out

    def add_user(self, name: str, **fields: Any) -> JSON:
        out = self._post("/users", name=name, **fields)
        self._refresh(fields.get("team_id"))
        return out

    def add_workspace(self, name: str | None = None, **fields: Any) -> WorkspaceInfo:
        info = WorkspaceInfo.from_json(self._post("/workspaces", name=name, **fields))
        self.workspaces.append(info)
        return info

    def fault(
        self,
        method: str,
        error: str | None = None,
        *,
        channel: str | None = None,
        count: int = 1,
        status: int | None = None,
        retry_after: int | None = None,
        delay: float | None = None,
        team_id: str | None = None,
    ) -> JSON:
        """The next `count` calls of `method` (for `channel`, a name or id) fail with `error` / `status`,
        after `delay` seconds; `delay` alone is latency, a long one a hang (cleared at teardown)."""
        return self._post(
            "/faults",
            method=method,
            error=error,
            count=count,
            status=status,
            retry_after=retry_after,
            delay=delay,
            team_id=team_id,
            channel=self.channel_id(channel, team_id) if channel else None,
        )

    def clear_faults(self) -> None:
        self._http.delete("/faults").raise_for_status()

    def rate_limit(
        self,
        method: str | None = None,
        *,
        limit: int = 1,
        window: float = 1.0,
        per: str | None = None,
        preset: str | None = None,
        scale: float = 1.0,
    ) -> list[JSON]:
        """`rate_limit("chat.postMessage", limit=1, window=1)` or `rate_limit(preset="slack", scale=10)`."""
        body: JSON = (
            {"preset": preset, "scale": scale}
            if preset
            else {"method": method, "limit": limit, "window": window, "per": per}
        )
        rules: list[JSON] = self._post("/rate-limits", **body)["rules"]
        return rules

    def clear_rate_limits(self) -> None:
        self._http.delete("/rate-limits").raise_for_status()

    def advance(self, seconds: float) -> float:
        """Moves the stand-in's clock forward (trigger expiry, rate-limit windows, response_url expiry)."""
        now: float = self._post("/clock", advance=seconds)["now"]
        return now

    def trigger(self, user: str = "alice", team_id: str | None = None) -> str:
        """A fresh trigger_id for `user` (valid 3 s on the stand-in's clock, single use)."""
        trigger_id: str = self._post("/triggers", user=user, team_id=team_id)["trigger_id"]
        return trigger_id

    def response_url(
        self,
        channel: str | None = None,
        user: str | None = None,
        message_ts: str | None = None,
        team_id: str | None = None,
    ) -> str:
        url: str = self._post(
            "/response-urls", channel=channel, user=user, message_ts=message_ts, team_id=team_id
        )["response_url"]
        return url

    async def dispatch_socket(
        self, type: str, payload: JSON, *, team_id: str | None = None
    ) -> httpx.Response:
        """Sends a Socket Mode envelope to the connected app; the response carries its ack (or is a 504)."""
        body = {"type": type, "payload": payload, "team_id": team_id}
        async with httpx.AsyncClient(base_url=f"{self.url}/sandbox/slack", timeout=10.0) as http:
            return await http.post("/socket/dispatch", json=body)

    def close(self) -> None:
        """Frees hung calls and closes the control client (the fixture does this)."""
        self.clear_faults()
        self._http.close()

    # -- plumbing --------------------------------------------------------------------------------------------

    def _ws(self, team_id: str | None) -> WorkspaceInfo:
        if team_id is None:
            return self.default
        return next(w for w in self.workspaces if w.team_id == team_id)

    def _refresh(self, team_id: str | None) -> None:
        fresh = {w["team_id"]: w for w in self._get("/workspaces")["workspaces"]}
        for ws in self.workspaces:
            ws.users, ws.channels = fresh[ws.team_id]["users"], fresh[ws.team_id]["channels"]

    def _get(self, path: str, **params: Any) -> JSON:
        response = self._http.get(path, params={k: v for k, v in params.items() if v is not None})
        response.raise_for_status()
        data: JSON = response.json()
        return data

    def _post(self, path: str, **body: Any) -> JSON:
        response = self._http.post(path, json={k: v for k, v in body.items() if v is not None})
        if response.status_code >= 400:
            raise AssertionError(f"POST /sandbox/slack{path} → {response.status_code}: {response.text}")
        data: JSON = response.json()
        return data


class Payloads:
    """The payloads Slack sends, built from the real fixtures with the stand-in's ids, triggers and URLs."""

    def __init__(self, standin: SlackStandin) -> None:
        self.standin = standin
        self.ws = standin.default

    def _team(self) -> JSON:
        return {"id": self.ws.team_id, "domain": self.ws.domain}

    def _user(self, name: str) -> JSON:
        return {"id": self.standin.user_id(name), "username": name, "name": name, "team_id": self.ws.team_id}

    def _channel(self, ref: str) -> JSON:
        cid = self.standin.channel_id(ref)
        name = next((n for n, i in self.ws.channels.items() if i == cid), ref)
        return {"id": cid, "name": name}

    def command(
        self, text: str, *, user: str = "alice", channel: str = "general", command: str = "/thread-note"
    ) -> JSON:
        """Like `slash_command.json`: flat form fields."""
        body = load_fixture("slash_command")
        for key in ("enterprise_id", "enterprise_name"):
            body.pop(key)
        ch = self._channel(channel)
        body.update(
            team_id=self.ws.team_id,
            team_domain=self.ws.domain,
            channel_id=ch["id"],
            channel_name=ch["name"],
            user_id=self.standin.user_id(user),
            user_name=user,
            command=command,
            text=text,
            api_app_id=self.ws.app_id,
            is_enterprise_install="false",
            response_url=self.standin.response_url(channel=ch["id"], user=user),
            trigger_id=self.standin.trigger(user),
        )
        return body

    def shortcut(self, callback_id: str, *, user: str = "alice") -> JSON:
        """Like `global_shortcut.json`: no channel, no response_url."""
        body = load_fixture("global_shortcut")
        body.update(
            team=self._team(),
            user=self._user(user),
            callback_id=callback_id,
            trigger_id=self.standin.trigger(user),
            action_ts=f"{time.time():.6f}",
            api_app_id=self.ws.app_id,
            is_enterprise_install=False,
        )
        return body

    def message_shortcut(
        self, message: JSON | str, *, callback_id: str, user: str = "alice", channel: str = "general"
    ) -> JSON:
        """Like `message_shortcut.json`. `message` is a message dict (from `messages()` or the Web API) or a
        ts in `channel`; a thread reply carries its parent's `thread_ts`."""
        ch = self._channel(channel)
        msg = self._message(message, ch["id"])
        body = load_fixture("message_shortcut")
        body.update(
            team=self._team(),
            user={"id": self.standin.user_id(user), "name": user},
            channel=ch,
            callback_id=callback_id,
            trigger_id=self.standin.trigger(user),
            message_ts=msg["ts"],
            message=msg,
            action_ts=f"{time.time():.6f}",
            api_app_id=self.ws.app_id,
            response_url=self.standin.response_url(channel=ch["id"], user=user),
            is_enterprise_install=False,
        )
        return body

    def _message(self, message: JSON | str, channel_id: str) -> JSON:
        if isinstance(message, str):
            message = self._lookup(message, channel_id)
        out: JSON = {
            "type": "message",
            "text": message.get("text", ""),
            "user": message.get("user"),
            "ts": message["ts"],
            "team": self.ws.team_id,
        }
        for key in ("blocks", "thread_ts", "bot_id", "app_id"):
            if message.get(key):
                out[key] = message[key]
        if message.get("replies"):
            out.update(thread_ts=message["ts"], reply_count=len(message["replies"]))
        if message.get("bot_id") is None:
            out["client_msg_id"] = f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(6)}"
        return out

    def _lookup(self, ts: str, channel_id: str) -> JSON:
        for m in self.standin.messages(channel_id):
            candidates: list[JSON] = [m, *m.get("replies", [])]
            for candidate in candidates:
                if candidate["ts"] == ts:
                    return candidate
        raise AssertionError(f"no message {ts} in {channel_id}")

    def block_action(
        self,
        action_id: str,
        value: str | None = None,
        *,
        block_id: str = "b",
        user: str = "alice",
        channel: str = "general",
        message: JSON | str | None = None,
        view: JSON | None = None,
        action: JSON | None = None,
        ephemeral: bool = False,
    ) -> JSON:
        """Like `block_actions.json`: a button (override with `action={...}`) in a message (default, with a
        response_url) or in a `view` (modal / home tab)."""
        body = load_fixture("block_actions")
        act = dict(body["actions"][0], action_id=action_id, block_id=block_id, action_ts=f"{time.time():.6f}")
        if value is None:
            act.pop("value")
        else:
            act["value"] = value
        act.update(action or {})
        body.update(
            team=self._team(),
            user=self._user(user),
            actions=[act],
            api_app_id=self.ws.app_id,
            trigger_id=self.standin.trigger(user),
            is_enterprise_install=False,
        )
        if view is not None:
            body.pop("channel")
            body.pop("response_url")
            body["container"] = {"type": "view", "view_id": view.get("id", "V111")}
            body["view"] = self._view(view)
        else:
            ch = self._channel(channel)
            msg = self._message(message, ch["id"]) if message is not None else None
            message_ts = msg["ts"] if msg else "111.222"
            body.update(
                channel=ch,
                container={
                    "type": "message",
                    "message_ts": message_ts,
                    "channel_id": ch["id"],
                    "is_ephemeral": ephemeral,
                },
                response_url=self.standin.response_url(
                    channel=ch["id"], user=user, message_ts=None if ephemeral else message_ts
                ),
            )
            if msg is not None and not ephemeral:
                body["message"] = msg
        return body

    def _view(self, view: JSON, values: JSON | None = None) -> JSON:
        """A view as Slack echoes it back: the fixture's fields, overlaid with `view`, with state values."""
        base = load_fixture("view_submission")["view"]
        out = {**base, **copy.deepcopy(view)}
        out.update(
            team_id=self.ws.team_id,
            app_id=self.ws.app_id,
            bot_id=self.ws.bot_id,
            app_installed_team_id=self.ws.team_id,
        )
        out.setdefault("private_metadata", "")
        out["root_view_id"] = view.get("root_view_id") or out["id"]
        if values is not None:
            out["state"] = {
                "values": {
                    block: {
                        aid: (
                            {"type": "plain_text_input", "value": v} if isinstance(v, str) or v is None else v
                        )
                        for aid, v in actions.items()
                    }
                    for block, actions in values.items()
                }
            }
        elif "state" not in view:
            out["state"] = {"values": {}}
        return out

    def view_submission(
        self, view: JSON, values: JSON, *, user: str = "alice", response_urls: list[JSON] | None = None
    ) -> JSON:
        """Like `view_submission.json`. `view` is the view the app opened (e.g. from `views()` or the
        `views.open` answer); `values` is `{block_id: {action_id: "typed text" | {type, ...}}}`."""
        body = load_fixture("view_submission")
        body.update(
            team=self._team(),
            user=self._user(user),
            api_app_id=self.ws.app_id,
            trigger_id=self.standin.trigger(user),
            view=self._view(view, values),
            response_urls=response_urls or [],
            is_enterprise_install=False,
        )
        return body

    def block_suggestion(
        self, action_id: str, value: str, *, block_id: str, view: JSON, user: str = "alice"
    ) -> JSON:
        """Like `block_suggestion.json`: the user typed `value` into an external select in `view`."""
        body = load_fixture("block_suggestion")
        body.update(
            team=self._team(),
            user=self._user(user),
            api_app_id=self.ws.app_id,
            action_id=action_id,
            block_id=block_id,
            value=value,
            container={"type": "view", "view_id": view.get("id", "V111")},
            view=self._view(view),
            is_enterprise_install=False,
        )
        return body

    def event(self, event: JSON) -> JSON:
        """An Events API envelope around `event` (like `app_home_opened_home_tab.json`)."""
        body = load_fixture("app_home_opened_home_tab")
        body.pop("enterprise_id")
        inner = dict(event)
        inner.setdefault("event_ts", f"{time.time():.6f}")
        body.update(
            team_id=self.ws.team_id,
            api_app_id=self.ws.app_id,
            event=inner,
            event_id=f"Ev{secrets.token_hex(5).upper()}",
            event_time=int(time.time()),
            authorizations=[
                {
                    "enterprise_id": None,
                    "team_id": self.ws.team_id,
                    "user_id": self.ws.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            is_ext_shared_channel=False,
            event_context=secrets.token_hex(8),
        )
        return body

    def app_home_opened(self, user: str = "alice", tab: str = "home") -> JSON:
        return self.event(
            {
                "type": "app_home_opened",
                "user": self.standin.user_id(user),
                "channel": "D" + self.standin.user_id(user)[1:],
                "tab": tab,
            }
        )


@dataclass(frozen=True)
class SignedRequest:
    """Exactly what goes on the wire: the URL, the body bytes and the headers."""

    url: str
    body: bytes
    headers: dict[str, str]


class SlackRequests:
    """Sends Slack's requests, signed, to `<app_url><path>` (set `app_url` first)."""

    STALE = 6 * 60.0

    def __init__(
        self,
        standin: SlackStandin,
        *,
        app_url: str | None = None,
        signing_secret: str | None = None,
        path: str = "/slack/events",
    ) -> None:
        self.standin = standin
        self.payloads = Payloads(standin)
        self.app_url = app_url
        self.signing_secret = signing_secret or standin.signing_secret
        self.path = path
        self.last: SignedRequest | None = None

    # -- signing and sending ---------------------------------------------------------------------------------

    def sign(
        self,
        body: bytes,
        content_type: str,
        *,
        signature: Signature = "valid",
        age: float = 0.0,
        url: str | None = None,
    ) -> SignedRequest:
        timestamp = str(int(time.time() - age))
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp}
        if signature != "missing":
            secret = self.signing_secret if signature == "valid" else "not-the-" + self.signing_secret
            signed = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
            assert signed is not None
            headers["X-Slack-Signature"] = signed
        if url is None:
            if self.app_url is None:
                raise AssertionError("set slack_request.app_url to the app's base URL first")
            url = self.app_url.rstrip("/") + self.path
        return SignedRequest(url=url, body=body, headers=headers)

    def form(self, fields: JSON, **opts: Any) -> SignedRequest:
        return self.sign(urllib.parse.urlencode(fields).encode(), "application/x-www-form-urlencoded", **opts)

    def interactive(self, payload: JSON, **opts: Any) -> SignedRequest:
        body = f"payload={urllib.parse.quote(json.dumps(payload))}".encode()
        return self.sign(body, "application/x-www-form-urlencoded", **opts)

    def json_body(self, payload: JSON, **opts: Any) -> SignedRequest:
        return self.sign(json.dumps(payload).encode(), "application/json", **opts)

    def send(self, request: SignedRequest, timeout: float = 10.0) -> httpx.Response:
        self.last = request
        return httpx.post(request.url, content=request.body, headers=request.headers, timeout=timeout)

    async def asend(self, request: SignedRequest, timeout: float = 10.0) -> httpx.Response:  # noqa: ASYNC109 - an httpx timeout, not a cancellation scope
        self.last = request
        async with httpx.AsyncClient(timeout=timeout) as http:
            return await http.post(request.url, content=request.body, headers=request.headers)

    def replay(self, request: SignedRequest | None = None) -> httpx.Response:
        """Sends the last (or a given) request again, same bytes and headers."""
        request = request or self.last
        if request is None:
            raise AssertionError("nothing sent yet")
        return self.send(request)

    # -- builders (signed, not sent) -------------------------------------------------------------------------

    def build_command(
        self, text: str, *, signature: Signature = "valid", age: float = 0.0, **kw: Any
    ) -> SignedRequest:
        return self.form(self.payloads.command(text, **kw), signature=signature, age=age)

    def build_interactive(
        self, kind: str, *args: Any, signature: Signature = "valid", age: float = 0.0, **kw: Any
    ) -> SignedRequest:
        """`kind` is a `Payloads` method: shortcut, message_shortcut, block_action, view_submission, …"""
        return self.interactive(getattr(self.payloads, kind)(*args, **kw), signature=signature, age=age)

    def build_event(self, event: JSON, *, signature: Signature = "valid", age: float = 0.0) -> SignedRequest:
        return self.json_body(self.payloads.event(event), signature=signature, age=age)

    # -- senders ---------------------------------------------------------------------------------------------

    def command(self, text: str, **kw: Any) -> httpx.Response:
        """`/thread-note <text>` from `user` in `channel` (names or ids)."""
        return self.send(self.build_command(text, **kw))

    def shortcut(self, callback_id: str, **kw: Any) -> httpx.Response:
        return self.send(self.build_interactive("shortcut", callback_id, **kw))

    def message_shortcut(self, message: JSON | str, *, callback_id: str, **kw: Any) -> httpx.Response:
        return self.send(self.build_interactive("message_shortcut", message, callback_id=callback_id, **kw))

    def block_action(self, action_id: str, value: str | None = None, **kw: Any) -> httpx.Response:
        return self.send(self.build_interactive("block_action", action_id, value, **kw))

    def view_submission(self, view: JSON, values: JSON, **kw: Any) -> httpx.Response:
        return self.send(self.build_interactive("view_submission", view, values, **kw))

    def block_suggestion(self, action_id: str, value: str, **kw: Any) -> httpx.Response:
        return self.send(self.build_interactive("block_suggestion", action_id, value, **kw))

    def event(self, event: JSON, **kw: Any) -> httpx.Response:
        return self.send(self.build_event(event, **kw))

    def app_home_opened(self, user: str = "alice", tab: str = "home", **kw: Any) -> httpx.Response:
        return self.send(self.json_body(self.payloads.app_home_opened(user, tab), **kw))


class _CurrentApp:
    """An ASGI app that forwards to the test's own stand-in, so one loopback server serves the whole session
    while every test still gets fresh state (starting and stopping a server costs ~0.2 s, an app nothing)."""

    def __init__(self) -> None:
        self.app: Starlette | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if self.app is None:
            raise RuntimeError("no Slack stand-in is active")
        await self.app(scope, receive, send)


@pytest.fixture(scope="session")
def _slack_server() -> Iterator[tuple[_CurrentApp, BackgroundServer]]:
    current = _CurrentApp()
    with BackgroundServer(current) as server:
        yield current, server


@pytest.fixture
def slack_standin(_slack_server: tuple[_CurrentApp, BackgroundServer]) -> Iterator[SlackStandin]:
    """The Slack stand-in on a loopback port, with fresh state for each test."""
    current, server = _slack_server
    app = create_slack_app()
    current.app = app
    standin = SlackStandin(server.url, app)
    try:
        yield standin
    finally:
        standin.close()
        current.app = None


@pytest.fixture
def slack_request(slack_standin: SlackStandin) -> SlackRequests:
    """Signed Slack requests; set `.app_url` to the app under test."""
    return SlackRequests(slack_standin)
