"""Slack's side of an interaction, for `demo`: the payloads Slack sends an app, signed like Slack signs them.

The payloads come from `payloads.Payloads` — the same builder the test kit uses, over Slack's own payloads
(`fixtures/`). Ids, `trigger_id`s and `response_url`s come from a running stand-in through its control
routes, so the app under test can answer exactly as it would answer Slack. Signing uses slack-sdk's
`SignatureVerifier` over the exact bytes sent.

    slack = SlackActor("http://127.0.0.1:8001", app_url="http://127.0.0.1:3000")
    answer = slack.command("connect", user="bob", channel="support")   # → Interaction (ack, response_url)
    bodies = slack.answers(answer, count=1)                             # what the app posted to it
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from slack_sdk.signature import SignatureVerifier

from bot.sandbox.slack.payloads import Payloads, WorkspaceInfo

JSON = dict[str, Any]
EVENTS_PATH = "/slack/events"


class SlackActorError(Exception):
    """The stand-in or the app did not answer as Slack would expect (one line: what and why)."""


@dataclass(frozen=True)
class Interaction:
    """One request sent to the app: its acknowledgement and the response_url it may answer on."""

    status: int
    ack: JSON | None
    response_url: str | None

    @property
    def response_id(self) -> str | None:
        if self.response_url is None:
            return None
        return urllib.parse.urlsplit(self.response_url).path.rstrip("/").rsplit("/", 1)[-1]


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The two headers Slack adds to every request: `X-Slack-Request-Timestamp` and `X-Slack-Signature`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll until `predicate()` is truthy; raise `SlackActorError` naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SlackActorError(f"no {what} within {timeout:g} s")
        time.sleep(0.05)


class SlackActor:
    """Plays Slack (and the people in it) against an app, with a running stand-in as the workspace."""

    def __init__(self, standin_url: str, *, app_url: str, team_id: str | None = None, timeout: float = 10.0):
        self.standin_url = standin_url.rstrip("/")
        self.app_url = app_url.rstrip("/")
        self._http = httpx.Client(timeout=timeout)
        workspaces = self._get("/workspaces")["workspaces"]
        found = next((w for w in workspaces if team_id in (None, w["team_id"])), workspaces[0])
        self.default = WorkspaceInfo.from_json(found)
        self.payloads = Payloads(self)

    def close(self) -> None:
        self._http.close()

    # -- the workspace -------------------------------------------------------------------------------------

    def user_id(self, ref: str, team_id: str | None = None) -> str:
        return str(self.default.users.get(ref, ref))

    def channel_id(self, ref: str, team_id: str | None = None) -> str:
        return str(self.default.channels.get(ref.lstrip("#"), ref))

    def messages(self, channel: str, team_id: str | None = None) -> list[JSON]:
        """The channel's messages as they stand now, oldest first, replies nested under `replies`."""
        found: list[JSON] = self._get("/messages", channel=self.channel_id(channel))["messages"]
        return found

    def trigger(self, user: str = "alice", team_id: str | None = None) -> str:
        return str(self._post("/triggers", {"user": user, "team_id": self.default.team_id})["trigger_id"])

    def response_url(
        self,
        channel: str | None = None,
        user: str | None = None,
        message_ts: str | None = None,
        team_id: str | None = None,
    ) -> str:
        body = {"channel": channel, "user": user, "team_id": self.default.team_id, "message_ts": message_ts}
        return str(self._post("/response-urls", {k: v for k, v in body.items() if v})["response_url"])

    def post_as(self, user: str, channel: str, text: str, thread_ts: str | None = None) -> JSON:
        """A person writes in a channel (or in a thread of it)."""
        body = {"channel": self.channel_id(channel), "user": user, "text": text}
        if thread_ts:
            body["thread_ts"] = thread_ts
        return self._post("/messages", body)

    def modal(self, user: str) -> JSON | None:
        """The modal `user` has open now (top of their stack), if any."""
        data = self._get("/views", user=self.user_id(user))
        stack = data["modal_stacks"].get(self.user_id(user)) or []
        if not stack:
            return None
        top = stack[-1]
        if isinstance(top, dict):
            return top
        return next((v for v in data["views"] if v["id"] == top), None)

    def answers(self, interaction: Interaction, count: int = 1, timeout: float = 10.0) -> list[JSON]:
        """What the app posted to the interaction's response_url, once there are `count` posts."""
        rid = interaction.response_id
        if rid is None:
            raise SlackActorError("this interaction has no response_url")

        def mine() -> list[JSON]:
            return [r["body"] for r in self._get("/responses")["responses"] if r["id"] == rid]

        wait_for(lambda: len(mine()) >= count, timeout, "answer from the bot")
        return mine()

    # -- what Slack sends ------------------------------------------------------------------------------------

    def command(self, text: str, *, user: str, channel: str, command: str = "/thread-note") -> Interaction:
        """A slash command (flat form fields)."""
        fields = self.payloads.command(text, user=user, channel=channel, command=command)
        return self._send(urllib.parse.urlencode(fields).encode(), fields["response_url"])

    def message_shortcut(self, message: JSON, *, callback_id: str, user: str, channel: str) -> Interaction:
        """A message shortcut on `message` (as the stand-in lists it)."""
        payload = self.payloads.message_shortcut(message, callback_id=callback_id, user=user, channel=channel)
        return self._send_payload(payload, payload["response_url"])

    def click(self, button: JSON, *, user: str, channel: str, message: JSON | None = None) -> Interaction:
        """A click on a button the app posted (in `message`, or in an ephemeral answer)."""
        payload = self.payloads.block_action(
            button["action_id"],
            button.get("value"),
            block_id=button.get("block_id") or "b",
            user=user,
            channel=channel,
            message=message,
            ephemeral=message is None,
        )
        return self._send_payload(payload, payload["response_url"])

    def submit(self, view: JSON, values: JSON, *, user: str) -> Interaction:
        """Submits the modal `view` (as the app opened it) with `values` (`{block_id: {action_id: …}}`)."""
        return self._send_payload(self.payloads.view_submission(view, values, user=user), None)

    # -- plumbing --------------------------------------------------------------------------------------------

    def _send_payload(self, payload: JSON, response_url: str | None) -> Interaction:
        body = f"payload={urllib.parse.quote(json.dumps(payload))}".encode()
        return self._send(body, response_url)

    def _send(self, body: bytes, response_url: str | None) -> Interaction:
        headers = sign(self.default.signing_secret, body)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            response = self._http.post(self.app_url + EVENTS_PATH, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SlackActorError(f"the bot did not answer Slack's request ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise SlackActorError(f"the bot answered Slack's request with HTTP {response.status_code}")
        ack: JSON | None = None
        if response.content:
            if response.headers.get("content-type", "").startswith("application/json"):
                ack = dict(response.json())
            else:
                ack = {"text": response.text}
        return Interaction(response.status_code, ack, response_url)

    def _get(self, path: str, **params: Any) -> JSON:
        response = self._http.get(f"{self.standin_url}/sandbox/slack{path}", params=params)
        response.raise_for_status()
        data: JSON = response.json()
        return data

    def _post(self, path: str, body: JSON) -> JSON:
        response = self._http.post(f"{self.standin_url}/sandbox/slack{path}", json=body)
        if response.status_code >= 400:
            raise SlackActorError(f"the Slack stand-in refused {path}: {response.text[:200]}")
        data: JSON = response.json()
        return data
