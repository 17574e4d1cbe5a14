"""Typed RingCentral models for the Slack UI tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.ringcentral.models import Note, Thread

T0 = datetime(2025, 11, 3, 13, 5, tzinfo=UTC)  # Mon 3 Nov 2025, 13:05 UTC


def thread(
    id: str = "3f2a9c1e-8b7d-4e21-9a0b-5c6d7e8f9012",
    *,
    status: str = "Open",
    guest: str | None = "+16505550101",
    resource: str = "Sales Queue",
    assignee: str | None = "Ann Lee",
    label: str | None = None,
) -> Thread:
    data: dict[str, Any] = {
        "id": id,
        "status": status,
        "availability": "Alive",
        "owner": {"extensionId": "900", "name": resource},
        "creationTime": T0.isoformat(),
        "lastModifiedTime": T0.isoformat(),
        "guestParty": {"phoneNumber": guest},
        "label": label,
    }
    if assignee:
        data["assignee"] = {"extensionId": "101", "name": assignee}
    return Thread.model_validate(data)


def note(
    id: str = "n-000001",
    text: str = "Customer waits for pricing",
    *,
    author_id: str = "101",
    author: str = "Ann Lee",
    created: datetime = T0,
    edited_after: timedelta | None = None,
    thread_id: str = "3f2a9c1e-8b7d-4e21-9a0b-5c6d7e8f9012",
) -> Note:
    modified = created + edited_after if edited_after else created
    return Note.model_validate(
        {
            "id": id,
            "threadId": thread_id,
            "availability": "Alive",
            "creationTime": created.isoformat(),
            "lastModifiedTime": modified.isoformat(),
            "text": text,
            "author": {"extensionId": author_id, "name": author},
        }
    )
