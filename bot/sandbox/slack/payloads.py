"""The payloads Slack sends to an app, built from Slack's own (the real fixtures in `fixtures/`, from
bolt-python's tests; see `fixtures/README.md`) with a stand-in's ids, fresh `trigger_id`s and `response_url`s.

One builder serves the test kit (`tests/kit/slack.py`, which adds signing options and sending) and
`thread-note-bot demo` (`bot/sandbox/slack/requests.py`). It needs only what `StandinControl` names.
"""

from __future__ import annotations

import copy
import json
import secrets
import time
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Protocol

JSON = dict[str, Any]


def load_fixture(name: str) -> JSON:
    """A real Slack payload from `fixtures/` (a fresh copy)."""
    text = resources.files("bot.sandbox.slack").joinpath("fixtures", f"{name}.json").read_text()
    data: JSON = json.loads(text)
    return data


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


class StandinControl(Protocol):
    """What building payloads needs from a running stand-in (its control routes)."""

    @property
    def default(self) -> WorkspaceInfo: ...

    def user_id(self, ref: str, team_id: str | None = None) -> str: ...

    def channel_id(self, ref: str, team_id: str | None = None) -> str: ...

    def messages(self, channel: str, team_id: str | None = None) -> list[JSON]: ...

    def trigger(self, user: str = "alice", team_id: str | None = None) -> str: ...

    def response_url(
        self,
        channel: str | None = None,
        user: str | None = None,
        message_ts: str | None = None,
        team_id: str | None = None,
    ) -> str: ...


class Payloads:
    """The payloads Slack sends, built from the real fixtures with the stand-in's ids, triggers and URLs."""

    def __init__(self, standin: StandinControl, workspace: WorkspaceInfo | None = None) -> None:
        self.standin = standin
        self.ws = workspace or standin.default

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
