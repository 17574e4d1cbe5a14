"""The Events API, Slack's side: `message` events sent to the app when a person writes, edits or deletes.

    POST /sandbox/slack/event-subscriptions {"url": "http://127.0.0.1:3000/slack/events"}   # HTTP mode
    POST /sandbox/slack/event-subscriptions {"socket_mode": true}                          # over the socket
    GET  /sandbox/slack/event-subscriptions    → the settings and every delivery attempt

What is sent (`message.channels` / `message.groups`, only in conversations the app's bot user is in):
a person's message or thread reply (`message`), its edit (`message` / `message_changed`) and its deletion
(`message` / `message_deleted`), each built from Slack's own payloads in `fixtures/` (`message_thread_reply`,
`message_changed`, `message_deleted`) with real ids, `ts` and text, inside an `event_callback` envelope with a
fresh `event_id`. The app's own posts are not echoed back (Bolt drops them anyway).

HTTP mode: `Content-Type: application/json`, signed like Slack (`X-Slack-Request-Timestamp`,
`X-Slack-Signature` = `v0=` HMAC-SHA256 of `v0:{timestamp}:{body}` with the workspace's signing secret).
An attempt that does not get HTTP 200 within `timeout` (3 s) is retried up to 3 times, after `retry_delays`
(Slack: nearly at once, 1 minute, 5 minutes; the control route may shorten them), with `X-Slack-Retry-Num`
(1, 2, 3) and `X-Slack-Retry-Reason` (`http_timeout`, `http_error`, `connection_failed`); the event id stays
the same.
Whether Slack signs a retry afresh is not documented: by default it does; under profile field
`slack_retry_same_signature` a retry carries the first attempt's timestamp and signature.

Faults for tests: `lose_answers: n` — the app's answers to the next n attempts are treated as lost (the app
received and handled the request, but Slack counts a timeout and retries), as with a slow or dropped answer;
`drop_requests: n` — the next n attempts never reach the app (the retry is the first it sees).

Socket Mode: an `events_api` envelope to the workspace's newest connection; no ack within 3 s → the same
payload again with `retry_attempt` / `retry_reason: "timeout"`.
"""

from __future__ import annotations

import asyncio
import copy
import json
import secrets
import time
from dataclasses import dataclass, field

import httpx

from bot.logs import get_logger
from bot.sandbox import outbound
from bot.sandbox.profiles import Profile
from bot.sandbox.slack.limits import ControlError
from bot.sandbox.slack.payloads import load_fixture
from bot.sandbox.slack.requests import sign
from bot.sandbox.slack.socket import SocketHub
from bot.sandbox.slack.workspace_data import JSON, Channel, Message, Workspace

log = get_logger(__name__)

SLACK_RETRY_DELAYS = (0.5, 60.0, 300.0)  # before retries 1, 2 and 3 (Slack: "nearly immediately", 1, 5 min)


@dataclass
class Subscription:
    """Where a workspace's events go: a Request URL (HTTP mode) or the socket (Socket Mode)."""

    url: str | None = None
    socket_mode: bool = False
    retry_delays: tuple[float, ...] = SLACK_RETRY_DELAYS
    timeout: float = 3.0
    lose_answers: int = 0
    drop_requests: int = 0


