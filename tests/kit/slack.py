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
  `bot/sandbox/slack/fixtures/`, with ids, a fresh `trigger_id` and a `response_url` from the stand-in) and
  sends
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

import json
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette

from bot.sandbox.profiles import Profile
from bot.sandbox.slack import create_slack_app
from bot.sandbox.slack.payloads import Payloads, WorkspaceInfo, load_fixture
from bot.servers import BackgroundServer
from tests.kit.core import standin_client

# The payload builder and the workspace description live in the package (the demo uses them too).
__all__ = [
    "Payloads",
    "SignedRequest",
    "SlackRequests",
    "SlackStandin",
    "WorkspaceInfo",
    "load_fixture",
]

Signature = Literal["valid", "wrong", "missing"]
JSON = dict[str, Any]


class SlackStandin:
    """Handle on a running stand-in. Helpers are synchronous (the server runs in its own thread) except
    `dispatch_socket`, which must not block the event loop the Socket Mode app runs on."""

    def __init__(self, url: str, app: Starlette | None = None) -> None:
        self.url = url
        self.api_url = f"{url}/api/"
        self.app = app
        self._http = standin_client(f"{url}/sandbox/slack")
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

    def home_view(self, user: str, team_id: str | None = None) -> JSON | None:
        """The App Home view last published for `user` (a name or an id) of the workspace, or None."""
        uid = self.user_id(user, team_id)
        state = self.views(uid, team_id=team_id)
        ref = state["home"].get(uid)
        view_id = ref if isinstance(ref, str) or ref is None else ref.get("id")
        view: JSON | None = next((v for v in state["views"] if v["id"] == view_id), None)
        return view

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

    def edit_as(self, user: str, channel: str, ts: str, text: str, *, team_id: str | None = None) -> JSON:
        """A person edits their own message; with events on, Slack sends `message_changed`."""
        return self._post("/messages/edit", channel=channel, user=user, ts=ts, text=text, team_id=team_id)

    def delete_as(self, user: str, channel: str, ts: str, *, team_id: str | None = None) -> JSON:
        """A person deletes their own message; with events on, Slack sends `message_deleted`."""
        return self._post("/messages/delete", channel=channel, user=user, ts=ts, team_id=team_id)

    def send_events(self, url: str | None = None, *, team_id: str | None = None, **opts: Any) -> JSON:
        """From now on the stand-in sends `message` events to the app's Request URL `url` (or, with
        `socket_mode=True`, over its socket); `retry_delays`, `timeout`, `lose_answers` as in events.py."""
        return self._post("/event-subscriptions", url=url, team_id=team_id, **opts)

    def event_attempts(self, team_id: str | None = None) -> list[JSON]:
        """Every delivery attempt of an event so far (event_id, attempt, status, reason, signature)."""
        attempts: list[JSON] = self._get("/event-subscriptions", team_id=team_id)["attempts"]
        return attempts

    def channel(self, action: str = "create", **fields: Any) -> JSON:
        """`channel(name="ops", private=True, members=["alice"])`, `channel("archive", channel="support")`,
        `channel("remove_members", channel="general", members=["bot"])` …; refreshes `.channels`."""
        out = self._post("/channels", action=action, **fields)
        self._refresh(fields.get("team_id"))
        return out

    def set_scopes(self, scopes: list[str], team_id: str | None = None) -> JSON:
        """The scopes the workspace's bot token has (`users:read.email` makes users.info show emails)."""
        return self._post("/scopes", scopes=scopes, **({"team_id": team_id} if team_id else {}))

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
        land: bool | None = None,
    ) -> JSON:
        """The next `count` calls of `method` (for `channel`, a name or id) fail with `error` / `status`,
        after `delay` seconds; `delay` alone is latency, a long one a hang (cleared at teardown), after which
        the call goes through even if the client gave up; `land=False` drops it unperformed instead."""
        extra: JSON = {} if land is None else {"land": land}
        return self._post(
            "/faults",
            **extra,
            method=method,
            error=error,
            count=count,
            status=status,
            retry_after=retry_after,
            delay=delay,
            team_id=team_id,
            channel=self.channel_id(channel, team_id) if channel else None,
        )

    def faults(self) -> list[JSON]:
        """The armed faults, each with `remaining`: 0 once the calls it was armed for have arrived."""
        faults: list[JSON] = self._get("/faults")["faults"]
        return faults

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
def slack_standin(
    _slack_server: tuple[_CurrentApp, BackgroundServer], sandbox_profile: Profile
) -> Iterator[SlackStandin]:
    """The Slack stand-in on a loopback port, with fresh state for each test."""
    current, server = _slack_server
    app = create_slack_app(profile=sandbox_profile)
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
