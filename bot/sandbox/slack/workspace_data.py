"""In-memory state of the Slack stand-in: workspaces, users, channels, messages, views, triggers, the record.

Everything here is plain data plus lookups; the HTTP layer (`api.py`, `control.py`) decides what is allowed.
All of it lives on the server's event loop thread, so no locking is needed.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Clock = Callable[[], float]
"""Wall-clock seconds since the epoch (Slack timestamps are epoch based)."""

JSON = dict[str, Any]


class ShiftableClock:
    """A clock that can be moved forward: `clock.advance(3.1)` expires every trigger minted before."""

    def __init__(self, base: Clock = time.time) -> None:
        self._base = base
        self.offset = 0.0

    def __call__(self) -> float:
        return self._base() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class SlackError(Exception):
    """A Web API answer with `ok: false` (HTTP 200 unless `status` says otherwise, like Slack)."""

    def __init__(
        self,
        error: str,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        messages: list[str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.headers = headers or {}
        self.messages = messages or []
        self.extra = extra

    def body(self) -> JSON:
        out: JSON = {"ok": False, "error": self.error, **self.extra}
        if self.messages:
            out["errors"] = list(self.messages)
            out["response_metadata"] = {"messages": [f"[ERROR] {m}" for m in self.messages]}
        return out


def make_id(prefix: str, *seed: str, length: int = 10) -> str:
    """A real-looking Slack id (`U…`, `C…`, `B…`), deterministic for a given seed."""
    digest = hashlib.sha256("\x1f".join(seed).encode()).digest()
    return prefix + base64.b32encode(digest).decode().rstrip("=")[:length]


def random_id(prefix: str, length: int = 10) -> str:
    return make_id(prefix, secrets.token_hex(8), length=length)


_FALLBACK_OFFSETS = {
    "America/New_York": -18000,
    "Europe/Berlin": 3600,
    "Asia/Tokyo": 32400,
    "America/Los_Angeles": -28800,
    "UTC": 0,
}


def tz_details(tz: str, now: float) -> tuple[str, int]:
    """(tz_label, tz_offset seconds) for an IANA zone at `now`, as `users.info` reports them."""
    try:
        local = datetime.fromtimestamp(now, ZoneInfo(tz))
    except (ZoneInfoNotFoundError, ValueError):
        return tz, _FALLBACK_OFFSETS.get(tz, 0)
    offset = local.utcoffset()
    return local.tzname() or tz, int(offset.total_seconds()) if offset else 0


@dataclass
class User:
    id: str
    team_id: str
    name: str
    real_name: str
    tz: str = "UTC"
    is_admin: bool = False
    is_owner: bool = False
    is_primary_owner: bool = False
    is_bot: bool = False
    bot_id: str | None = None
    deleted: bool = False
    email: str | None = None

    def to_api(self, now: float, *, include_locale: bool = False, include_email: bool = False) -> JSON:
        """As `users.info` shows it; `profile.email` only for a token with `users:read.email`."""
        label, offset = tz_details(self.tz, now)
        profile: JSON = {
            "real_name": self.real_name,
            "display_name": self.name,
            "real_name_normalized": self.real_name,
            "display_name_normalized": self.name,
            "team": self.team_id,
            "image_48": f"https://sandbox.slack.invalid/avatars/{self.id}_48.png",
        }
        if self.email and include_email:
            profile["email"] = self.email
        if self.bot_id:
            profile["bot_id"] = self.bot_id
        out: JSON = {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": self.real_name,
            "tz": self.tz,
            "tz_label": label,
            "tz_offset": offset,
            "profile": profile,
            "is_admin": self.is_admin,
            "is_owner": self.is_owner,
            "is_primary_owner": self.is_primary_owner,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": 1700000000,
        }
        if include_locale:
            out["locale"] = "en-US"
        return out


@dataclass
class Message:
    ts: str
    channel: str
    team_id: str
    user: str
    text: str
    blocks: list[JSON] = field(default_factory=list)
    bot_id: str | None = None
    app_id: str | None = None
    metadata: JSON | None = None
    thread_ts: str | None = None
    reply_broadcast: bool = False
    edited: JSON | None = None
    replies: list[Message] = field(default_factory=list)
    reactions: dict[str, list[str]] = field(default_factory=dict)
    deleted: bool = False

    @property
    def is_parent(self) -> bool:
        return self.thread_ts is None or self.thread_ts == self.ts

    def live_replies(self) -> list[Message]:
        return [r for r in self.replies if not r.deleted]

    def to_api(self, *, include_metadata: bool = False) -> JSON:
        """The message as `conversations.history`/`replies` return it."""
        if self.deleted:  # only a parent that still has replies is shown, as Slack's tombstone
            out: JSON = {
                "type": "message",
                "subtype": "tombstone",
                "text": "This message was deleted.",
                "user": "USLACKBOT",
                "hidden": True,
                "ts": self.ts,
                "thread_ts": self.ts,
            }
        else:
            out = {
                "type": "message",
                "user": self.user,
                "text": self.text,
                "ts": self.ts,
                "team": self.team_id,
            }
            if self.bot_id:
                out["bot_id"] = self.bot_id
                out["app_id"] = self.app_id
            if self.blocks:
                out["blocks"] = self.blocks
            if self.edited:
                out["edited"] = dict(self.edited)
            if self.reactions:
                out["reactions"] = [
                    {"name": n, "users": list(u), "count": len(u)} for n, u in self.reactions.items()
                ]
            if include_metadata and self.metadata is not None:
                out["metadata"] = self.metadata
            if self.thread_ts and not self.is_parent:
                out["thread_ts"] = self.thread_ts
                if self.reply_broadcast:
                    out["subtype"] = "thread_broadcast"
        replies = self.live_replies()
        if self.is_parent and replies:
            out["thread_ts"] = self.ts
            out["reply_count"] = len(replies)
            out["reply_users"] = sorted({r.user for r in replies})
            out["reply_users_count"] = len(out["reply_users"])
            out["latest_reply"] = replies[-1].ts
        return out

    def to_sandbox(self) -> JSON:
        """The inspection view (`GET /sandbox/slack/messages`): everything, replies nested."""
        out: JSON = {
            "ts": self.ts,
            "user": self.user,
            "bot_id": self.bot_id,
            "text": self.text,
            "blocks": self.blocks,
            "metadata": self.metadata,
            "edited": self.edited is not None,
            "reactions": {n: list(u) for n, u in self.reactions.items()},
        }
        if self.deleted:
            out.update(subtype="tombstone", text="This message was deleted.", blocks=[], metadata=None)
        if self.is_parent:
            out["replies"] = [r.to_sandbox() for r in self.live_replies()]
        else:
            out["thread_ts"] = self.thread_ts
            out["reply_broadcast"] = self.reply_broadcast
        return out


@dataclass
class Channel:
    id: str
    team_id: str
    name: str
    is_private: bool = False
    is_archived: bool = False
    is_general: bool = False
    is_im: bool = False  # the app's direct-message conversation with one person
    created: int = 1700000000
    creator: str = ""
    members: list[str] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    index: dict[str, Message] = field(default_factory=dict)
    # Slack Connect: the other organisations' team ids it is shared with, and those invited but not yet in
    shared_with: list[str] = field(default_factory=list)
    pending_with: list[str] = field(default_factory=list)

    def top_level(self) -> list[Message]:
        """Parents as they stand (a deleted parent stays as a tombstone while it has replies)."""
        return [m for m in self.messages if not m.deleted or m.live_replies()]

    def to_api(self, bot_user_id: str, *, include_num_members: bool = False) -> JSON:
        out: JSON = {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_im,
            "is_group": False,
            "is_im": self.is_im,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_general": self.is_general,
            "is_shared": bool(self.shared_with),
            "is_ext_shared": bool(self.shared_with),
            "is_org_shared": False,  # no Enterprise Grid here
            "is_pending_ext_shared": bool(self.pending_with) and not self.shared_with,
            "is_member": bot_user_id in self.members,
            "created": self.created,
            "creator": self.creator,
            "context_team_id": self.team_id,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }
        if self.shared_with or self.pending_with:
            out["conversation_host_id"] = self.team_id
            out["shared_team_ids"] = [self.team_id, *self.shared_with]
            out["internal_team_ids"] = []
            out["pending_shared"] = list(self.pending_with)
            out["pending_connected_team_ids"] = list(self.pending_with)
        if include_num_members:
            out["num_members"] = len(self.members)
        return out


@dataclass
class View:
    id: str
    team_id: str
    user: str
    app_id: str
    bot_id: str
    payload: JSON
    hash: str
    root_view_id: str
    previous_view_id: str | None = None

    @property
    def external_id(self) -> str:
        return str(self.payload.get("external_id") or "")

    def to_api(self) -> JSON:
        p = self.payload
        out: JSON = {
            "id": self.id,
            "team_id": self.team_id,
            "type": p["type"],
            "blocks": p.get("blocks", []),
            "private_metadata": p.get("private_metadata", ""),
            "callback_id": p.get("callback_id", ""),
            "state": {"values": {}},
            "hash": self.hash,
            "clear_on_close": bool(p.get("clear_on_close", False)),
            "notify_on_close": bool(p.get("notify_on_close", False)),
            "previous_view_id": self.previous_view_id,
            "root_view_id": self.root_view_id,
            "app_id": self.app_id,
            "external_id": self.external_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        if p["type"] == "modal":
            out["title"] = p["title"]
            out["close"] = p.get("close")
            out["submit"] = p.get("submit")
        return out


SEEDED_SCOPES = frozenset(
    {"commands", "chat:write", "channels:read", "groups:read", "channels:history", "groups:history",
     "users:read", "reactions:write"}
)  # fmt: skip
EMAIL_SCOPE = "users:read.email"


@dataclass
class Workspace:
    team_id: str
    name: str
    domain: str
    bot_token: str
    app_token: str
    signing_secret: str
    bot_user_id: str
    bot_id: str
    app_id: str
    users: dict[str, User] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    views: dict[str, View] = field(default_factory=dict)
    modal_stacks: dict[str, list[str]] = field(default_factory=dict)
    home_views: dict[str, str] = field(default_factory=dict)
    ephemerals: list[JSON] = field(default_factory=list)
    revoked: bool = False
    # The bot token's scopes. Only `users:read.email` changes an answer (emails in users.info/users.list);
    # a seeded workspace's app predates it, an OAuth install gets what it asked for.
    scopes: frozenset[str] = field(default_factory=lambda: SEEDED_SCOPES)

    def user(self, ref: str) -> User | None:
        """By id or by name (`alice`, `@alice`)."""
        if ref in self.users:
            return self.users[ref]
        name = ref.lstrip("@")
        return next((u for u in self.users.values() if u.name == name), None)

    def channel(self, ref: str) -> Channel | None:
        """By id, or by name (`general`, `#general`) for the control routes; the Web API uses ids only."""
        if ref in self.channels:
            return self.channels[ref]
        name = ref.lstrip("#")
        return next((c for c in self.channels.values() if c.name == name), None)

    def credentials(self) -> JSON:
        return {
            "team_id": self.team_id,
            "team": self.name,
            "domain": self.domain,
            "url": f"https://{self.domain}.slack.com/",
            "bot_token": self.bot_token,
            "app_token": self.app_token,
            "signing_secret": self.signing_secret,
            "bot_user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "users": {u.name: u.id for u in self.users.values() if not u.is_bot},
            "channels": {c.name: c.id for c in self.channels.values()},
        }


@dataclass
class Call:
    """One recorded Web API call."""

    method: str
    args: JSON
    team_id: str | None
    token_type: str | None
    time: float
    status: int = 200
    ok: bool = True
    error: str | None = None

    def to_json(self) -> JSON:
        return {
            "method": self.method,
            "args": self.args,
            "team_id": self.team_id,
            "token_type": self.token_type,
            "time": self.time,
            "status": self.status,
            "ok": self.ok,
            "error": self.error,
        }


@dataclass
class Trigger:
    id: str
    team_id: str
    user: str
    expires_at: float
    used: bool = False


@dataclass
class ResponseUrl:
    id: str
    team_id: str
    channel: str | None
    user: str | None
    message_ts: str | None
    expires_at: float
    uses: int = 0


@dataclass
class Token:
    team_id: str
    kind: str  # "bot" | "app"


class SlackState:
    """All workspaces plus the record of calls, triggers and response URLs."""

    TRIGGER_TTL = 3.0
    RESPONSE_URL_TTL = 30 * 60.0
    RESPONSE_URL_USES = 5

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.workspaces: dict[str, Workspace] = {}
        self.tokens: dict[str, Token] = {}
        self.calls: list[Call] = []
        self.triggers: dict[str, Trigger] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self.responses: list[JSON] = []
        self._last_ts_us = 0
        self._counter = 0

    # -- identities -----------------------------------------------------------------------------------------

    def add_workspace(self, ws: Workspace) -> Workspace:
        if ws.team_id in self.workspaces:
            raise ValueError(f"workspace {ws.team_id} exists")
        self.workspaces[ws.team_id] = ws
        self.tokens[ws.bot_token] = Token(ws.team_id, "bot")
        self.tokens[ws.app_token] = Token(ws.team_id, "app")
        return ws

    def workspace(self, team_id: str | None = None) -> Workspace:
        """The named workspace, or the first (default) one."""
        if team_id is None:
            return next(iter(self.workspaces.values()))
        ws = self.workspaces.get(team_id)
        if ws is None:
            raise KeyError(team_id)
        return ws

    # -- identifiers ----------------------------------------------------------------------------------------

    def next_ts(self) -> str:
        """A unique, increasing Slack timestamp (`1700000000.000100`) from the clock."""
        now_us = int(self.clock() * 1_000_000)
        self._last_ts_us = max(now_us, self._last_ts_us + 1)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def serial(self) -> int:
        self._counter += 1
        return self._counter

    def mint_trigger(self, team_id: str, user: str) -> Trigger:
        n = self.serial()
        trigger = Trigger(
            id=f"{int(self.clock() * 1000)}{n:04d}.{secrets.randbelow(10**10):010d}.{secrets.token_hex(16)}",
            team_id=team_id,
            user=user,
            expires_at=self.clock() + self.TRIGGER_TTL,
        )
        self.triggers[trigger.id] = trigger
        return trigger

    def mint_response_url(
        self, team_id: str, channel: str | None, user: str | None, message_ts: str | None
    ) -> ResponseUrl:
        ru = ResponseUrl(
            id=f"{team_id}-{self.serial()}-{secrets.token_hex(12)}",
            team_id=team_id,
            channel=channel,
            user=user,
            message_ts=message_ts,
            expires_at=self.clock() + self.RESPONSE_URL_TTL,
        )
        self.response_urls[ru.id] = ru
        return ru

    def record(self, call: Call) -> None:
        self.calls.append(call)