@dataclass
class EventEmitter:
    hub: SocketHub
    profile: Profile
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    attempts: list[JSON] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    # -- configuration (control route) -----------------------------------------------------------------------

    def configure(self, ws: Workspace, body: JSON) -> JSON:
        url, socket_mode = body.get("url"), bool(body.get("socket_mode"))
        if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
            raise ControlError("`url` is the app's Request URL (http or https), or null to stop events")
        delays = body.get("retry_delays", SLACK_RETRY_DELAYS)
        if not isinstance(delays, list | tuple) or len(delays) != 3:
            raise ControlError("`retry_delays` lists the 3 waits (seconds) before retries 1, 2 and 3")
        self.subscriptions[ws.team_id] = Subscription(
            url=url,
            socket_mode=socket_mode,
            retry_delays=tuple(float(d) for d in delays),
            timeout=float(body.get("timeout", 3.0)),
            lose_answers=int(body.get("lose_answers", 0)),
            drop_requests=int(body.get("drop_requests", 0)),
        )
        return self.describe(ws)

    def describe(self, ws: Workspace) -> JSON:
        sub = self.subscriptions.get(ws.team_id) or Subscription()
        return {
            "ok": True,
            "team_id": ws.team_id,
            "url": sub.url,
            "socket_mode": sub.socket_mode,
            "retry_delays": list(sub.retry_delays),
            "timeout": sub.timeout,
            "lose_answers": sub.lose_answers,
            "drop_requests": sub.drop_requests,
            "same_signature_on_retry": self.profile.slack_retry_same_signature,
            "attempts": [a for a in self.attempts if a["team_id"] == ws.team_id],
        }

    # -- what people do --------------------------------------------------------------------------------------

    def posted(self, ws: Workspace, channel: Channel, msg: Message) -> None:
        event = load_fixture("message_thread_reply")["event"]
        for key in ("team", "user_team", "source_team"):
            event[key] = ws.team_id
        event.update(user=msg.user, text=msg.text, **_where(channel, msg.ts))
        if msg.thread_ts and msg.thread_ts != msg.ts:
            parent = channel.index.get(msg.thread_ts)
            event.update(thread_ts=msg.thread_ts, parent_user_id=parent.user if parent else msg.user)
        else:  # a top-level message: no thread fields
            event.pop("thread_ts", None)
            event.pop("parent_user_id", None)
        self._emit(ws, channel, "message_thread_reply", event)

    def changed(self, ws: Workspace, channel: Channel, before: JSON, msg: Message, now_ts: str) -> None:
        event = load_fixture("message_changed")["event"]
        after = _as_event_message(event["message"], ws, msg)
        after["edited"] = {"user": msg.user, "ts": now_ts}
        before_msg = _as_event_message(event["previous_message"], ws, msg, before)
        event.update(message=after, previous_message=before_msg, **_where(channel, now_ts))
        self._emit(ws, channel, "message_changed", event)

    def deleted(self, ws: Workspace, channel: Channel, msg: Message, now_ts: str) -> None:
        event = load_fixture("message_deleted")["event"]
        before_msg = _as_event_message(event["previous_message"], ws, msg)
        event.update(previous_message=before_msg, deleted_ts=msg.ts, **_where(channel, now_ts))
        self._emit(ws, channel, "message_deleted", event)

    # -- delivery --------------------------------------------------------------------------------------------

    def _emit(self, ws: Workspace, channel: Channel, fixture: str, event: JSON) -> None:
        sub = self.subscriptions.get(ws.team_id)
        if sub is None or (sub.url is None and not sub.socket_mode) or ws.bot_user_id not in channel.members:
            return  # no events configured, or not a conversation the app is in
        envelope = load_fixture(fixture)
        envelope.pop("enterprise_id", None)
        now = int(time.time())
        envelope.update(
            team_id=ws.team_id,
            api_app_id=ws.app_id,
            event=event,
            event_id=f"Ev{secrets.token_hex(5).upper()}",
            event_time=now,
            authorizations=[
                {
                    "enterprise_id": None,
                    "team_id": ws.team_id,
                    "user_id": ws.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
        )
        deliver = self._over_socket if sub.url is None else self._over_http
        task = asyncio.get_running_loop().create_task(deliver(ws, sub, envelope))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _over_http(self, ws: Workspace, sub: Subscription, envelope: JSON) -> None:
        assert sub.url is not None
        body = json.dumps(envelope).encode()
        first = sign(ws.signing_secret, body)
        reason = ""
        async with outbound.client(sub.timeout) as client:
            for attempt in range(len(sub.retry_delays) + 1):
                if attempt:
                    await asyncio.sleep(sub.retry_delays[attempt - 1])
                same = attempt == 0 or self.profile.slack_retry_same_signature
                headers = dict(first if same else sign(ws.signing_secret, body))
                headers["Content-Type"] = "application/json"
                if attempt:
                    headers.update({"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": reason})
                status, reason = await self._post(client, sub, body, headers)
                self._record(ws, envelope, attempt, status, reason, headers)
                if status == 200:
                    return

    async def _post(
        self, client: httpx.AsyncClient, sub: Subscription, body: bytes, headers: dict[str, str]
    ) -> tuple[int | None, str]:
        assert sub.url is not None
        if sub.drop_requests > 0:  # lost on the way: the app never sees this attempt
            sub.drop_requests -= 1
            return None, "connection_failed"
        try:
            answer = await client.post(sub.url, content=body, headers=headers)
        except httpx.TimeoutException:
            return None, "http_timeout"
        except httpx.HTTPError:
            return None, "connection_failed"
        if sub.lose_answers > 0:
            sub.lose_answers -= 1
            return None, "http_timeout"
        return answer.status_code, "" if answer.status_code == 200 else "http_error"

    async def _over_socket(self, ws: Workspace, sub: Subscription, envelope: JSON) -> None:
        reason = ""
        for attempt in range(len(sub.retry_delays) + 1):
            if attempt:
                await asyncio.sleep(sub.retry_delays[attempt - 1])
            ack = await self.hub.send_event(ws.team_id, envelope, retry_attempt=attempt, retry_reason=reason)
            self._record(ws, envelope, attempt, 200 if ack else None, "" if ack else "timeout", {})
            if ack:
                return
            reason = "timeout"

    def _record(
        self,
        ws: Workspace,
        envelope: JSON,
        attempt: int,
        status: int | None,
        reason: str,
        headers: dict[str, str],
    ) -> None:
        self.attempts.append(
            {
                "team_id": ws.team_id,
                "event_id": envelope["event_id"],
                "subtype": envelope["event"].get("subtype"),
                "ts": envelope["event"].get("ts"),
                "attempt": attempt,
                "status": status,
                "reason": reason,
                "timestamp": headers.get("X-Slack-Request-Timestamp"),
                "signature": headers.get("X-Slack-Signature"),
            }
        )
        if status != 200:
            log.info("sandbox slack event not delivered", event_id=envelope["event_id"], attempt=attempt)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _where(channel: Channel, ts: str) -> JSON:
    """The event's own place and time: `channel`, `ts`, `event_ts`, `channel_type`."""
    kind = "group" if channel.is_private else "channel"
    return {"channel": channel.id, "ts": ts, "event_ts": ts, "channel_type": kind}


def _as_event_message(shape: JSON, ws: Workspace, msg: Message, over: JSON | None = None) -> JSON:
    """A message inside an event (`message` / `previous_message`), in the fixture's shape, of `msg`."""
    out = copy.deepcopy(shape)
    out.pop("blocks", None)  # the stand-in's people write plain text
    out.update(type="message", user=msg.user, team=ws.team_id, ts=msg.ts, text=msg.text)
    if msg.thread_ts and msg.thread_ts != msg.ts:
        out["thread_ts"] = msg.thread_ts
    out.update(over or {})
    return out
