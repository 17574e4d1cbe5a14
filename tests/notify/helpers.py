"""Small helpers for the notification tests: a RingCentral handler writing notes over HTTP, reading what the
Slack stand-in shows, and a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.kit.bot import texts
from tests.kit.core import standin_client
from tests.kit.rc import RcSandbox
from tests.kit.slack import SlackStandin

MT = "/restapi/v1.0/account/~/message-threads"
SUPPORT_THREAD = "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c01"  # Support, customer +14155550142, assigned to Ana
SUPPORT_THREAD_2 = "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c02"  # Support, +12125550199, unassigned
SALES_THREAD = "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c03"  # Sales


class Clock:
    """Real time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


class Handler:
    """A RingCentral user acting through the real API (JWT sign-in), as in the RingCentral app."""

    def __init__(self, rc: RcSandbox, name: str) -> None:
        user = rc.user(name)
        self.extension_id = user.extension_id
        self.http = standin_client(rc.url)
        token = self.http.post(
            "/restapi/oauth/token",
            data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": user.jwt},
            auth=(rc.client_id, rc.client_secret),
        )
        token.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def add(self, thread_id: str, text: str) -> dict[str, Any]:
        response = self.http.post(f"{MT}/notes", json={"threadId": thread_id, "text": text})
        response.raise_for_status()
        return dict(response.json())

    def edit(self, note_id: str, text: str) -> dict[str, Any]:
        response = self.http.patch(f"{MT}/notes/{note_id}", json={"text": text})
        response.raise_for_status()
        return dict(response.json())

    def delete(self, note_id: str) -> None:
        self.http.request("DELETE", f"{MT}/notes", json={"ids": [note_id]}).raise_for_status()

    def close(self) -> None:
        self.http.close()


def all_messages(slack: SlackStandin, channel: str) -> list[dict[str, Any]]:
    """Top-level messages and their replies, flat."""
    out = []
    for message in slack.messages(slack.channel_id(channel)):
        out.append(message)
        out.extend(message.get("replies") or [])
    return out


def note_id_of(message: dict[str, Any]) -> str | None:
    payload = (message.get("metadata") or {}).get("event_payload") or {}
    return payload.get("note_id")


def with_note(slack: SlackStandin, channel: str, note_id: str) -> list[dict[str, Any]]:
    return [m for m in all_messages(slack, channel) if note_id_of(m) == note_id]


def shown(message: dict[str, Any]) -> str:
    return texts(message.get("blocks") or [])
